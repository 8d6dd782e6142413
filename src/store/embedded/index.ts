// The embedded metadata store: one SQLite file, for a single machine. Each repository keeps its
// aggregate in its own tables; all share one connection.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AliasRepository, AuditRepository, CustomKeyStoreRepository, ExternalKeyRepository, GrantRepository, KeyRepository, LeaseRepository, MetadataStore,
} from '../../core/ports';
import { SqliteAliasRepository } from './aliases';
import { SqliteAuditRepository } from './audit';
import { LOOKUP_CATCH_UP_SQL } from './audit-lookup-index';
import { SAFETY_NET_CHECKPOINT_PAGES, WalCheckpointer, type CheckpointResult } from './checkpointer';
import { SqliteConnection } from './connection';
import { SqliteCustomKeyStoreRepository } from './custom-key-stores';
import { SqliteExternalKeyRepository } from './external-keys';
import { SqliteGrantRepository } from './grants';
import { SqliteKeyRepository } from './keys';
import { SqliteLeaseRepository } from './leases';
import { migrate } from './migrations';
import { BUSY_TIMEOUT_MS, patient, retryWhileLocked } from './patience';

/** How long opening waits for another instance that holds the database's lock. */
const START_DEADLINE_MS = 15_000;

export class EmbeddedStore implements MetadataStore {
  readonly keys: KeyRepository;
  readonly aliases: AliasRepository;
  readonly grants: GrantRepository;
  readonly leases: LeaseRepository;
  readonly externalKeys: ExternalKeyRepository;
  readonly customKeyStores: CustomKeyStoreRepository;
  readonly audit: AuditRepository;
  private readonly connection = new SqliteConnection();
  private checkpointer: WalCheckpointer | undefined;

  constructor(private readonly filePath: string) {
    this.keys = patient(new SqliteKeyRepository(this.connection));
    this.aliases = patient(new SqliteAliasRepository(this.connection));
    this.grants = patient(new SqliteGrantRepository(this.connection));
    this.leases = patient(new SqliteLeaseRepository(this.connection));
    this.externalKeys = patient(new SqliteExternalKeyRepository(this.connection));
    this.customKeyStores = patient(new SqliteCustomKeyStoreRepository(this.connection));
    this.audit = patient(new SqliteAuditRepository(this.connection));
  }

  async init(): Promise<void> {
    if (this.connection.isOpen) return;
    if (this.filePath !== ':memory:') {
      mkdirSync(dirname(this.filePath), { recursive: true, mode: 0o700 });
      // Created owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(this.filePath, 'a', 0o600));
      chmodSync(this.filePath, 0o600);
    }
    const db = new Database(this.filePath, { timeout: BUSY_TIMEOUT_MS });
    try {
      // Another instance starting on the same file may hold the lock for a moment: wait for it, without blocking.
      await retryWhileLocked(async () => {
        db.pragma('journal_mode = WAL');
        // FULL: a commit has reached the disk before it returns, so an acknowledged change survives power loss.
        db.pragma('synchronous = FULL');
        migrate(db);
      }, START_DEADLINE_MS);
    } catch (e) {
      db.close();
      throw e;
    }
    this.connection.attach(db);
  }

  /**
   * Moves WAL checkpoints, and the audit trail's lookup index, to a thread of their own
   * (checkpointer.ts, audit-lookup-index.ts). For servers: a store that
   * serves no load has no use for the thread.
   */
  checkpointInBackground(onCheckpoint?: (result: CheckpointResult) => void): void {
    const db = this.connection.isOpen ? this.connection : undefined;
    if (!db || this.checkpointer || this.filePath === ':memory:') return;
    this.checkpointer = new WalCheckpointer(this.filePath, onCheckpoint, { catchUpSql: LOOKUP_CATCH_UP_SQL });
    db.pragma(`wal_autocheckpoint = ${SAFETY_NET_CHECKPOINT_PAGES}`);
  }

  async close(): Promise<void> {
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    await checkpointer?.stop();
    this.connection.detach()?.close();
  }

  async ping(): Promise<void> {
    this.connection.statement('SELECT 1').get();
  }
}
