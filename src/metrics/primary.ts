// The admin listener of a primary with workers (KMS_WORKERS > 1): /metrics merges every
// listening worker's registry with the primary's own (worker counts, its process metrics);
// /readyz is ready only when every configured worker listens and is ready; /healthz says the
// primary answers, with how many workers listen.
import type { Worker } from 'node:cluster';
import { Gauge } from 'prom-client';
import { listenAdmin, type AdminListener } from './admin-listener';
import { aggregateMetrics, aggregateReadiness, WorkerQuestions } from './cluster';
import { createMetricsRegistry, PREFIX } from './registry';

export interface WorkerView {
  configured: number;
  /** The workers that listen now, by instance id. */
  listening(): Array<{ name: string; worker: Worker }>;
}

export function listenPrimaryAdmin(host: string, port: number, workers: WorkerView, onError: (detail: string) => void): Promise<AdminListener> {
  const registry = createMetricsRegistry();
  const questions = new WorkerQuestions();
  new Gauge({
    name: `${PREFIX}workers`, help: 'Worker processes: configured (KMS_WORKERS) and listening.', labelNames: ['state'], registers: [registry],
    collect() {
      this.set({ state: 'configured' }, workers.configured);
      this.set({ state: 'listening' }, workers.listening().length);
    },
  });
  const missing = new Gauge({
    name: `${PREFIX}workers_missing_from_scrape`, help: 'Listening workers whose metrics did not arrive in time for this scrape.', registers: [registry],
  });
  return listenAdmin(host, port, {
    metrics: async () => {
      const answers = await questions.ask(workers.listening(), 'metrics');
      missing.set(answers.filter((a) => !a.answer).length);
      return { contentType: registry.contentType, body: await aggregateMetrics(answers, registry) };
    },
    live: () => ({ role: 'primary', workers: { configured: workers.configured, listening: workers.listening().length } }),
    ready: async () => aggregateReadiness(await questions.ask(workers.listening(), 'readiness'), workers.configured),
  }, onError);
}
