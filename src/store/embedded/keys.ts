// Keys in SQLite: one row per key, whose `doc` column holds the whole KeyRecord; the other
// columns exist only to be queried.
import { RevisionConflictError } from '../../core/errors';
import type { KeyRecord, KeyScope } from '../../core/model';
import { decodeMarker, encodeMarker } from '../../core/api/page-marker';
import type { KeyCount, KeyRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { keyCodec } from './codec';

/** Rows one step of countByStateAndSpec reads before it lets other work run. */
const COUNT_CHUNK = 250;
import { keyParams, scopeParams, type KeyParams, type ScopeParams, type SqliteConnection } from './connection';

interface KeyRow {
  doc: string;
}

/** Everything the keys table holds for one record. */
type KeyRowParams = KeyParams & { incomplete: 0 | 1; revision: number; updatedAt: number; doc: string };

/** Parsed records kept, by key, at most: enough for the keys a workload uses at once, bounded in memory. */
const CACHED_RECORDS = 1000;

/** Freezes a parsed record so that one shared between callers cannot be changed by any of them. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}

/**
 * The background jobs' queries over every key. Each one's WHERE terms repeat those of its partial
 * index (migrations.ts), so it reads only the few keys it can return; a test checks each plan.
 * Dates in the document are ISO-8601 UTC strings, which order like the instants they name, and
 * JSON true reads back from json_extract as the integer 1.
 */
export const backgroundJobQueries = {
  incomplete: `SELECT doc FROM keys WHERE incomplete = 1 AND updated_at < @before
     ORDER BY updated_at, account_id, region, key_id`,
  dueForDeletion: `SELECT doc FROM keys WHERE incomplete = 0 AND json_extract(doc, '$.state') = 'PendingDeletion'
       AND json_extract(doc, '$.deletionDate') <= @dueBy
     ORDER BY json_extract(doc, '$.deletionDate'), account_id, region, key_id`,
  dueForRotation: `SELECT doc FROM keys WHERE incomplete = 0 AND json_extract(doc, '$.state') = 'Enabled'
       AND json_extract(doc, '$.rotation.enabled') = 1
       AND json_extract(doc, '$.rotation.nextRotationDate') <= @dueBy
     ORDER BY json_extract(doc, '$.rotation.nextRotationDate'), account_id, region, key_id`,
  withPendingVersions: `SELECT doc FROM keys WHERE incomplete = 0 AND instr(doc, '"status":"PENDING"') > 0 AND EXISTS (
       SELECT 1 FROM json_each(keys.doc, '$.versions') AS version
       WHERE json_extract(version.value, '$.status') = 'PENDING' AND json_extract(version.value, '$.createdAt') < @before)
     ORDER BY account_id, region, key_id`,
  dueForImportUpkeep: `SELECT doc FROM keys WHERE incomplete = 0 AND json_extract(doc, '$.imported.upkeepAt') IS NOT NULL
       AND json_extract(doc, '$.imported.upkeepAt') <= @dueBy
     ORDER BY json_extract(doc, '$.imported.upkeepAt'), account_id, region, key_id`,
  withMultiRegionWork: `SELECT doc FROM keys WHERE incomplete = 0 AND json_extract(doc, '$.multiRegionWork.startedAt') IS NOT NULL
       AND json_extract(doc, '$.multiRegionWork.startedAt') < @before
     ORDER BY json_extract(doc, '$.multiRegionWork.startedAt'), account_id, region, key_id`,
} as const;

export class SqliteKeyRepository implements KeyRepository {
  /**
   * Parsed records by key, each valid for exactly one revision. A read asks the table for the
   * key's revision (an index lookup) and parses the document only when it moved, so a change
   * made by any process, through any instance, is seen by the next read.
   */
  private readonly parsed = new Map<string, KeyRecord>();

  constructor(private readonly db: SqliteConnection) {}

  async insert(key: KeyRecord): Promise<void> {
    this.db.insertUnique(
      `INSERT INTO keys (account_id, region, key_id, incomplete, revision, updated_at, doc)
       VALUES (@accountId, @region, @keyId, @incomplete, @revision, @updatedAt, @doc)`,
      keyRowParams(key, keyCodec.encode(key)),
      `key ${key.keyId}`,
    );
  }

  async get(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined> {
    const params = keyParams(scope, keyId);
    const cacheKey = `${scope.accountId}/${scope.region}/${keyId}`;
    const cached = this.parsed.get(cacheKey);
    if (cached) {
      const current = this.db.statement<[KeyParams], { revision: number }>(
        'SELECT revision FROM keys WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
      ).get(params);
      if (current?.revision === cached.revision) return cached;
      this.parsed.delete(cacheKey);
      if (!current) return undefined;
    }
    const row = this.db.statement<[KeyParams], KeyRow>(
      'SELECT doc FROM keys WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
    ).get(params);
    if (!row) return undefined;
    const record = deepFreeze(keyCodec.decode(row.doc));
    if (this.parsed.size >= CACHED_RECORDS) this.parsed.delete(this.parsed.keys().next().value!);
    this.parsed.set(cacheKey, record);
    return record;
  }

  async list(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('key', page.marker);
    const rows = this.db.statement<[ScopeParams & { after: string; limit: number }], KeyRow>(
      `SELECT doc FROM keys
       WHERE account_id = @accountId AND region = @region AND incomplete = 0 AND key_id > @after
       ORDER BY key_id LIMIT @limit`,
    ).all({ ...scopeParams(scope), after, limit: page.limit + 1 });
    return pageOf(rows, page.limit, (row) => keyCodec.decode(row.doc), (last) => encodeMarker('key', last.keyId));
  }

  async replace(key: KeyRecord): Promise<KeyRecord> {
    const doc = keyCodec.encode({ ...key, revision: key.revision + 1 });
    const stored = keyCodec.decode(doc);
    // Compare-and-set: the WHERE clause matches only if nobody has replaced the row since `key` was read.
    const result = this.db.statement<[KeyRowParams & { expectedRevision: number }]>(
      `UPDATE keys SET incomplete = @incomplete, revision = @revision, updated_at = @updatedAt, doc = @doc
       WHERE account_id = @accountId AND region = @region AND key_id = @keyId AND revision = @expectedRevision`,
    ).run({ ...keyRowParams(stored, doc), expectedRevision: key.revision });
    if (result.changes === 0) throw new RevisionConflictError(`key ${key.keyId}`);
    return stored;
  }

  /** Reaches into the aliases and grants tables on purpose: the cascade is one transaction. */
  async delete(scope: KeyScope, keyId: string): Promise<void> {
    const params = keyParams(scope, keyId);
    const deleteAliases = this.db.statement<[KeyParams]>(
      'DELETE FROM aliases WHERE account_id = @accountId AND region = @region AND target_key_id = @keyId',
    );
    const deleteGrants = this.db.statement<[KeyParams]>(
      'DELETE FROM grants WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
    );
    const deleteKey = this.db.statement<[KeyParams]>(
      'DELETE FROM keys WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
    );
    this.db.transaction(() => {
      deleteAliases.run(params);
      deleteGrants.run(params);
      deleteKey.run(params);
    });
  }

  async listIncomplete(before: Date): Promise<KeyRecord[]> {
    return this.all(backgroundJobQueries.incomplete, { before: before.getTime() });
  }

  async listDueForDeletion(dueBy: Date): Promise<KeyRecord[]> {
    return this.all(backgroundJobQueries.dueForDeletion, { dueBy: dueBy.toISOString() });
  }

  async listDueForRotation(dueBy: Date): Promise<KeyRecord[]> {
    return this.all(backgroundJobQueries.dueForRotation, { dueBy: dueBy.toISOString() });
  }

  async listWithPendingVersions(before: Date): Promise<KeyRecord[]> {
    return this.all(backgroundJobQueries.withPendingVersions, { before: before.toISOString() });
  }

  async listDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]> {
    return this.all(backgroundJobQueries.dueForImportUpkeep, { dueBy: dueBy.toISOString() });
  }

  async listRelated(accountId: string, keyId: string): Promise<KeyRecord[]> {
    // Only mrk- key ids have relatives in other regions, and the partial index holds just those;
    // any other key id is looked for in the account's rows.
    const indexed = keyId.startsWith('mrk-');
    return this.all(
      indexed
        ? `SELECT doc FROM keys INDEXED BY keys_by_account_and_key_id
           WHERE account_id = @accountId AND key_id = @keyId AND key_id LIKE 'mrk-%' ORDER BY region`
        : 'SELECT doc FROM keys WHERE account_id = @accountId AND key_id = @keyId ORDER BY region',
      { accountId, keyId },
    );
  }

  async listWithMultiRegionWork(before: Date): Promise<KeyRecord[]> {
    return this.all(backgroundJobQueries.withMultiRegionWork, { before: before.toISOString() });
  }

  async listInCustomKeyStore(scope: KeyScope, customKeyStoreId: string, limit: number): Promise<KeyRecord[]> {
    // customKeyStoreId lives only in the document; the index over that expression holds every key,
    // whenever it was written. Without statistics the planner would walk the primary key for the
    // ORDER BY instead, reading every key in the scope, so the index is named.
    return this.all(
      `SELECT doc FROM keys INDEXED BY keys_by_custom_key_store
       WHERE account_id = @accountId AND region = @region AND json_extract(doc, '$.customKeyStoreId') = @customKeyStoreId
       ORDER BY key_id LIMIT @limit`,
      { ...scopeParams(scope), customKeyStoreId, limit: Math.max(limit, 0) },
    );
  }

  async listEvery(after: (KeyScope & { keyId: string }) | undefined, limit: number): Promise<KeyRecord[]> {
    return this.all(
      `SELECT doc FROM keys WHERE (account_id, region, key_id) > (@accountId, @region, @keyId)
       ORDER BY account_id, region, key_id LIMIT @limit`,
      { accountId: after?.accountId ?? '', region: after?.region ?? '', keyId: after?.keyId ?? '', limit: Math.max(limit, 0) },
    );
  }

  /**
   * A scan of every key, in chunks of COUNT_CHUNK rows in primary-key order, yielding to the event
   * loop between chunks: better-sqlite3 runs on the event loop, and one pass over 50,000 keys
   * parses their documents for most of a second, which would stall every request meanwhile.
   */
  async countByStateAndSpec(): Promise<KeyCount[]> {
    const chunk = this.db.statement<[ScopeParams & { keyId: string; limit: number }], { accountId: string; region: string; keyId: string; state: KeyCount['state']; keySpec: KeyCount['keySpec'] }>(
      `SELECT account_id AS accountId, region, key_id AS keyId, json_extract(doc, '$.state') AS state, json_extract(doc, '$.keySpec') AS keySpec
       FROM keys WHERE incomplete = 0 AND (account_id, region, key_id) > (@accountId, @region, @keyId)
       ORDER BY account_id, region, key_id LIMIT @limit`,
    );
    const counts = new Map<string, KeyCount>();
    let after = { accountId: '', region: '', keyId: '' };
    for (;;) {
      const rows = chunk.all({ ...after, limit: COUNT_CHUNK });
      for (const { state, keySpec } of rows) {
        const name = `${state}/${keySpec}`;
        const entry = counts.get(name) ?? { state, keySpec, count: 0 };
        entry.count += 1;
        counts.set(name, entry);
      }
      if (rows.length < COUNT_CHUNK) break;
      const last = rows[rows.length - 1]!;
      after = { accountId: last.accountId, region: last.region, keyId: last.keyId };
      await new Promise((resolve) => setImmediate(resolve));
    }
    return [...counts.values()].sort((a, b) => (a.state < b.state ? -1 : a.state > b.state ? 1 : a.keySpec < b.keySpec ? -1 : a.keySpec > b.keySpec ? 1 : 0));
  }

  /** The keys a query over every scope selects, decoded. */
  private all<Params extends object>(source: string, params: Params): KeyRecord[] {
    return this.db.statement<[Params], KeyRow>(source).all(params).map((row) => keyCodec.decode(row.doc));
  }
}

function keyRowParams(key: KeyRecord, doc: string): KeyRowParams {
  return {
    ...keyParams(key, key.keyId),
    incomplete: key.incomplete ? 1 : 0,
    revision: key.revision,
    updatedAt: key.updatedAt.getTime(),
    doc,
  };
}
