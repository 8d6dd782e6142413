// WAL checkpoints off the event loop. SQLite copies the write-ahead log back into the database
// file inside whichever commit crosses its threshold, synchronously: on the server's connection,
// with the audit trail committing on nearly every call, that copy and its fsyncs stalled every
// request (about half of an audit append's cost, measured). A thread of its own, on a connection
// of its own, checkpoints instead; the server's connection keeps SQLite's automatic checkpoint
// only as a safety net, at a far higher threshold. The same thread keeps derived data up to date
// off the event loop: each time, before the checkpoint, it runs catch-up statements (the audit
// trail's lookup index, audit-lookup-index.ts) chunk by chunk until they report no more work.
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 500;
/** How long a catch-up waits for the write lock (in the thread: no request waits for it). */
const CATCH_UP_LOCK_WAIT_MS = 100;
/** Catch-up chunks per turn at most, so the thread also checkpoints under a heavy load. */
const MAX_CATCH_UP_CHUNKS = 20;
/** Pages the log may reach before the server's own connection checkpoints (about 40 MiB): only if the thread cannot keep up or has stopped. */
export const SAFETY_NET_CHECKPOINT_PAGES = 10_000;

// Plain JavaScript run by the thread: it needs nothing of the project but the SQLite module.
// PASSIVE never waits for readers or writers; a busy database is simply tried again next time.
// A catch-up chunk is one IMMEDIATE transaction of the statements in order; its last statement
// changes no row once there is nothing left to do.
const CHECKPOINT_THREAD = `
  const { parentPort, workerData } = require('node:worker_threads');
  const Database = require(workerData.sqliteModule);
  const db = new Database(workerData.file, { timeout: workerData.lockWaitMs });
  const statements = workerData.catchUpSql.map((sql) => db.prepare(sql));
  const chunk = db.transaction(() => statements.map((s) => s.run()).at(-1).changes > 0);
  const timer = setInterval(() => {
    try {
      for (let i = 0; statements.length > 0 && i < workerData.maxChunks && chunk.immediate(); i++);
    } catch {
      // Locked past the wait, or busy: next time.
    }
    try {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)');
      parentPort.postMessage(result);
    } catch {
      // Locked or busy: next time.
    }
  }, workerData.intervalMs);
  parentPort.on('message', () => {
    clearInterval(timer);
    db.close();
    parentPort.close();
  });
`;

/** What one checkpoint did (SQLite's wal_checkpoint result). */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(
    file: string,
    onCheckpoint: (result: CheckpointResult) => void = () => undefined,
    options: { intervalMs?: number; catchUpSql?: readonly string[] } = {},
  ) {
    const workerData = {
      file, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS, catchUpSql: options.catchUpSql ?? [],
      lockWaitMs: CATCH_UP_LOCK_WAIT_MS, maxChunks: MAX_CATCH_UP_CHUNKS, sqliteModule: require.resolve('better-sqlite3'),
    };
    this.worker = new Worker(CHECKPOINT_THREAD, { eval: true, workerData });
    // Never what keeps a process alive.
    this.worker.unref();
    this.worker.on('message', onCheckpoint);
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // A thread that fails leaves the safety net in charge; nothing is lost.
    this.worker.on('error', () => undefined);
  }

  /** Stops the thread once it has closed its connection. */
  async stop(): Promise<void> {
    // Held until it has gone: a process waiting on nothing else would otherwise end (exit code 0)
    // in the middle of its shutdown.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
