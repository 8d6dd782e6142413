// Custom key stores in SQLite: one row per store, whose `doc` column holds the whole
// CustomKeyStoreRecord; the other columns exist only to be queried and to keep ids and names
// (per scope) unique.
import { RevisionConflictError } from '../../core/errors';
import type { ConnectionState, CustomKeyStoreRecord, KeyScope } from '../../core/model';
import { decodeCustomKeyStoreMarker, encodeCustomKeyStoreMarker } from '../../core/api/page-marker';
import type { CustomKeyStoreRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { customKeyStoreCodec } from './codec';
import { scopeParams, type ScopeParams, type SqliteConnection } from './connection';

interface CustomKeyStoreRow {
  doc: string;
}

type StoreParams = ScopeParams & { customKeyStoreId: string };

/** Everything the custom_key_stores table holds for one record. */
type StoreRowParams = StoreParams & {
  name: string;
  createdAt: number;
  connectionState: ConnectionState;
  clusterId: string | null;
  revision: number;
  doc: string;
};

export class SqliteCustomKeyStoreRepository implements CustomKeyStoreRepository {
  constructor(private readonly db: SqliteConnection) {}

  async insert(store: CustomKeyStoreRecord): Promise<void> {
    this.db.insertUnique(
      `INSERT INTO custom_key_stores
         (custom_key_store_id, account_id, region, name, created_at, connection_state, cluster_id, revision, doc)
       VALUES (@customKeyStoreId, @accountId, @region, @name, @createdAt, @connectionState, @clusterId, @revision, @doc)`,
      storeRowParams(store, customKeyStoreCodec.encode(store)),
      duplicate(store),
    );
  }

  async get(scope: KeyScope, customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined> {
    const row = this.db.statement<[StoreParams], CustomKeyStoreRow>(
      `SELECT doc FROM custom_key_stores
       WHERE custom_key_store_id = @customKeyStoreId AND account_id = @accountId AND region = @region`,
    ).get({ ...scopeParams(scope), customKeyStoreId });
    return row && customKeyStoreCodec.decode(row.doc);
  }

  async getByName(scope: KeyScope, name: string): Promise<CustomKeyStoreRecord | undefined> {
    const row = this.db.statement<[ScopeParams & { name: string }], CustomKeyStoreRow>(
      'SELECT doc FROM custom_key_stores WHERE account_id = @accountId AND region = @region AND name = @name',
    ).get({ ...scopeParams(scope), name });
    return row && customKeyStoreCodec.decode(row.doc);
  }

  async list(scope: KeyScope, page: PageRequest): Promise<Page<CustomKeyStoreRecord>> {
    // Past the marker: created later, or at the same instant with a greater id. Without a marker
    // @afterId is NULL, which turns that condition off, so one statement serves both cases.
    const after = page.marker === undefined ? undefined : decodeCustomKeyStoreMarker(page.marker);
    const rows = this.db.statement<[ScopeParams & { afterCreatedAt: number | null; afterId: string | null; limit: number }], CustomKeyStoreRow>(
      `SELECT doc FROM custom_key_stores
       WHERE account_id = @accountId AND region = @region
         AND (@afterId IS NULL OR created_at > @afterCreatedAt
              OR (created_at = @afterCreatedAt AND custom_key_store_id > @afterId))
       ORDER BY created_at, custom_key_store_id LIMIT @limit`,
    ).all({
      ...scopeParams(scope),
      afterCreatedAt: after?.createdAt ?? null,
      afterId: after?.customKeyStoreId ?? null,
      limit: page.limit + 1,
    });
    return pageOf(rows, page.limit, (row) => customKeyStoreCodec.decode(row.doc), encodeCustomKeyStoreMarker);
  }

  async count(scope: KeyScope): Promise<number> {
    return this.db.count(
      'SELECT COUNT(*) AS count FROM custom_key_stores WHERE account_id = @accountId AND region = @region',
      scopeParams(scope),
    );
  }

  async replace(store: CustomKeyStoreRecord): Promise<CustomKeyStoreRecord> {
    const doc = customKeyStoreCodec.encode({ ...store, revision: store.revision + 1 });
    const stored = customKeyStoreCodec.decode(doc);
    // Compare-and-set on the revision read; a rename onto a name taken in the scope breaks the UNIQUE constraint.
    const result = this.db.runUnique(
      `UPDATE custom_key_stores
       SET name = @name, created_at = @createdAt, connection_state = @connectionState, cluster_id = @clusterId,
           revision = @revision, doc = @doc
       WHERE custom_key_store_id = @customKeyStoreId AND account_id = @accountId AND region = @region
         AND revision = @expectedRevision`,
      { ...storeRowParams(stored, doc), expectedRevision: store.revision },
      duplicate(store),
    );
    if (result.changes === 0) throw new RevisionConflictError(`custom key store ${store.customKeyStoreId}`);
    return stored;
  }

  async delete(scope: KeyScope, customKeyStoreId: string): Promise<boolean> {
    const result = this.db.statement<[StoreParams]>(
      `DELETE FROM custom_key_stores
       WHERE custom_key_store_id = @customKeyStoreId AND account_id = @accountId AND region = @region`,
    ).run({ ...scopeParams(scope), customKeyStoreId });
    return result.changes > 0;
  }

  async findByClusterId(clusterId: string): Promise<CustomKeyStoreRecord[]> {
    return this.all(
      `SELECT doc FROM custom_key_stores WHERE cluster_id = @clusterId
       ORDER BY created_at, custom_key_store_id`,
      { clusterId },
    );
  }

  async listInStates(states: readonly ConnectionState[]): Promise<CustomKeyStoreRecord[]> {
    // The states as one JSON array parameter, so one prepared statement serves any number of them.
    return this.all(
      `SELECT doc FROM custom_key_stores WHERE connection_state IN (SELECT value FROM json_each(@states))
       ORDER BY created_at, custom_key_store_id`,
      { states: JSON.stringify(states) },
    );
  }

  /** The stores a query over every scope selects, decoded. */
  private all<Params extends object>(source: string, params: Params): CustomKeyStoreRecord[] {
    return this.db.statement<[Params], CustomKeyStoreRow>(source).all(params).map((row) => customKeyStoreCodec.decode(row.doc));
  }
}

function storeRowParams(store: CustomKeyStoreRecord, doc: string): StoreRowParams {
  return {
    ...scopeParams(store),
    customKeyStoreId: store.customKeyStoreId,
    name: store.name,
    createdAt: store.createdAt.getTime(),
    connectionState: store.connectionState,
    clusterId: store.cloudHsm?.clusterId ?? null,
    revision: store.revision,
    doc,
  };
}

/** What a DuplicateRecordError names: the id or the name may be the one taken. */
function duplicate(store: CustomKeyStoreRecord): string {
  return `custom key store ${store.customKeyStoreId} or name ${JSON.stringify(store.name)}`;
}
