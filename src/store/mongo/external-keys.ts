// The XKS proxy's external keys in MongoDB: one document per key, unique by key store prefix and
// external key id; status changes are one document update guarded by the revision.
import type { ExternalKeyRepository } from '../../core/ports';
import { RevisionConflictError } from '../../core/errors';
import type { ExternalKeyRecord } from '../../core/xks-proxy/external-key';
import { insertUnique, withoutId, type MongoConnection } from './connection';

export class MongoExternalKeyRepository implements ExternalKeyRepository {
  constructor(private readonly connection: MongoConnection) {}

  async insert(key: ExternalKeyRecord): Promise<void> {
    // A copy, because the driver writes the generated _id into the document it is given.
    await insertUnique(this.collection(), { ...key, backing: { ...key.backing }, usage: [...key.usage] }, `external key ${key.externalKeyId}`);
  }

  async get(keyStorePrefix: string, externalKeyId: string): Promise<ExternalKeyRecord | undefined> {
    const doc = await this.collection().findOne({ keyStorePrefix, externalKeyId });
    return doc ? withoutId(doc) : undefined;
  }

  async list(filter: { keyStorePrefix?: string }): Promise<ExternalKeyRecord[]> {
    const query = filter.keyStorePrefix === undefined ? {} : { keyStorePrefix: filter.keyStorePrefix };
    const docs = await this.collection().find(query).sort({ keyStorePrefix: 1, externalKeyId: 1 }).toArray();
    return docs.map(withoutId);
  }

  async replace(key: ExternalKeyRecord): Promise<ExternalKeyRecord> {
    const stored = await this.collection().findOneAndReplace(
      { keyStorePrefix: key.keyStorePrefix, externalKeyId: key.externalKeyId, revision: key.revision },
      { ...key, revision: key.revision + 1 },
      { returnDocument: 'after' },
    );
    if (!stored) throw new RevisionConflictError(`external key ${key.externalKeyId}`);
    return withoutId(stored);
  }

  async delete(keyStorePrefix: string, externalKeyId: string): Promise<boolean> {
    const result = await this.collection().deleteOne({ keyStorePrefix, externalKeyId });
    return result.deletedCount > 0;
  }

  private collection() {
    return this.connection.open().externalKeys;
  }
}
