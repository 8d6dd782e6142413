// Several worker processes on one port (KMS_WORKERS > 1). A small primary forks them with
// node:cluster, which shares the listening sockets (KMS_PORT and KMS_XKS_PORT): the primary
// accepts each connection and hands it to the next worker in turn. Each worker is a whole
// instance of its own: its token connection and session pool, its store connection, its
// heartbeat and its maintenance, under the id `<KMS_INSTANCE_ID>#<index>` (stable across restarts
// of that index). Background jobs run once across them through the store's job leases, as they
// do across separate instances.
//
// Start-up is ordered so that two start-up recoveries never race. Worker 0 starts alone and
// recovers as a lone instance does (no grace periods, half-made token objects destroyed): it may,
// because no other process of this service runs yet, so the heartbeats of this service's earlier
// processes are its own leftovers. Only once it listens do the others start; they find it alive,
// so their start-up recovery waits out the grace periods and never touches its work. A worker that
// fails to start stops the service with that worker's exit code and sentence, as one process does.
import cluster, { type Worker } from 'node:cluster';
import { WORKER_ALONE_VARIABLE, WORKER_INDEX_VARIABLE, type Config } from './config';
import type { Logger } from './log/logger';

/** How long the workers have to stop after SIGTERM/SIGINT before they are killed. */
export const STOP_TIMEOUT_MS = 10_000;
/** A worker index that dies more than MAX_RESTARTS_IN_WINDOW times within this stops the service. */
export const RESTART_WINDOW_MS = 60_000;
export const MAX_RESTARTS_IN_WINDOW = 5;
/** The pause before a restart doubles with each restart of that index within the window. */
export const RESTART_BACKOFF_MS = { initial: 500, max: 10_000 };

/** The instance id of worker `index` of the service configured as `base`. */
export function workerInstanceId(base: string, index: number): string {
  return `${base}#${index}`;
}

/** Whether an instance id names a process of the service configured as `base`: the single process or one of its workers. */
export function processesOf(base: string): (instanceId: string) => boolean {
  return (instanceId) => instanceId === base || (instanceId.startsWith(`${base}#`) && /^\d+$/.test(instanceId.slice(base.length + 1)));
}

/** What a worker tells its primary: it listens, or it failed to start (with the line a single process would print). */
export type WorkerReport = { hsmKms: 'ready'; port: number } | { hsmKms: 'failed'; line: string; exitCode: number };

function isWorkerReport(message: unknown): message is WorkerReport {
  const m = message as Partial<Record<string, unknown>> | null;
  return typeof m === 'object' && m !== null && (
    (m.hsmKms === 'ready' && typeof m.port === 'number')
    || (m.hsmKms === 'failed' && typeof m.line === 'string' && typeof m.exitCode === 'number'));
}

/** In a worker: tells the primary. Resolves once sent, or false when there is no primary to tell. */
export function reportToPrimary(report: WorkerReport): Promise<boolean> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve(false);
      return;
    }
    process.send(report, undefined, {}, (e) => resolve(!e));
  });
}

/** A worker that did not start: the line to print and the exit code to leave with. */
class WorkerFailure extends Error {
  constructor(readonly line: string, readonly exitCode: number) {
    super(line);
  }
}

interface Slot {
  index: number;
  instanceId: string;
  worker?: Worker;
  ready: boolean;
  /** When this index was restarted, within the window. */
  restarts: number[];
  restartTimer?: NodeJS.Timeout;
}

/** How the primary leaves: its exit code, and a line for stderr unless all went well. */
interface Outcome {
  code: number;
  line?: string;
}

/** Runs the primary until it exits the process: forks the workers, restarts those that die, stops them all on a signal. */
export function runPrimary(config: Readonly<Config>, logger: Logger, onReady: (port: number) => void = () => undefined): void {
  new Primary(config, logger, onReady).run();
}

