// The one SQLite connection the embedded store's repositories share, and what they share besides.
import type Database from 'better-sqlite3';
import { DuplicateRecordError } from '../../core/errors';
import type { KeyScope } from '../../core/model';

export interface ScopeParams {
  accountId: string;
  region: string;
}
export type KeyParams = ScopeParams & { keyId: string };

export class SqliteConnection {
  private db: Database.Database | undefined;
  /** Prepared once per connection: preparing costs more than running most of these statements. */
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  attach(db: Database.Database): void {
    this.db = db;
  }

  /** Forgets the connection and its statements, and hands the connection back for closing. */
  detach(): Database.Database | undefined {
    const db = this.db;
    this.statements.clear();
    this.db = undefined;
    return db;
  }

  statement<Params extends unknown[] = [], Row = unknown>(source: string): Database.Statement<Params, Row> {
    let statement = this.statements.get(source);
    if (!statement) {
      statement = this.open().prepare(source);
      this.statements.set(source, statement);
    }
    // The cache erases parameter and row types; each call site states them next to its SQL.
    return statement as unknown as Database.Statement<Params, Row>;
  }

  /** Runs an INSERT; a row that breaks a uniqueness constraint throws DuplicateRecordError naming `what`. */
  insertUnique<Params extends object>(source: string, params: Params, what: string): void {
    this.runUnique(source, params, what);
  }

  /** Runs an INSERT or UPDATE; a row that breaks a uniqueness constraint throws DuplicateRecordError naming `what`. */
  runUnique<Params extends object>(source: string, params: Params, what: string): Database.RunResult {
    try {
      return this.statement<[Params]>(source).run(params);
    } catch (e) {
      throw isUniqueViolation(e) ? new DuplicateRecordError(what) : e;
    }
  }

  /** What a `SELECT COUNT(*) AS count …` statement counts. */
  count<Params extends object>(source: string, params: Params): number {
    return this.statement<[Params], { count: number }>(source).get(params)?.count ?? 0;
  }

  /** Runs `work` in one transaction: all of it is committed, or none. */
  transaction(work: () => void): void {
    this.open().transaction(work)();
  }

  /**
   * Runs `work` in one transaction that takes the write lock before its first read (BEGIN
   * IMMEDIATE), so what it read cannot change before it writes, even from another process.
   * Another writer makes it throw SQLITE_BUSY at once; patient() retries it.
   */
  immediateTransaction<T>(work: () => T): T {
    return this.open().transaction(work).immediate();
  }

  /**
   * As immediateTransaction, but the commit does not wait for the disk (synchronous=NORMAL in WAL
   * mode): it survives the process being killed, not a power loss, and costs no fsync on the event
   * loop. The next FULL commit, or a checkpoint, takes it to the disk with everything before it.
   */
  immediateTransactionWithoutSync<T>(work: () => T): T {
    const db = this.open();
    db.pragma('synchronous = NORMAL');
    try {
      return db.transaction(work).immediate();
    } finally {
      db.pragma('synchronous = FULL');
    }
  }

  /** Sets a pragma on this connection (a connection setting, not a statement to cache). */
  pragma(source: string): void {
    this.open().pragma(source);
  }

  private open(): Database.Database {
    if (!this.db) throw new Error('EmbeddedStore is not open: call init() first');
    return this.db;
  }
}

export function scopeParams(scope: KeyScope): ScopeParams {
  return { accountId: scope.accountId, region: scope.region };
}

export function keyParams(scope: KeyScope, keyId: string): KeyParams {
  return { ...scopeParams(scope), keyId };
}

// By code rather than instanceof: the error class differs when the driver module is loaded
// more than once (test runners, symlinked installs).
function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
