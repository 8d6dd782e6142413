// Where a process's metrics and readiness are served. A single process (KMS_WORKERS=1) binds
// the admin listener itself. A worker never binds it: it answers its primary over IPC, and the
// primary (primary.ts) serves the whole service's view on the admin port.
import type { ReadinessReport } from '../core/jobs/readiness';
import { readinessBody } from '../http/readiness';
import { listenAdmin } from './admin-listener';
import { answerPrimary } from './cluster';
import type { ServiceMetrics } from './index';

export interface MetricsServing {
  /** The admin listener's URL, when this process binds it. */
  url?: string;
  stop(): Promise<void>;
}

export async function serveMetrics(
  metrics: ServiceMetrics, readiness: () => Promise<ReadinessReport>,
  options: { host: string; port: number; inWorker: boolean; instanceId: string; onError(detail: string): void },
): Promise<MetricsServing> {
  if (options.inWorker) {
    const stop = answerPrimary(metrics.registry, readiness);
    return { stop: async () => stop() };
  }
  const listener = await listenAdmin(options.host, options.port, {
    metrics: () => metrics.exposition(),
    live: () => ({ instance: options.instanceId }),
    ready: async () => {
      const report = await readiness();
      return { ready: report.ready, body: readinessBody(report) };
    },
  }, options.onError);
  return { url: listener.url, stop: () => listener.close() };
}
