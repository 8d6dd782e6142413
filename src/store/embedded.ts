// The embedded metadata store: one SQLite file, for a single machine. Each key is one row whose
// `doc` column holds the whole KeyRecord as JSON; the other columns exist only to be queried.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DuplicateRecordError, RevisionConflictError } from '../core/errors';
import type { AliasRecord, GrantRecord, ImportState, KeyRecord, KeyRotation, KeyScope, KeyVersion } from '../core/model';
import type { MetadataStore, Page, PageRequest } from '../core/ports';
import { decodeMarker, encodeMarker } from '../core/page-marker';

/**
 * Schema migrations, applied in order. The row in schema_version counts how many have run.
 * Append new steps; never edit one that has shipped.
 */
const migrations: readonly string[] = [
  `CREATE TABLE keys (
     account_id  TEXT    NOT NULL,
     region      TEXT    NOT NULL,
     key_id      TEXT    NOT NULL,
     incomplete  INTEGER NOT NULL CHECK (incomplete IN (0, 1)),
     revision    INTEGER NOT NULL,
     updated_at  INTEGER NOT NULL, -- epoch milliseconds, so comparisons are numeric
     doc         TEXT    NOT NULL,
     PRIMARY KEY (account_id, region, key_id)
   ) WITHOUT ROWID;
   CREATE INDEX keys_incomplete_by_update ON keys (updated_at) WHERE incomplete = 1;
   CREATE TABLE aliases (
     account_id     TEXT    NOT NULL,
     region         TEXT    NOT NULL,
     alias_name     TEXT    NOT NULL,
     target_key_id  TEXT    NOT NULL,
     created_at     INTEGER NOT NULL,
     updated_at     INTEGER NOT NULL,
     PRIMARY KEY (account_id, region, alias_name)
   ) WITHOUT ROWID;
   CREATE INDEX aliases_by_target ON aliases (account_id, region, target_key_id);`,
  // Grants: the whole GrantRecord in `doc`, the rest only to be queried. Grant ids and tokens
  // are unique in every scope.
  `CREATE TABLE grants (
     grant_id            TEXT    NOT NULL PRIMARY KEY,
     account_id          TEXT    NOT NULL,
     region              TEXT    NOT NULL,
     key_id              TEXT    NOT NULL,
     grant_token         TEXT    NOT NULL UNIQUE,
     grantee_principal   TEXT    NOT NULL,
     retiring_principal  TEXT,
     doc                 TEXT    NOT NULL
   );
   CREATE INDEX grants_by_key ON grants (account_id, region, key_id, grant_id);
   CREATE INDEX grants_by_retiring_principal ON grants (region, retiring_principal, grant_id)
     WHERE retiring_principal IS NOT NULL;`,
];

interface KeyRow {
  doc: string;
}

interface GrantRow {
  doc: string;
}

/** Everything the grants table holds for one record. */
interface GrantRowParams {
  grantId: string;
  accountId: string;
  region: string;
  keyId: string;
  grantToken: string;
  granteePrincipal: string;
  retiringPrincipal: string | null;
  doc: string;
}

interface AliasRow {
  account_id: string;
  region: string;
  alias_name: string;
  target_key_id: string;
  created_at: number;
  updated_at: number;
}

/** A KeyRecord as it sits in the `doc` column: JSON turns every Date into an ISO string. */
type SerializedVersion = Omit<KeyVersion, 'createdAt'> & { createdAt: string };
type SerializedRotation = Omit<KeyRotation, 'nextRotationDate' | 'history' | 'inProgress'> & {
  nextRotationDate?: string;
  history: (Omit<KeyRotation['history'][number], 'date'> & { date: string })[];
  inProgress: (Omit<KeyRotation['inProgress'][number], 'startedAt'> & { startedAt: string })[];
};
type SerializedImport = Omit<ImportState, 'validTo' | 'upkeepAt' | 'parameters' | 'retiredObjects'> & {
  validTo?: string;
  upkeepAt?: string;
  parameters: (Omit<ImportState['parameters'][number], 'createdAt' | 'validTo' | 'usedAt'> & { createdAt: string; validTo: string; usedAt?: string })[];
  retiredObjects: (Omit<ImportState['retiredObjects'][number], 'retiredAt'> & { retiredAt: string })[];
};
type SerializedKey = Omit<KeyRecord, 'createdAt' | 'updatedAt' | 'deletionDate' | 'versions' | 'rotation' | 'imported'> & {
  createdAt: string;
  updatedAt: string;
  deletionDate?: string;
  versions: SerializedVersion[];
  rotation?: SerializedRotation;
  imported?: SerializedImport;
};