class Primary {
  private phase: 'starting' | 'running' | 'stopping' = 'starting';
  private outcome: Outcome = { code: 0 };
  private readonly slots: Slot[];
  private killTimer?: NodeJS.Timeout;

  constructor(private readonly config: Readonly<Config>, private readonly logger: Logger, private readonly onReady: (port: number) => void) {
    this.slots = Array.from({ length: config.workers }, (_, index) => ({ index, instanceId: workerInstanceId(config.instanceId, index), ready: false, restarts: [] }));
  }

  run(): void {
    process.on('SIGTERM', () => this.signal('SIGTERM'));
    process.on('SIGINT', () => this.signal('SIGINT'));
    if (this.config.adminPort !== undefined) this.serveAdmin(this.config.adminHost, this.config.adminPort);
    this.startAll().catch((e: unknown) => {
      // While stopping, each worker's exit is judged as it comes (a signal may stop one before it is ready).
      if (this.phase === 'stopping') return;
      const failure = e instanceof WorkerFailure ? e : new WorkerFailure(`hsm-kms failed to start: ${e instanceof Error ? e.message : String(e)}`, 1);
      this.stopAll({ code: failure.exitCode, line: failure.line });
    });
  }

  /**
   * The admin listener is the primary's: a port the workers shared would answer each scrape from
   * whichever worker got the connection. It asks the listening workers and merges their answers.
   */
  private serveAdmin(host: string, port: number): void {
    const view = {
      configured: this.slots.length,
      listening: () => this.slots.flatMap((slot) => (slot.ready && slot.worker ? [{ name: slot.instanceId, worker: slot.worker }] : [])),
    };
    import('./metrics/primary')
      .then(({ listenPrimaryAdmin }) => listenPrimaryAdmin(host, port, view, (detail) => this.logger.error('admin listener failed to answer', { detail })))
      .then((listener) => this.logger.info('admin listening', { url: listener.url }))
      .catch((e: NodeJS.ErrnoException) => this.stopAll({ code: 1, line: `hsm-kms failed to start: KMS_ADMIN_HOST/KMS_ADMIN_PORT ${host}:${port} cannot be bound (${e.code ?? e.message})` }));
  }

  /** Worker 0 alone first (it may recover as a lone instance), then the others together. */
  private async startAll(): Promise<void> {
    const [first, ...others] = this.slots;
    const port = await this.start(first!, true);
    if (this.phase !== 'starting') return;
    await Promise.all(others.map((slot) => this.start(slot, false)));
    if (this.phase !== 'starting') return;
    this.phase = 'running';
    this.logger.info('ready', { workers: this.slots.length, port });
    this.onReady(port);
  }

