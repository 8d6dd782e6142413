// Metrics and readiness across worker processes (KMS_WORKERS > 1). Each worker keeps its own
// registry; the admin listener runs in the primary, which asks every listening worker over the
// cluster IPC channel for its registry as JSON and for its readiness, and merges the answers
// (prom-client's AggregatorRegistry.aggregate: counters and histograms summed, store-derived
// gauges taken once). A worker that does not answer in time is left out and named, so one
// stuck worker cannot stall a scrape. The admin port is then bound by the primary alone: a
// port shared by the workers would answer each scrape from whichever worker got the connection.
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;
import type { ReadinessReport } from '../core/jobs/readiness';
import { readinessBody } from '../http/readiness';

/** How long the primary waits for each worker's answer. */
export const WORKER_ANSWER_TIMEOUT_MS = 2000;

type Question = 'metrics' | 'readiness';
interface Ask { hsmKmsAdmin: 'ask'; id: string; question: Question }
interface Reply { hsmKmsAdmin: 'reply'; id: string; metrics?: MetricJson[]; readiness?: ReadinessReport; error?: string }

const isAsk = (m: unknown): m is Ask => (m as Partial<Ask> | null)?.hsmKmsAdmin === 'ask';
const isReply = (m: unknown): m is Reply => (m as Partial<Reply> | null)?.hsmKmsAdmin === 'reply';

/** In a worker: answers the primary's questions from this worker's registry and readiness. Returns the stop function. */
export function answerPrimary(registry: Registry, readiness: () => Promise<ReadinessReport>): () => void {
  const onMessage = (message: unknown) => {
    if (!isAsk(message) || !process.send) return;
    const send = (reply: Omit<Reply, 'hsmKmsAdmin' | 'id'>) => process.send?.({ hsmKmsAdmin: 'reply', id: message.id, ...reply });
    const work = message.question === 'metrics'
      ? registry.getMetricsAsJSON().then((metrics) => send({ metrics }))
      : readiness().then((report) => send({ readiness: report }));
    work.catch((e: unknown) => send({ error: e instanceof Error ? e.message : String(e) }));
  };
  process.on('message', onMessage);
  return () => { process.off('message', onMessage); };
}

export interface WorkerAnswer<T> {
  name: string;
  answer?: T;
  /** Why there is no answer: timed out, or the worker's error. */
  missing?: string;
}

/** In the primary: asks the listening workers and waits for each at most WORKER_ANSWER_TIMEOUT_MS. */
export class WorkerQuestions {
  private readonly pending = new Map<string, (reply: Reply) => void>();

  constructor() {
    cluster.on('message', (_worker, message: unknown) => {
      if (isReply(message)) this.pending.get(message.id)?.(message);
    });
  }

  ask(workers: ReadonlyArray<{ name: string; worker: Worker }>, question: Question): Promise<WorkerAnswer<Reply>[]> {
    return Promise.all(workers.map(({ name, worker }) => new Promise<WorkerAnswer<Reply>>((resolve) => {
      const id = randomUUID();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ name, missing: `no answer within ${WORKER_ANSWER_TIMEOUT_MS} ms` });
      }, WORKER_ANSWER_TIMEOUT_MS);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(reply.error !== undefined ? { name, missing: reply.error } : { name, answer: reply });
      });
      try {
        worker.send({ hsmKmsAdmin: 'ask', id, question } satisfies Ask);
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve({ name, missing: e instanceof Error ? e.message : String(e) });
      }
    })));
  }
}

/** Every worker's registry and the primary's own, merged into one exposition text. */
export async function aggregateMetrics(answers: WorkerAnswer<Reply>[], primary: Registry): Promise<string> {
  const registries = answers.flatMap((a) => (a.answer?.metrics ? [a.answer.metrics] : []));
  registries.push(await primary.getMetricsAsJSON());
  return AggregatorRegistry.aggregate(registries).metrics();
}

/**
 * The service is ready when every configured worker listens and says it is ready. A part is
 * unavailable when any worker finds it so; each worker's own word is listed under `workers`.
 */
export function aggregateReadiness(answers: WorkerAnswer<Reply>[], configured: number): { ready: boolean; body: unknown } {
  const reports = answers.flatMap((a) => (a.answer?.readiness ? [a.answer.readiness] : []));
  const keyStores: Record<string, boolean> = {};
  for (const report of reports) {
    for (const [id, ok] of Object.entries(report.keyStores)) keyStores[id] = (keyStores[id] ?? true) && ok;
  }
  const allAnswered = answers.length === configured && reports.length === configured;
  const merged: ReadinessReport = {
    ready: allAnswered && reports.every((r) => r.ready),
    store: reports.length > 0 && reports.every((r) => r.store),
    keyStores,
  };
  const workers = Object.fromEntries(answers.map((a) => [a.name, a.answer?.readiness ? (a.answer.readiness.ready ? 'ok' : 'unavailable') : `unavailable (${a.missing ?? 'not listening'})`]));
  return { ready: merged.ready, body: { ...readinessBody(merged), workers: { configured, listening: answers.length, each: workers } } };
}
