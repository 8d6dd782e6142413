// Keys in MongoDB: one document per key, so every state change is one atomic document update
// guarded by the key's revision.
import type { Filter } from 'mongodb';
import { RevisionConflictError } from '../../core/errors';
import type { AliasRecord, KeyRecord, KeyScope, KeySpec, KeyState } from '../../core/model';
import { decodeMarker, encodeMarker } from '../../core/api/page-marker';
import type { KeyCount, KeyRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { inTransaction, insertUnique, keyFilter, keyGateId, scopeFilter, withoutId, type MongoConnection } from './connection';
import type { GrantDoc } from './grants';

export class MongoKeyRepository implements KeyRepository {
  constructor(private readonly connection: MongoConnection) {}

  async insert(key: KeyRecord): Promise<void> {
    // A copy, because the driver writes the generated _id into the document it is given.
    await insertUnique(this.collection(), { ...key }, `key ${key.keyId}`);
  }

  async get(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined> {
    const doc = await this.collection().findOne(keyFilter(scope, keyId));
    return doc ? withoutId(doc) : undefined;
  }

  async list(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>> {
    const filter: Filter<KeyRecord> = { ...scopeFilter(scope), incomplete: { $ne: true } };
    if (page.marker !== undefined) filter.keyId = { $gt: decodeMarker('key', page.marker) };
    const docs = await this.collection().find(filter).sort({ keyId: 1 }).limit(page.limit + 1).toArray();
    return pageOf(docs, page.limit, withoutId, (last) => encodeMarker('key', last.keyId));
  }

  async replace(key: KeyRecord): Promise<KeyRecord> {
    // Compare-and-set: the filter matches only if nobody has replaced the document since `key` was
    // read. Returning the document as stored also means the caller shares no objects with its input.
    const stored = await this.collection().findOneAndReplace(
      { ...keyFilter(key, key.keyId), revision: key.revision },
      { ...key, revision: key.revision + 1 },
      { returnDocument: 'after' },
    );
    if (!stored) throw new RevisionConflictError(`key ${key.keyId}`);
    return withoutId(stored);
  }

  /** Reaches into the aliases and grants collections on purpose: the cascade is one transaction where the server has them. */
  async delete(scope: KeyScope, keyId: string): Promise<void> {
    const { client, keys, aliases, grants, keyGates, supportsTransactions } = this.connection.open();
    const aliasFilter: Filter<AliasRecord> = { ...scopeFilter(scope), targetKeyId: keyId };
    const grantFilter: Filter<GrantDoc> = { ...scopeFilter(scope), keyId };
    if (supportsTransactions) {
      await inTransaction(client, { keys, aliases, grants, keyGates }, async (tx) => {
        await tx.aliases.deleteMany(aliasFilter);
        await tx.grants.deleteMany(grantFilter);
        await tx.keyGates.deleteOne({ _id: keyGateId(scope, keyId) });
        await tx.keys.deleteOne(keyFilter(scope, keyId));
      });
      return;
    }
    // A standalone server has no transactions. Aliases and grants go first: if we stop in
    // between, the key survives without them and a retried delete finishes the job, whereas
    // the other order could leave aliases and grants naming a key that no longer exists.
    await aliases.deleteMany(aliasFilter);
    await grants.deleteMany(grantFilter);
    await keyGates.deleteOne({ _id: keyGateId(scope, keyId) });
    await keys.deleteOne(keyFilter(scope, keyId));
  }

  async listIncomplete(before: Date): Promise<KeyRecord[]> {
    return this.all({ incomplete: true, updatedAt: { $lt: before } }, { updatedAt: 1 });
  }

  async listDueForDeletion(dueBy: Date): Promise<KeyRecord[]> {
    return this.all({ incomplete: { $ne: true }, state: 'PendingDeletion', deletionDate: { $lte: dueBy } }, { deletionDate: 1 });
  }

  async listDueForRotation(dueBy: Date): Promise<KeyRecord[]> {
    return this.all(
      { incomplete: { $ne: true }, state: 'Enabled', 'rotation.enabled': true, 'rotation.nextRotationDate': { $lte: dueBy } },
      { 'rotation.nextRotationDate': 1 },
    );
  }

  async listWithPendingVersions(before: Date): Promise<KeyRecord[]> {
    return this.all({ incomplete: { $ne: true }, versions: { $elemMatch: { status: 'PENDING', createdAt: { $lt: before } } } }, {});
  }

  async listDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]> {
    return this.all({ incomplete: { $ne: true }, 'imported.upkeepAt': { $lte: dueBy } }, { 'imported.upkeepAt': 1 });
  }

  async listRelated(accountId: string, keyId: string): Promise<KeyRecord[]> {
    const docs = await this.collection().find({ accountId, keyId }).sort({ region: 1 }).toArray();
    return docs.map(withoutId);
  }

  async listWithMultiRegionWork(before: Date): Promise<KeyRecord[]> {
    return this.all({ incomplete: { $ne: true }, 'multiRegionWork.startedAt': { $lt: before } }, {});
  }

  async listInCustomKeyStore(scope: KeyScope, customKeyStoreId: string, limit: number): Promise<KeyRecord[]> {
    // limit(0) would mean no limit at all.
    if (limit <= 0) return [];
    const docs = await this.collection().find({ ...scopeFilter(scope), customKeyStoreId }).sort({ keyId: 1 }).limit(limit).toArray();
    return docs.map(withoutId);
  }

  async listEvery(after: (KeyScope & { keyId: string }) | undefined, limit: number): Promise<KeyRecord[]> {
    if (limit <= 0) return [];
    const filter: Filter<KeyRecord> = after === undefined ? {} : {
      $or: [
        { accountId: { $gt: after.accountId } },
        { accountId: after.accountId, region: { $gt: after.region } },
        { accountId: after.accountId, region: after.region, keyId: { $gt: after.keyId } },
      ],
    };
    const docs = await this.collection().find(filter).sort({ accountId: 1, region: 1, keyId: 1 }).limit(limit).toArray();
    return docs.map(withoutId);
  }

  async countByStateAndSpec(): Promise<KeyCount[]> {
    const groups = await this.collection().aggregate<{ _id: { state: KeyState; keySpec: KeySpec }; count: number }>([
      { $match: { incomplete: { $ne: true } } },
      { $group: { _id: { state: '$state', keySpec: '$keySpec' }, count: { $sum: 1 } } },
      { $sort: { '_id.state': 1, '_id.keySpec': 1 } },
    ]).toArray();
    return groups.map(({ _id, count }) => ({ state: _id.state, keySpec: _id.keySpec, count }));
  }

  /** The keys a query over every scope selects, by `order` and then by scope and key id. */
  private async all(filter: Filter<KeyRecord>, order: Record<string, 1>): Promise<KeyRecord[]> {
    const docs = await this.collection()
      .find(filter)
      .sort({ ...order, accountId: 1, region: 1, keyId: 1 })
      .toArray();
    return docs.map(withoutId);
  }

  private collection() {
    return this.connection.open().keys;
  }
}
