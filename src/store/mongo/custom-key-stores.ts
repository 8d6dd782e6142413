// Custom key stores in MongoDB: one document per store, unique by id and by name in its scope;
// every change is one document replace guarded by the revision.
import type { Filter } from 'mongodb';
import { RevisionConflictError } from '../../core/errors';
import type { ConnectionState, CustomKeyStoreRecord, KeyScope } from '../../core/model';
import { decodeCustomKeyStoreMarker, encodeCustomKeyStoreMarker } from '../../core/api/page-marker';
import type { CustomKeyStoreRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { insertUnique, scopeFilter, unique, withoutId, type MongoConnection } from './connection';

/** Creation date, then id: the order of list() and of the queries over every scope. */
const CREATION_ORDER = { createdAt: 1, customKeyStoreId: 1 } as const;

export class MongoCustomKeyStoreRepository implements CustomKeyStoreRepository {
  constructor(private readonly connection: MongoConnection) {}

  async insert(store: CustomKeyStoreRecord): Promise<void> {
    // A copy, because the driver writes the generated _id into the document it is given.
    await insertUnique(this.collection(), { ...store }, duplicate(store));
  }

  async get(scope: KeyScope, customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const doc = await this.collection().findOne(storeFilter(scope, customKeyStoreId));
    return doc ? withoutId(doc) : undefined;
  }

  async getByName(scope: KeyScope, name: string): Promise<CustomKeyStoreRecord | undefined> {
    const doc = await this.collection().findOne({ ...scopeFilter(scope), name });
    return doc ? withoutId(doc) : undefined;
  }

  async list(scope: KeyScope, page: PageRequest): Promise<Page<CustomKeyStoreRecord>> {
    const query: Filter<CustomKeyStoreRecord> = scopeFilter(scope);
    if (page.marker !== undefined) {
      // Past the marker: created later, or at the same instant with a greater id.
      const after = decodeCustomKeyStoreMarker(page.marker);
      const createdAt = new Date(after.createdAt);
      query.$or = [
        { createdAt: { $gt: createdAt } },
        { createdAt, customKeyStoreId: { $gt: after.customKeyStoreId } },
      ];
    }
    const docs = await this.collection().find(query).sort(CREATION_ORDER).limit(page.limit + 1).toArray();
    return pageOf(docs, page.limit, withoutId, encodeCustomKeyStoreMarker);
  }

  async count(scope: KeyScope): Promise<number> {
    return this.collection().countDocuments(scopeFilter(scope));
  }

  async replace(store: CustomKeyStoreRecord): Promise<CustomKeyStoreRecord> {
    // Compare-and-set on the revision read; a rename onto a name taken in the scope meets the unique index.
    const stored = await unique(
      () => this.collection().findOneAndReplace(
        { ...storeFilter(store, store.customKeyStoreId), revision: store.revision },
        { ...store, revision: store.revision + 1 },
        { returnDocument: 'after' },
      ),
      duplicate(store),
    );
    if (!stored) throw new RevisionConflictError(`custom key store ${store.customKeyStoreId}`);
    return withoutId(stored);
  }

  async delete(scope: KeyScope, customKeyStoreId: string): Promise<boolean> {
    const result = await this.collection().deleteOne(storeFilter(scope, customKeyStoreId));
    return result.deletedCount > 0;
  }

  async findByClusterId(clusterId: string): Promise<CustomKeyStoreRecord[]> {
    const docs = await this.collection().find({ 'cloudHsm.clusterId': clusterId }).sort(CREATION_ORDER).toArray();
    return docs.map(withoutId);
  }

  async listInStates(states: readonly ConnectionState[]): Promise<CustomKeyStoreRecord[]> {
    const docs = await this.collection().find({ connectionState: { $in: [...states] } }).sort(CREATION_ORDER).toArray();
    return docs.map(withoutId);
  }

  private collection() {
    return this.connection.open().customKeyStores;
  }
}

function storeFilter(scope: KeyScope, customKeyStoreId: string): Filter<CustomKeyStoreRecord> {
  return { ...scopeFilter(scope), customKeyStoreId };
}

/** What a DuplicateRecordError names: the id or the name may be the one taken. */
function duplicate(store: CustomKeyStoreRecord): string {
  return `custom key store ${store.customKeyStoreId} or name ${JSON.stringify(store.name)}`;
}
