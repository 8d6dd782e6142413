// Aliases in SQLite: plain columns, one row per alias.
import type { AliasRecord, KeyScope } from '../../core/model';
import { decodeMarker, encodeMarker } from '../../core/api/page-marker';
import type { AliasRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { aliasCodec, type AliasRow } from './codec';
import { keyParams, scopeParams, type ScopeParams, type SqliteConnection } from './connection';

type AliasParams = ScopeParams & { aliasName: string };

export class SqliteAliasRepository implements AliasRepository {
  constructor(private readonly db: SqliteConnection) {}

  async insert(alias: AliasRecord): Promise<void> {
    this.insertSync(alias);
  }

  private insertSync(alias: AliasRecord): void {
    this.db.insertUnique(
      `INSERT INTO aliases (account_id, region, alias_name, target_key_id, created_at, updated_at)
       VALUES (@account_id, @region, @alias_name, @target_key_id, @created_at, @updated_at)`,
      aliasCodec.encode(alias),
      `alias ${alias.aliasName}`,
    );
  }

  async insertWithinLimit(alias: AliasRecord, perKeyLimit: number): Promise<boolean> {
    // BEGIN IMMEDIATE: the write lock is held from the count to the insert, against every process.
    return this.db.immediateTransaction(() => {
      if (this.countSync(alias, alias.targetKeyId) >= perKeyLimit) return false;
      this.insertSync(alias);
      return true;
    });
  }

  async get(scope: KeyScope, aliasName: string): Promise<AliasRecord | undefined> {
    const row = this.db.statement<[AliasParams], AliasRow>(
      'SELECT * FROM aliases WHERE account_id = @accountId AND region = @region AND alias_name = @aliasName',
    ).get({ ...scopeParams(scope), aliasName });
    return row && aliasCodec.decode(row);
  }

  async list(scope: KeyScope, filter: { keyId?: string }, page: PageRequest): Promise<Page<AliasRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('alias', page.marker);
    // A NULL @keyId turns the key filter off, so one statement serves both cases.
    const rows = this.db.statement<[ScopeParams & { after: string; limit: number; keyId: string | null }], AliasRow>(
      `SELECT * FROM aliases
       WHERE account_id = @accountId AND region = @region AND alias_name > @after
         AND (@keyId IS NULL OR target_key_id = @keyId)
       ORDER BY alias_name LIMIT @limit`,
    ).all({ ...scopeParams(scope), after, limit: page.limit + 1, keyId: filter.keyId ?? null });
    return pageOf(rows, page.limit, aliasCodec.decode, (last) => encodeMarker('alias', last.aliasName));
  }

  async update(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): Promise<boolean> {
    return this.updateSync(scope, aliasName, targetKeyId, now);
  }

  private updateSync(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date): boolean {
    const result = this.db.statement<[AliasParams & { targetKeyId: string; updatedAt: number }]>(
      `UPDATE aliases SET target_key_id = @targetKeyId, updated_at = @updatedAt
       WHERE account_id = @accountId AND region = @region AND alias_name = @aliasName`,
    ).run({ ...scopeParams(scope), aliasName, targetKeyId, updatedAt: now.getTime() });
    return result.changes > 0;
  }

  async moveWithinLimit(scope: KeyScope, aliasName: string, targetKeyId: string, now: Date, perKeyLimit: number): Promise<'moved' | 'notFound' | 'limitExceeded'> {
    return this.db.immediateTransaction(() => {
      const others = this.db.count(
        `SELECT COUNT(*) AS count FROM aliases
         WHERE account_id = @accountId AND region = @region AND target_key_id = @keyId AND alias_name <> @aliasName`,
        { ...keyParams(scope, targetKeyId), aliasName },
      );
      if (others >= perKeyLimit) return 'limitExceeded';
      return this.updateSync(scope, aliasName, targetKeyId, now) ? 'moved' : 'notFound';
    });
  }

  async delete(scope: KeyScope, aliasName: string): Promise<boolean> {
    const result = this.db.statement<[AliasParams]>(
      'DELETE FROM aliases WHERE account_id = @accountId AND region = @region AND alias_name = @aliasName',
    ).run({ ...scopeParams(scope), aliasName });
    return result.changes > 0;
  }

  async countForKey(scope: KeyScope, keyId: string): Promise<number> {
    return this.countSync(scope, keyId);
  }

  private countSync(scope: KeyScope, keyId: string): number {
    return this.db.count(
      'SELECT COUNT(*) AS count FROM aliases WHERE account_id = @accountId AND region = @region AND target_key_id = @keyId',
      keyParams(scope, keyId),
    );
  }
}