interface ScopeParams {
  accountId: string;
  region: string;
}
type KeyParams = ScopeParams & { keyId: string };
type AliasParams = ScopeParams & { aliasName: string };
/** Everything the keys table holds for one record. */
type KeyRowParams = KeyParams & { incomplete: 0 | 1; revision: number; updatedAt: number; doc: string };

export class EmbeddedStore implements MetadataStore {
  private db: Database.Database | undefined;
  /** Prepared once per connection: preparing costs more than running most of these statements. */
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();

  constructor(private readonly filePath: string) {}

  async init(): Promise<void> {
    if (this.db) return;
    if (this.filePath !== ':memory:') mkdirSync(dirname(this.filePath), { recursive: true });
    const db = new Database(this.filePath, { timeout: 5000 });
    try {
      db.pragma('journal_mode = WAL');
      // FULL: a commit has reached the disk before it returns, so an acknowledged change survives power loss.
      db.pragma('synchronous = FULL');
      migrate(db);
    } catch (e) {
      db.close();
      throw e;
    }
    this.db = db;
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }

  async ping(): Promise<void> {
    this.statement('SELECT 1').get();
  }

  async insertKey(key: KeyRecord): Promise<void> {
    try {
      this.statement<[KeyRowParams]>(
        `INSERT INTO keys (account_id, region, key_id, incomplete, revision, updated_at, doc)
         VALUES (@accountId, @region, @keyId, @incomplete, @revision, @updatedAt, @doc)`,
      ).run(keyRowParams(key, JSON.stringify(key)));
    } catch (e) {
      throw isUniqueViolation(e) ? new DuplicateRecordError(`key ${key.keyId}`) : e;
    }
  }

  async getKey(scope: KeyScope, keyId: string): Promise<KeyRecord | undefined> {
    const row = this.statement<[KeyParams], KeyRow>(
      'SELECT doc FROM keys WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
    ).get(keyParams(scope, keyId));
    return row && parseKey(row.doc);
  }

