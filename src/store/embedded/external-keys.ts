// The XKS proxy's external keys in SQLite: one row per key, the whole record in `doc`.
import { RevisionConflictError } from '../../core/errors';
import type { ExternalKeyRepository } from '../../core/ports';
import type { ExternalKeyRecord } from '../../core/xks-proxy/external-key';
import { externalKeyCodec } from './codec';
import type { SqliteConnection } from './connection';

interface ExternalKeyParams {
  keyStorePrefix: string;
  externalKeyId: string;
}

export class SqliteExternalKeyRepository implements ExternalKeyRepository {
  constructor(private readonly db: SqliteConnection) {}

  async insert(key: ExternalKeyRecord): Promise<void> {
    this.db.insertUnique(
      `INSERT INTO external_keys (key_store_prefix, external_key_id, revision, doc)
       VALUES (@keyStorePrefix, @externalKeyId, @revision, @doc)`,
      { keyStorePrefix: key.keyStorePrefix, externalKeyId: key.externalKeyId, revision: key.revision, doc: externalKeyCodec.encode(key) },
      `external key ${key.externalKeyId}`,
    );
  }

  async get(keyStorePrefix: string, externalKeyId: string): Promise<ExternalKeyRecord | undefined> {
    const row = this.db.statement<[ExternalKeyParams], { doc: string }>(
      'SELECT doc FROM external_keys WHERE key_store_prefix = @keyStorePrefix AND external_key_id = @externalKeyId',
    ).get({ keyStorePrefix, externalKeyId });
    return row && externalKeyCodec.decode(row.doc);
  }

  async list(filter: { keyStorePrefix?: string }): Promise<ExternalKeyRecord[]> {
    // A NULL @keyStorePrefix turns the filter off, so one statement serves both cases.
    const rows = this.db.statement<[{ keyStorePrefix: string | null }], { doc: string }>(
      `SELECT doc FROM external_keys WHERE (@keyStorePrefix IS NULL OR key_store_prefix = @keyStorePrefix)
       ORDER BY key_store_prefix, external_key_id`,
    ).all({ keyStorePrefix: filter.keyStorePrefix ?? null });
    return rows.map((row) => externalKeyCodec.decode(row.doc));
  }

  async replace(key: ExternalKeyRecord): Promise<ExternalKeyRecord> {
    const doc = externalKeyCodec.encode({ ...key, revision: key.revision + 1 });
    // Compare-and-set on the revision read.
    const result = this.db.statement<[ExternalKeyParams & { revision: number; expectedRevision: number; doc: string }]>(
      `UPDATE external_keys SET revision = @revision, doc = @doc
       WHERE key_store_prefix = @keyStorePrefix AND external_key_id = @externalKeyId AND revision = @expectedRevision`,
    ).run({ keyStorePrefix: key.keyStorePrefix, externalKeyId: key.externalKeyId, revision: key.revision + 1, expectedRevision: key.revision, doc });
    if (result.changes === 0) throw new RevisionConflictError(`external key ${key.externalKeyId}`);
    return externalKeyCodec.decode(doc);
  }

  async delete(keyStorePrefix: string, externalKeyId: string): Promise<boolean> {
    const result = this.db.statement<[ExternalKeyParams]>(
      'DELETE FROM external_keys WHERE key_store_prefix = @keyStorePrefix AND external_key_id = @externalKeyId',
    ).run({ keyStorePrefix, externalKeyId });
    return result.changes > 0;
  }
}
