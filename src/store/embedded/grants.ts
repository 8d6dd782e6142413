// Grants in SQLite: one row per grant, whose `doc` column holds the whole GrantRecord; the other
// columns exist only to be queried.
import type { GrantRecord, KeyScope } from '../../core/model';
import { decodeMarker, encodeMarker } from '../../core/api/page-marker';
import type { GrantRepository, Page, PageRequest } from '../../core/ports';
import { pageOf } from '../page';
import { grantCodec } from './codec';
import { keyParams, type KeyParams, type SqliteConnection } from './connection';

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

export class SqliteGrantRepository implements GrantRepository {
  constructor(private readonly db: SqliteConnection) {}

  async insert(grant: GrantRecord): Promise<void> {
    this.insertSync(grant);
  }

  private insertSync(grant: GrantRecord): void {
    this.db.insertUnique<GrantRowParams>(
      `INSERT INTO grants (grant_id, account_id, region, key_id, grant_token, grantee_principal, retiring_principal, doc)
       VALUES (@grantId, @accountId, @region, @keyId, @grantToken, @granteePrincipal, @retiringPrincipal, @doc)`,
      {
        grantId: grant.grantId,
        accountId: grant.accountId,
        region: grant.region,
        keyId: grant.keyId,
        grantToken: grant.grantToken,
        granteePrincipal: grant.granteePrincipal,
        retiringPrincipal: grant.retiringPrincipal ?? null,
        doc: grantCodec.encode(grant),
      },
      `grant ${grant.grantId}`,
    );
  }

  async insertWithinLimit(grant: GrantRecord, perKeyLimit: number): Promise<boolean> {
    // BEGIN IMMEDIATE: the write lock is held from the count to the insert, against every process.
    return this.db.immediateTransaction(() => {
      if (this.countSync(grant, grant.keyId) >= perKeyLimit) return false;
      this.insertSync(grant);
      return true;
    });
  }

  async get(scope: KeyScope, keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const row = this.db.statement<[KeyParams & { grantId: string }], GrantRow>(
      `SELECT doc FROM grants
       WHERE grant_id = @grantId AND account_id = @accountId AND region = @region AND key_id = @keyId`,
    ).get({ ...keyParams(scope, keyId), grantId });
    return row && grantCodec.decode(row.doc);
  }

  async findByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const row = this.db.statement<[{ grantToken: string }], GrantRow>(
      'SELECT doc FROM grants WHERE grant_token = @grantToken',
    ).get({ grantToken });
    return row && grantCodec.decode(row.doc);
  }

  async list(
    scope: KeyScope, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, page: PageRequest,
  ): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('grant', page.marker);
    // A NULL filter parameter turns that filter off, so one statement serves every combination.
    const rows = this.db.statement<[KeyParams & { after: string; limit: number; grantId: string | null; grantee: string | null }], GrantRow>(
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

  async listRetirable(region: string, retiringPrincipal: string, page: PageRequest): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('grant', page.marker);
    const rows = this.db.statement<[{ region: string; retiringPrincipal: string; after: string; limit: number }], GrantRow>(
      `SELECT doc FROM grants
       WHERE region = @region AND retiring_principal = @retiringPrincipal AND grant_id > @after
       ORDER BY grant_id LIMIT @limit`,
    ).all({ region, retiringPrincipal, after, limit: page.limit + 1 });
    return grantPage(rows, page.limit);
  }

  async delete(scope: KeyScope, keyId: string, grantId: string): Promise<boolean> {
    const result = this.db.statement<[KeyParams & { grantId: string }]>(
      `DELETE FROM grants
       WHERE grant_id = @grantId AND account_id = @accountId AND region = @region AND key_id = @keyId`,
    ).run({ ...keyParams(scope, keyId), grantId });
    return result.changes > 0;
  }

  async countForKey(scope: KeyScope, keyId: string): Promise<number> {
    return this.countSync(scope, keyId);
  }

  private countSync(scope: KeyScope, keyId: string): number {
    return this.db.count(
      'SELECT COUNT(*) AS count FROM grants WHERE account_id = @accountId AND region = @region AND key_id = @keyId',
      keyParams(scope, keyId),
    );
  }
}

function grantPage(rows: GrantRow[], limit: number): Page<GrantRecord> {
  return pageOf(rows, limit, (row) => grantCodec.decode(row.doc), (last) => encodeMarker('grant', last.grantId));
}