  async listKeys(scope: KeyScope, page: PageRequest): Promise<Page<KeyRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('key', page.marker);
    // One row more than asked tells whether another page follows.
    const rows = this.statement<[ScopeParams & { after: string; limit: number }], KeyRow>(
      `SELECT doc FROM keys
       WHERE account_id = @accountId AND region = @region AND incomplete = 0 AND key_id > @after
       ORDER BY key_id LIMIT @limit`,
    ).all({ ...scopeParams(scope), after, limit: page.limit + 1 });
    const items = rows.slice(0, page.limit).map((row) => parseKey(row.doc));
    const last = items[items.length - 1];
    return rows.length > page.limit && last ? { items, nextMarker: encodeMarker('key', last.keyId) } : { items };
  }

  async replaceKey(key: KeyRecord): Promise<KeyRecord> {
    const doc = JSON.stringify({ ...key, revision: key.revision + 1 });
    const stored = parseKey(doc);
    // Compare-and-set: the WHERE clause matches only if nobody has replaced the row since `key` was read.
    const result = this.statement<[KeyRowParams & { expectedRevision: number }]>(
      `UPDATE keys SET incomplete = @incomplete, revision = @revision, updated_at = @updatedAt, doc = @doc
       WHERE account_id = @accountId AND region = @region AND key_id = @keyId AND revision = @expectedRevision`,
    ).run({ ...keyRowParams(stored, doc), expectedRevision: key.revision });
    if (result.changes === 0) throw new RevisionConflictError(`key ${key.keyId}`);
    return stored;
  }

  async deleteKey(scope: KeyScope, keyId: string): Promise<void> {
    const params = keyParams(scope, keyId);
    const deleteAliases = this.statement<[KeyParams]>(
      'DELETE FROM aliases WHERE account_id = @accountId AND region = @region AND target_key_id = @keyId',
    );
    const deleteGrants = this.statement<[KeyParams]>(
      'DELETE FROM grants WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
    );
    const deleteKey = this.statement<[KeyParams]>(
      'DELETE FROM keys WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
    );
    this.connection().transaction(() => {
      deleteAliases.run(params);
      deleteGrants.run(params);
      deleteKey.run(params);
    })();
  }

  async listIncompleteKeys(before: Date): Promise<KeyRecord[]> {
    return this.statement<[{ before: number }], KeyRow>(
      `SELECT doc FROM keys WHERE incomplete = 1 AND updated_at < @before
       ORDER BY updated_at, account_id, region, key_id`,
    ).all({ before: before.getTime() }).map((row) => parseKey(row.doc));
  }

  async listKeysDueForDeletion(dueBy: Date): Promise<KeyRecord[]> {
    // Dates in the document are ISO-8601 UTC strings, which order like the instants they name.
    return this.statement<[{ dueBy: string }], KeyRow>(
      `SELECT doc FROM keys WHERE incomplete = 0 AND json_extract(doc, '$.state') = 'PendingDeletion'
         AND json_extract(doc, '$.deletionDate') <= @dueBy
       ORDER BY json_extract(doc, '$.deletionDate'), account_id, region, key_id`,
    ).all({ dueBy: dueBy.toISOString() }).map((row) => parseKey(row.doc));
  }

  async listKeysDueForRotation(dueBy: Date): Promise<KeyRecord[]> {
    // JSON true reads back from json_extract as the integer 1.
    return this.statement<[{ dueBy: string }], KeyRow>(
      `SELECT doc FROM keys WHERE incomplete = 0 AND json_extract(doc, '$.state') = 'Enabled'
         AND json_extract(doc, '$.rotation.enabled') = 1
         AND json_extract(doc, '$.rotation.nextRotationDate') <= @dueBy
       ORDER BY json_extract(doc, '$.rotation.nextRotationDate'), account_id, region, key_id`,
    ).all({ dueBy: dueBy.toISOString() }).map((row) => parseKey(row.doc));
  }

  async listKeysWithPendingVersions(before: Date): Promise<KeyRecord[]> {
    return this.statement<[{ before: string }], KeyRow>(
      `SELECT doc FROM keys WHERE incomplete = 0 AND EXISTS (
         SELECT 1 FROM json_each(keys.doc, '$.versions') AS version
         WHERE json_extract(version.value, '$.status') = 'PENDING' AND json_extract(version.value, '$.createdAt') < @before)
       ORDER BY account_id, region, key_id`,
    ).all({ before: before.toISOString() }).map((row) => parseKey(row.doc));
  }

  async listKeysDueForImportUpkeep(dueBy: Date): Promise<KeyRecord[]> {
    return this.statement<[{ dueBy: string }], KeyRow>(
      `SELECT doc FROM keys WHERE incomplete = 0 AND json_extract(doc, '$.imported.upkeepAt') <= @dueBy
       ORDER BY json_extract(doc, '$.imported.upkeepAt'), account_id, region, key_id`,
    ).all({ dueBy: dueBy.toISOString() }).map((row) => parseKey(row.doc));
  }

  async insertAlias(alias: AliasRecord): Promise<void> {
    try {
      this.statement<[AliasRow]>(
        `INSERT INTO aliases (account_id, region, alias_name, target_key_id, created_at, updated_at)
         VALUES (@account_id, @region, @alias_name, @target_key_id, @created_at, @updated_at)`,
      ).run(aliasToRow(alias));
    } catch (e) {
      throw isUniqueViolation(e) ? new DuplicateRecordError(`alias ${alias.aliasName}`) : e;
    }
  }

  async getAlias(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined> {
    const row = this.statement<[AliasParams], AliasRow>(
      'SELECT * FROM aliases WHERE account_id = @accountId AND region = @region AND alias_name = @aliasName',
    ).get({ ...scopeParams(scope), aliasName });
    return row && aliasFromRow(row);
  }

  async listAliases(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('alias', page.marker);
    // A NULL @keyId turns the key filter off, so one statement serves both cases.
    const rows = this.statement<[ScopeParams & { after: string; limit: number; keyId: string | null }], AliasRow>(
      `SELECT * FROM aliases
       WHERE account_id = @accountId AND region = @region AND alias_name > @after
         AND (@keyId IS NULL OR target_key_id = @keyId)
       ORDER BY alias_name LIMIT @limit`,
    ).all({ ...scopeParams(scope), after, limit: page.limit + 1, keyId: filter.keyId ?? null });
    const items = rows.slice(0, page.limit).map(aliasFromRow);
    const last = items[items.length - 1];
    return rows.length > page.limit && last ? { items, nextMarker: encodeMarker('alias', last.aliasName) } : { items };
  }

  async updateAlias(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean> {
    const result = this.statement<[AliasParams & { targetKeyId: string; updatedAt: number }]>(
      `UPDATE aliases SET target_key_id = @targetKeyId, updated_at = @updatedAt
       WHERE account_id = @accountId AND region = @region AND alias_name = @aliasName`,
    ).run({ ...scopeParams(scope), aliasName, targetKeyId, updatedAt: now.getTime() });
    return result.changes > 0;
  }

  async deleteAlias(scope: KeyScope, aliasName: string): Promise<boolean> {
    const result = this.statement<[AliasParams]>(
      'DELETE FROM aliases WHERE account_id = @accountId AND region = @region AND alias_name = @aliasName',
    ).run({ ...scopeParams(scope), aliasName });
    return result.changes > 0;
  }

  async countAliasesForKey(scope: KeyScope, keyId: string): Promise<number> {
    const row = this.statement<[KeyParams], { count: number }>(
      'SELECT COUNT(*) AS count FROM aliases WHERE account_id = @accountId AND region = @region AND target_key_id = @keyId',
    ).get(keyParams(scope, keyId));
    return row?.count ?? 0;
  }

  async insertGrant(grant: GrantRecord): Promise<void> {
    try {
      this.statement<[GrantRowParams]>(
        `INSERT INTO grants (grant_id, account_id, region, key_id, grant_token, grantee_principal, retiring_principal, doc)
         VALUES (@grantId, @accountId, @region, @keyId, @grantToken, @granteePrincipal, @retiringPrincipal, @doc)`,
      ).run({
        grantId: grant.grantId,
        accountId: grant.accountId,
        region: grant.region,
        keyId: grant.keyId,
        grantToken: grant.grantToken,
        granteePrincipal: grant.granteePrincipal,
        retiringPrincipal: grant.retiringPrincipal ?? null,
        doc: JSON.stringify(grant),
      });
    } catch (e) {
      throw isUniqueViolation(e) ? new DuplicateRecordError(`grant ${grant.grantId}`) : e;
    }
  }

  async getGrant(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const row = this.statement<[KeyParams & { grantId: string }], GrantRow>(
      `SELECT doc FROM grants
       WHERE grant_id = @grantId AND account_id = @accountId AND region = @region AND key_id = @keyId`,
    ).get({ ...keyParams(scope, keyId), grantId });
    return row && parseGrant(row.doc);
  }

  async findGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const row = this.statement<[{ grantToken: string }], GrantRow>(
      'SELECT doc FROM grants WHERE grant_token = @grantToken',
    ).get({ grantToken });
    return row && parseGrant(row.doc);
  }

  async listGrants(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('grant', page.marker);
    // A NULL filter parameter turns that filter off, so one statement serves every combination.
    const rows = this.statement<[KeyParams & { after: string; limit: number; grantId: string | null; grantee: string | null }], GrantRow>(
      `SELECT doc FROM grants
       WHERE account_id = @accountId AND region = @region AND key_id = @keyId AND grant_id > @after
         AND (@grantId IS NULL OR grant_id = @grantId)
         AND (@grantee IS NULL OR grantee_principal = @grantee)
       ORDER BY grant_id LIMIT @limit`,
    ).all({
      ...keyParams(scope, keyId), after, limit: page.limit + 1,
      grantId: filter.grantId ?? null, grantee: filter.granteePrincipal ?? null,
    });
    return grantPage(rows, page.limit);
  }

  async listRetirableGrants(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('grant', page.marker);
    const rows = this.statement<[{ region: string; retiringPrincipal: string; after: string; limit: number }], GrantRow>(
      `SELECT doc FROM grants
       WHERE region = @region AND retiring_principal = @retiringPrincipal AND grant_id > @after
       ORDER BY grant_id LIMIT @limit`,
    ).all({ region, retiringPrincipal, after, limit: page.limit + 1 });
    return grantPage(rows, page.limit);
  }

  async deleteGrant(scope: KeyScope, keyId: string, grantId: string): Promise<boolean> {
    const result = this.statement<[KeyParams & { grantId: string }]>(
      `DELETE FROM grants
       WHERE grant_id = @grantId AND account_id = @accountId AND region = @region AND key_id = @keyId`,
    ).run({ ...keyParams(scope, keyId), grantId });
    return result.changes > 0;
  }

  async countGrantsForKey(scope: KeyScope, keyId: string): Promise<number> {
    const row = this.statement<[KeyParams], { count: number }>(
      'SELECT COUNT(*) AS count FROM grants WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
    ).get(keyParams(scope, keyId));
    return row?.count ?? 0;
  }

  private connection(): Database.Database {
    if (!this.db) throw new Error('EmbeddedStore is not open: call init() first');
    return this.db;
  }

  private statement<Params extends unknown[] = [], Row = unknown>(source: string): Database.Statement<Params, Row> {
    let statement = this.statements.get(source);
    if (!statement) {
      statement = this.connection().prepare(source);
      this.statements.set(source, statement);
    }
    // The cache erases parameter and row types; each call site states them next to its SQL.
    return statement as unknown as Database.Statement<Params, Row>;
  }
}

