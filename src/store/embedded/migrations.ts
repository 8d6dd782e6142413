// The embedded store's schema, as an ordered list of migrations and the runner that applies them.
import type Database from 'better-sqlite3';

/**
 * Schema migrations, applied in order. The row in schema_version counts how many have run.
 * Append new steps; never edit one that has shipped.
 */
export const migrations: readonly string[] = [
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
  // Leases: one row per named claim; expires_at in epoch milliseconds.
  `CREATE TABLE leases (
     name        TEXT    NOT NULL PRIMARY KEY,
     owner       TEXT    NOT NULL,
     expires_at  INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // The XKS proxy's external keys: the whole ExternalKeyRecord in `doc`, one row per key store
  // prefix and external key id.
  `CREATE TABLE external_keys (
     key_store_prefix  TEXT    NOT NULL,
     external_key_id   TEXT    NOT NULL,
     revision          INTEGER NOT NULL,
     doc               TEXT    NOT NULL,
     PRIMARY KEY (key_store_prefix, external_key_id)
   ) WITHOUT ROWID;`,
  // Custom key stores: the whole CustomKeyStoreRecord in `doc`, the rest only to be queried;
  // created_at in epoch milliseconds. Ids are unique in every scope, names in their scope.
  // Keys gain an index on their custom key store, over the document itself, so it covers every
  // key whenever it was written and needs no backfill.
  `CREATE TABLE custom_key_stores (
     custom_key_store_id  TEXT    NOT NULL PRIMARY KEY,
     account_id           TEXT    NOT NULL,
     region               TEXT    NOT NULL,
     name                 TEXT    NOT NULL,
     created_at           INTEGER NOT NULL,
     connection_state     TEXT    NOT NULL,
     cluster_id           TEXT,
     revision             INTEGER NOT NULL,
     doc                  TEXT    NOT NULL,
     UNIQUE (account_id, region, name)
   ) WITHOUT ROWID;
   CREATE INDEX custom_key_stores_by_creation ON custom_key_stores (account_id, region, created_at, custom_key_store_id);
   CREATE INDEX custom_key_stores_by_state ON custom_key_stores (connection_state);
   CREATE INDEX custom_key_stores_by_cluster ON custom_key_stores (cluster_id) WHERE cluster_id IS NOT NULL;
   CREATE INDEX keys_by_custom_key_store ON keys (account_id, region, json_extract(doc, '$.customKeyStoreId'), key_id)
     WHERE json_extract(doc, '$.customKeyStoreId') IS NOT NULL;`,
  // The background jobs' queries, indexed over the document, each partial to the few keys it
  // can return: without them every maintenance run parses every key (seconds at 100,000 keys,
  // with the event loop blocked). The queries in keys.ts repeat each WHERE term, which is what
  // lets SQLite use a partial index. A PENDING version is found through its JSON text (the codec
  // writes JSON.stringify's form); the query still checks the parsed versions.
  `CREATE INDEX keys_due_for_deletion ON keys (json_extract(doc, '$.deletionDate'))
     WHERE incomplete = 0 AND json_extract(doc, '$.state') = 'PendingDeletion';
   CREATE INDEX keys_due_for_rotation ON keys (json_extract(doc, '$.rotation.nextRotationDate'))
     WHERE incomplete = 0 AND json_extract(doc, '$.state') = 'Enabled' AND json_extract(doc, '$.rotation.enabled') = 1;
   CREATE INDEX keys_with_pending_version ON keys (account_id, region, key_id)
     WHERE incomplete = 0 AND instr(doc, '"status":"PENDING"') > 0;
   CREATE INDEX keys_due_for_import_upkeep ON keys (json_extract(doc, '$.imported.upkeepAt'))
     WHERE incomplete = 0 AND json_extract(doc, '$.imported.upkeepAt') IS NOT NULL;`,
  // The audit trail. One row per record, numbered without gaps; `event` is the CloudTrail event as
  // canonical JSON, the bytes the chain value covers, and the other columns only serve lookups.
  // event_time in epoch milliseconds. audit_head holds the last sequence and chain value even once
  // pruning has deleted that record, so the chain continues. Resource names get their own rows
  // (in the record's order) so LookupEvents ResourceName and GetKeyLastUsage use an index.
  `CREATE TABLE audit_records (
     sequence              INTEGER NOT NULL PRIMARY KEY,
     event_id              TEXT    NOT NULL UNIQUE,
     event_time            INTEGER NOT NULL,
     event_name            TEXT    NOT NULL,
     read_only             INTEGER NOT NULL CHECK (read_only IN (0, 1)),
     succeeded             INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
     username              TEXT,
     access_key_id         TEXT,
     event                 TEXT    NOT NULL,
     previous_chain_value  TEXT    NOT NULL,
     chain_value           TEXT    NOT NULL
   );
   CREATE INDEX audit_records_by_time ON audit_records (event_time);
   CREATE INDEX audit_records_by_event_name ON audit_records (event_name, sequence);
   CREATE INDEX audit_records_by_read_only ON audit_records (read_only, sequence);
   CREATE INDEX audit_records_by_username ON audit_records (username, sequence) WHERE username IS NOT NULL;
   CREATE INDEX audit_records_by_access_key_id ON audit_records (access_key_id, sequence) WHERE access_key_id IS NOT NULL;
   CREATE TABLE audit_resources (
     sequence       INTEGER NOT NULL,
     position       INTEGER NOT NULL,
     resource_name  TEXT    NOT NULL,
     PRIMARY KEY (sequence, position)
   ) WITHOUT ROWID;
   CREATE INDEX audit_resources_by_name ON audit_resources (resource_name, sequence);
   CREATE TABLE audit_head (
     id           INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
     sequence     INTEGER NOT NULL,
     chain_value  TEXT    NOT NULL
   );
   CREATE TABLE audit_digests (
     sequence   INTEGER NOT NULL,
     signed_at  INTEGER NOT NULL,
     doc        TEXT    NOT NULL
   );
   CREATE INDEX audit_digests_in_order ON audit_digests (sequence, signed_at);`,
  // Multi-Region keys: the members of a set share the account and the key id, one per region;
  // and the few keys with multi-Region work under way, for crash recovery.
  `CREATE INDEX keys_by_account_and_key_id ON keys (account_id, key_id) WHERE key_id LIKE 'mrk-%';
   CREATE INDEX keys_with_multi_region_work ON keys (json_extract(doc, '$.multiRegionWork.startedAt'))
     WHERE incomplete = 0 AND json_extract(doc, '$.multiRegionWork.startedAt') IS NOT NULL;`,
  // The audit trail's lookup index moves out of the append (audit-lookup-index.ts): the record
  // keeps its resource names in a column, and the lookup attributes go to one table built after
  // the append, up to audit_head.indexed_sequence (0 here: existing records are indexed by the
  // first catch-up).
  `ALTER TABLE audit_records ADD COLUMN resource_names TEXT NOT NULL DEFAULT '[]';
   UPDATE audit_records SET resource_names = (
     SELECT coalesce(json_group_array(resource_name), '[]')
       FROM (SELECT resource_name FROM audit_resources x WHERE x.sequence = audit_records.sequence ORDER BY x.position));
   DROP INDEX audit_records_by_time;
   DROP INDEX audit_records_by_event_name;
   DROP INDEX audit_records_by_read_only;
   DROP INDEX audit_records_by_username;
   DROP INDEX audit_records_by_access_key_id;
   DROP TABLE audit_resources;
   CREATE TABLE audit_lookup (
     attribute  TEXT    NOT NULL,
     value      TEXT    NOT NULL,
     sequence   INTEGER NOT NULL,
     PRIMARY KEY (attribute, value, sequence)
   ) WITHOUT ROWID;
   CREATE INDEX audit_lookup_by_sequence ON audit_lookup (sequence);
   ALTER TABLE audit_head ADD COLUMN indexed_sequence INTEGER NOT NULL DEFAULT 0;`,
];

export function migrate(db: Database.Database): void {
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
