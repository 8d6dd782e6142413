// Leases in SQLite: one row per name. An upsert whose update applies only when the row is the
// owner's or has expired makes taking a lease one atomic statement.
import type { Lease, LeaseRepository } from '../../core/ports';
import type { SqliteConnection } from './connection';

interface LeaseRow {
  name: string;
  owner: string;
  expires_at: number;
}

export class SqliteLeaseRepository implements LeaseRepository {
  constructor(private readonly db: SqliteConnection) {}

  async acquire(name: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    const result = this.db.statement<[{ name: string; owner: string; now: number; expiresAt: number }]>(
      `INSERT INTO leases (name, owner, expires_at) VALUES (@name, @owner, @expiresAt)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE leases.owner = excluded.owner OR leases.expires_at <= @now`,
    ).run({ name, owner, now: now.getTime(), expiresAt: now.getTime() + ttlMs });
    return result.changes > 0;
  }

  async release(name: string, owner: string): Promise<void> {
    this.db.statement<[{ name: string; owner: string }]>('DELETE FROM leases WHERE name = @name AND owner = @owner').run({ name, owner });
  }

  async listLive(prefix: string, now: Date): Promise<Lease[]> {
    const rows = this.db.statement<[{ prefix: string; now: number }], LeaseRow>(
      `SELECT name, owner, expires_at FROM leases WHERE substr(name, 1, length(@prefix)) = @prefix AND expires_at > @now ORDER BY name`,
    ).all({ prefix, now: now.getTime() });
    return rows.map((row) => ({ name: row.name, owner: row.owner, expiresAt: new Date(row.expires_at) }));
  }
}
