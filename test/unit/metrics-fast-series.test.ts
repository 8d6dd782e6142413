// The request path's counters and histograms (src/metrics/fast-series.ts) print exactly what
// prom-client's own would for the same observations, and merge across workers the same way.
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/metrics/fast-series';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const observations: Array<[Record<string, string>, number]> = [
  [{ op: 'Encrypt', outcome: 'success' }, 0.0004], [{ op: 'Encrypt', outcome: 'success' }, 0.001], [{ op: 'Encrypt', outcome: 'success' }, 0.05],
  [{ op: 'Decrypt', outcome: 'failure' }, 2], [{ op: 'Decrypt', outcome: 'failure' }, 0.1],
];
const keyOf = (labels: Record<string, string>) => `${labels.op}\0${labels.outcome}`;

function both() {
  const fast = new Registry();
  const reference = new Registry();
  const fastCounter = new FastCounter('calls_total', 'Calls.', fast);
  const fastHistogram = new FastHistogram('latency_seconds', 'Latency.', BUCKETS, fast);
  const counter = new Counter({ name: 'calls_total', help: 'Calls.', labelNames: ['op', 'outcome'], registers: [reference] });
  const histogram = new Histogram({ name: 'latency_seconds', help: 'Latency.', labelNames: ['op', 'outcome'], buckets: BUCKETS, registers: [reference] });
  for (const [labels, value] of observations) {
    fastCounter.child(keyOf(labels), () => labels).inc();
    fastHistogram.child(keyOf(labels), () => labels).observe(value);
    counter.inc(labels);
    histogram.observe(labels, value);
  }
  return { fast, reference };
}

it('prints what prom-client prints for the same observations', async () => {
  const { fast, reference } = both();
  expect(await fast.metrics()).toBe(await reference.metrics());
});

it('merges across workers as prom-client metrics merge', async () => {
  const a = both();
  const b = both();
  const merged = (registries: Registry[]) => Promise.all(registries.map((r) => r.getMetricsAsJSON())).then((json) => AggregatorRegistry.aggregate(json).metrics());
  expect(await merged([a.fast, b.fast])).toBe(await merged([a.reference, b.reference]));
});
