// The embedded metadata store: one SQLite file, for a single machine. Each repository keeps its
// aggregate in its own tables; all share one connection.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { AliasRepository, ExternalKeyRepository, GrantRepository, KeyRepository, MetadataStore } from '../../core/ports';
import { SqliteAliasRepository } from './aliases';
import { SqliteConnection } from './connection';
import { SqliteExternalKeyRepository } from './external-keys';
import { SqliteGrantRepository } from './grants';
import { SqliteKeyRepository } from './keys';
import { migrate } from './migrations';

export class EmbeddedStore implements MetadataStore {
  readonly keys: KeyRepository;
  readonly aliases: AliasRepository;
  readonly grants: GrantRepository;
  readonly externalKeys: ExternalKeyRepository;
  private readonly connection = new SqliteConnection();

  constructor(private readonly filePath: string) {
    this.keys = new SqliteKeyRepository(this.connection);
    this.aliases = new SqliteAliasRepository(this.connection);
    this.grants = new SqliteGrantRepository(this.connection);
    this.externalKeys = new SqliteExternalKeyRepository(this.connection);
  }

  async init(): Promise<void> {
    if (this.connection.isOpen) return;
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
    this.connection.attach(db);
  }

  async close(): Promise<void> {
    this.connection.detach()?.close();
  }

  async ping(): Promise<void> {
    this.connection.statement('SELECT 1').get();
  }
}
