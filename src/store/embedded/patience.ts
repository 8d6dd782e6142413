// better-sqlite3 is synchronous: while another process holds the database's write lock, a
// statement waits for it on the event loop, and every request of this process waits with it.
// So the busy timeout is a few milliseconds, and a repository call that meets a lock is retried
// after asynchronous pauses until a deadline, then fails with a retryable error. Requests that
// need no lock keep being served meanwhile.
import { KmsError } from '../../core/errors';

/** SQLite's own wait for a lock, per statement: none, since it would stall the event loop; waits are asynchronous pauses instead. */
export const BUSY_TIMEOUT_MS = 0;
/** How long a repository call keeps retrying a locked database before it gives up. */
export const LOCKED_DEADLINE_MS = 2000;

/**
 * The first pause after meeting a lock: another process's commit holds it for well under a
 * millisecond, so a short first pause (then doubling) serves several processes on one file far
 * better than a long one (Encrypt with 2 worker processes: 623-998 req/s with 5 ms, 1143-1266 with 1 ms).
 */
const FIRST_PAUSE_MS = 1;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isLocked(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** Runs `call`, retrying after asynchronous pauses while the database is locked, for at most `deadlineMs`. */
export async function retryWhileLocked<T>(call: () => Promise<T>, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, 200)) {
    try {
      return await call();
    } catch (e) {
      if (!isLocked(e)) throw e;
      if (Date.now() + pause > deadline) {
        throw new KmsError('DependencyTimeoutException', 'The metadata store is busy. Retry the request.', `SQLite still locked after ${deadlineMs} ms`);
      }
      await sleep(pause);
    }
  }
}

/** `repository` whose every method retries on a locked database, as above. Each method is one statement or one transaction, so a retry repeats nothing that took effect. */
export function patient<R extends object>(repository: R, deadlineMs = LOCKED_DEADLINE_MS): R {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      // Methods come from the class; an own property (a test's spy) is left as it is.
      if (typeof value !== 'function' || Object.prototype.hasOwnProperty.call(target, property)) return value;
      return (...args: unknown[]) => retryWhileLocked(() => Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)), deadlineMs);
    },
  });
}
