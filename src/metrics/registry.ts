// The Prometheus registry of one process, and the conventions every metric here shares. Each
// process (a single server, or each worker) has its own registry; with workers, the primary's
// admin listener asks every worker for its registry as JSON and aggregates (cluster.ts).
import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every metric name starts with this, so a shared Prometheus can tell ours apart. */
export const PREFIX = 'hsm_kms_';

/**
 * Latency buckets in seconds: a token AES-GCM call is well under a millisecond, a remote XKS
 * proxy gets 250 ms, an RSA key pair generation takes seconds.
 */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry with Node's process metrics (CPU, memory, event loop delay, GC) under PREFIX. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  return registry;
}