function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock up front, so two processes opening a new file cannot both migrate it.
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
    const applied = row?.version ?? 0;
    if (applied > migrations.length) {
      throw new Error(`metadata schema version ${applied} is newer than this build understands (${migrations.length})`);
    }
    for (const step of migrations.slice(applied)) db.exec(step);
    if (row) db.prepare('UPDATE schema_version SET version = ?').run(migrations.length);
    else db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migrations.length);
  }).immediate();
}

function scopeParams(scope: KeyScope): ScopeParams {
  return { accountId: scope.accountId, region: scope.region };
}

function keyParams(scope: KeyScope, keyId: string): KeyParams {
  return { ...scopeParams(scope), keyId };
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

// By code rather than instanceof: the error class differs when the driver module is loaded
// more than once (test runners, symlinked installs).
function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function parseKey(doc: string): KeyRecord {
  const { createdAt, updatedAt, deletionDate, versions, rotation, imported, ...rest } = JSON.parse(doc) as SerializedKey;
  return {
    ...rest,
    createdAt: new Date(createdAt),
    updatedAt: new Date(updatedAt),
    ...(deletionDate === undefined ? {} : { deletionDate: new Date(deletionDate) }),
    versions: versions.map((version) => ({ ...version, createdAt: new Date(version.createdAt) })),
    ...(rotation === undefined ? {} : { rotation: parseRotation(rotation) }),
    ...(imported === undefined ? {} : { imported: parseImported(imported) }),
  };
}

function parseImported({ validTo, upkeepAt, parameters, retiredObjects, ...rest }: SerializedImport): ImportState {
  return {
    ...rest,
    ...(validTo === undefined ? {} : { validTo: new Date(validTo) }),
    ...(upkeepAt === undefined ? {} : { upkeepAt: new Date(upkeepAt) }),
    parameters: parameters.map(({ createdAt, validTo: until, usedAt, ...p }) => ({
      ...p, createdAt: new Date(createdAt), validTo: new Date(until), ...(usedAt === undefined ? {} : { usedAt: new Date(usedAt) }),
    })),
    retiredObjects: retiredObjects.map((o) => ({ ...o, retiredAt: new Date(o.retiredAt) })),
  };
}

function parseRotation({ nextRotationDate, history, inProgress, ...rest }: SerializedRotation): KeyRotation {
  return {
    ...rest,
    ...(nextRotationDate === undefined ? {} : { nextRotationDate: new Date(nextRotationDate) }),
    history: history.map((entry) => ({ ...entry, date: new Date(entry.date) })),
    inProgress: inProgress.map((entry) => ({ ...entry, startedAt: new Date(entry.startedAt) })),
  };
}

/** A GrantRecord as it sits in the `doc` column. */
type SerializedGrant = Omit<GrantRecord, 'createdAt'> & { createdAt: string };

function parseGrant(doc: string): GrantRecord {
  const { createdAt, ...rest } = JSON.parse(doc) as SerializedGrant;
  return { ...rest, createdAt: new Date(createdAt) };
}

/** One row more than the limit was fetched: it tells whether another page follows. */
function grantPage(rows: GrantRow[], limit: number): Page<GrantRecord> {
  const items = rows.slice(0, limit).map((row) => parseGrant(row.doc));
  const last = items[items.length - 1];
  return rows.length > limit && last ? { items, nextMarker: encodeMarker('grant', last.grantId) } : { items };
}

function aliasToRow(alias: AliasRecord): AliasRow {
  return {
    account_id: alias.accountId,
    region: alias.region,
    alias_name: alias.aliasName,
    target_key_id: alias.targetKeyId,
    created_at: alias.createdAt.getTime(),
    updated_at: alias.updatedAt.getTime(),
  };
}

function aliasFromRow(row: AliasRow): AliasRecord {
  return {
    accountId: row.account_id,
    region: row.region,
    aliasName: row.alias_name,
    targetKeyId: row.target_key_id,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
