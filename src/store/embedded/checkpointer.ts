// WAL checkpoints off the event loop. SQLite copies the write-ahead log back into the database
// file inside whichever commit crosses its threshold, synchronously: on the server's connection,
// with the audit trail committing on nearly every call, that copy and its fsyncs stalled every
// request (about half of an audit append's cost, measured). A thread of its own, on a connection
// of its own, checkpoints instead; the server's connection keeps SQLite's automatic checkpoint
// only as a safety net, at a far higher threshold.
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 500;
/** Pages the log may reach before the server's own connection checkpoints (about 40 MiB): only if the thread cannot keep up or has stopped. */
export const SAFETY_NET_CHECKPOINT_PAGES = 10_000;

// Plain JavaScript run by the thread: it needs nothing of the project but the SQLite module.
// PASSIVE never waits for readers or writers; a busy database is simply tried again next time.
const CHECKPOINT_THREAD = `
  const { parentPort, workerData } = require('node:worker_threads');
  const Database = require(workerData.sqliteModule);
  const db = new Database(workerData.file, { timeout: 0 });
  const timer = setInterval(() => {
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

  constructor(file: string, onCheckpoint: (result: CheckpointResult) => void = () => undefined, intervalMs = CHECKPOINT_INTERVAL_MS) {
    this.worker = new Worker(CHECKPOINT_THREAD, { eval: true, workerData: { file, intervalMs, sqliteModule: require.resolve('better-sqlite3') } });
    // Never what keeps a process alive.
    this.worker.unref();
    this.worker.on('message', onCheckpoint);
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // A thread that fails leaves the safety net in charge; nothing is lost.
    this.worker.on('error', () => undefined);
  }

  /** Stops the thread once it has closed its connection. */
  async stop(): Promise<void> {
    // Held while stopping: with nothing else pending (a start-up that failed), an unref'd thread
    // would let the process end with exit code 0 before the failure is reported.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