  /** Forks the worker of `slot`; resolves with its port once it listens, rejects if it exits before. */
  private start(slot: Slot, alone: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const worker = cluster.fork({ [WORKER_INDEX_VARIABLE]: String(slot.index), [WORKER_ALONE_VARIABLE]: alone ? '1' : '0' });
      slot.worker = worker;
      slot.ready = false;
      const pid = worker.process.pid;
      let failure: WorkerFailure | undefined;
      this.logger.info('worker started', { worker: slot.instanceId, pid, alone });
      worker.on('message', (message: unknown) => {
        if (!isWorkerReport(message)) return;
        if (message.hsmKms === 'failed') {
          failure = new WorkerFailure(message.line, message.exitCode);
          return;
        }
        slot.ready = true;
        this.logger.info('worker ready', { worker: slot.instanceId, pid, port: message.port });
        resolve(message.port);
      });
      worker.on('exit', (code: number | null, signal: string | null) => {
        slot.worker = undefined;
        const wasReady = slot.ready;
        slot.ready = false;
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        this.logger.log(this.phase === 'stopping' ? 'info' : 'warn', 'worker exited', { worker: slot.instanceId, pid, code, signal });
        if (!wasReady) reject(failure ?? new WorkerFailure(`hsm-kms failed to start: worker ${slot.instanceId} ${how} before it was listening`, code || 1));
        this.exited(slot, { wasReady, code, signal, how, failure });
      });
    });
  }

  private exited(slot: Slot, exit: { wasReady: boolean; code: number | null; signal: string | null; how: string; failure?: WorkerFailure }): void {
    const { code, signal, how, failure } = exit;
    if (this.phase === 'stopping') {
      const clean = code === 0 || signal === 'SIGTERM' || signal === 'SIGINT';
      if (!clean) this.worse({ code: code || 1, line: failure?.line ?? `hsm-kms: worker ${slot.instanceId} ${how} while stopping` });
      this.finishIfDone();
      return;
    }
    if (this.phase === 'starting') {
      // One that had not started is start()'s rejection; one that had stops the start-up too.
      if (exit.wasReady) this.stopAll({ code: code || 1, line: `hsm-kms failed to start: worker ${slot.instanceId} ${how} before the service was ready` });
      return;
    }
    this.restart(slot, failure?.line ?? how, code);
  }

  /** Restarts a worker that died while the service ran, after a pause; too many deaths in the window stop the service. */
  private restart(slot: Slot, detail: string, code: number | null): void {
    const now = Date.now();
    slot.restarts = slot.restarts.filter((at) => now - at < RESTART_WINDOW_MS);
    if (slot.restarts.length >= MAX_RESTARTS_IN_WINDOW) {
      this.stopAll({
        code: code || 1,
        line: `hsm-kms: worker ${slot.instanceId} stopped ${slot.restarts.length + 1} times within ${RESTART_WINDOW_MS / 1000} s (last: ${detail}), so the service stops`,
      });
      return;
    }
    const delayMs = Math.min(RESTART_BACKOFF_MS.initial * 2 ** slot.restarts.length, RESTART_BACKOFF_MS.max);
    slot.restarts.push(now);
    this.logger.warn('restarting worker', { worker: slot.instanceId, delayMs, detail });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      // Its failure to start comes back through its exit, as a death does; a fork that fails stops the service.
      if (this.phase === 'running') {
        this.start(slot, false).catch((e: unknown) => {
          if (!(e instanceof WorkerFailure)) this.stopAll({ code: 1, line: `hsm-kms: worker ${slot.instanceId} cannot be restarted (${e instanceof Error ? e.message : String(e)}), so the service stops` });
        });
      }
    }, delayMs);
  }

  private signal(signal: string): void {
    if (this.phase === 'stopping') {
      this.kill(`hsm-kms: ${signal} while stopping, so the workers were killed`);
      return;
    }
    this.logger.info('shutting down', { signal });
    this.stopAll({ code: 0 });
  }

  /** Asks every worker to stop as a single process stops on SIGTERM; kills them after STOP_TIMEOUT_MS. */
  private stopAll(outcome: Outcome): void {
    if (this.phase === 'stopping') {
      this.worse(outcome);
      return;
    }
    this.phase = 'stopping';
    this.outcome = outcome;
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      slot.worker?.process.kill('SIGTERM');
    }
    this.killTimer = setTimeout(() => this.kill(`hsm-kms: the workers did not stop within ${STOP_TIMEOUT_MS / 1000} s, so they were killed`), STOP_TIMEOUT_MS);
    this.finishIfDone();
  }

  private kill(line: string): void {
    this.worse({ code: 1, line });
    for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
  }

  /** The first failure decides how the primary leaves. */
  private worse(outcome: Outcome): void {
    if (this.outcome.code === 0 && outcome.code !== 0) this.outcome = outcome;
  }

  private finishIfDone(): void {
    if (this.slots.some((slot) => slot.worker)) return;
    clearTimeout(this.killTimer);
    if (this.outcome.line) console.error(this.outcome.line);
    this.logger.info('stopped', { code: this.outcome.code });
    process.exit(this.outcome.code);
  }
}
