// The hook for the audit trail (built elsewhere): how long each append took, and how long the
// chain is. The trail calls `recordAppend` after each append; composition hands in a function
// that reads the chain length (the head's sequence), which is read on scrape only.
import { performance } from 'node:perf_hooks';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { AuditRepository } from '../core/ports';
import { LATENCY_BUCKETS, PREFIX } from './registry';

export interface AuditMetrics {
  /** Call after each append (a batch counts once) with its duration in seconds. */
  recordAppend(seconds: number): void;
  /** Where the chain length comes from; undefined (or a rejection) leaves the gauge empty. */
  chainLengthFrom(read: () => Promise<number | undefined>): void;
}

export function auditMetrics(registry: Registry): AuditMetrics {
  const append = new Histogram({
    name: `${PREFIX}audit_append_duration_seconds`, help: 'Duration of audit trail appends (one batch each).',
    buckets: LATENCY_BUCKETS, registers: [registry],
  });
  let read: (() => Promise<number | undefined>) | undefined;
  // Registered only once a source is given: a gauge without labels would otherwise print 0.
  const chainLength = () => new Gauge({
    name: `${PREFIX}audit_chain_length`, help: 'Records in the audit chain (the head\'s sequence), read from the store on scrape.',
    registers: [registry],
    // Every worker reads the same shared chain: the largest answer is the truth.
    aggregator: 'max',
    async collect() {
      this.reset();
      const length = await read?.().catch(() => undefined);
      if (length !== undefined) this.set(length);
    },
  });
  return {
    recordAppend: (seconds) => append.observe(seconds),
    chainLengthFrom: (fn) => {
      if (!read) chainLength();
      read = fn;
    },
  };
}

/** `repository` with each append's duration told to `recordAppend` (the trail's batches, one call each). */
export function timedAppends(repository: AuditRepository, recordAppend: (seconds: number) => void): AuditRepository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      if (property !== 'append') return Reflect.get(target, property, receiver) as unknown;
      return async (...args: Parameters<AuditRepository['append']>) => {
        const started = performance.now();
        try {
          return await target.append(...args);
        } finally {
          recordAppend((performance.now() - started) / 1000);
        }
      };
    },
  });
}
