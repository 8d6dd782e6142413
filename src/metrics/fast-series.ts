// Counters and histograms for the request path. prom-client hashes the label object on every
// inc()/observe(), even through a labels() child: about a microsecond each, twice per call.
// These keep one plain object per label combination, found by a key the caller builds, so an
// observation is a map lookup and a few additions; the label objects are only formatted when a
// scrape asks (get(), in prom-client's own JSON shape, so the registry prints them and the
// primary's AggregatorRegistry merges them like any other metric).
import type { Metric, Registry } from 'prom-client';

type Labels = Record<string, string>;

/** One value as prom-client's get() gives it: histogram lines carry their own metric name. */
interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What prom-client's Registry reads from a metric on scrape. */
interface Snapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Value[];
}

interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Snapshot;
  reset(): void;
}

export interface CounterSeries {
  inc(): void;
}

export class FastCounter implements Collected {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Labels; value: number; inc(): void }>();

  constructor(readonly name: string, readonly help: string, registry: Registry) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series for `labels`, found by `key` (the caller's unique spelling of those labels). */
  child(key: string, labels: () => Labels): CounterSeries {
    let found = this.series.get(key);
    if (!found) {
      const series = { labels: labels(), value: 0, inc() { series.value += 1; } };
      found = series;
      this.series.set(key, series);
    }
    return found;
  }

  get(): Snapshot {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.series.values()].map(({ labels, value }) => ({ labels, value })) };
  }

  reset(): void {
    this.series.clear();
  }
}

export interface HistogramSeries {
  observe(value: number): void;
}

export class FastHistogram implements Collected {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Labels; buckets: Float64Array; sum: number; count: number; observe(value: number): void }>();

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[], registry: Registry) {
    registry.registerMetric(this as unknown as Metric);
  }

  child(key: string, labels: () => Labels): HistogramSeries {
    let found = this.series.get(key);
    if (!found) {
      const bounds = this.bounds;
      // One slot per bound and one for +Inf; counts are per bucket here and made cumulative on scrape.
      const series = {
        labels: labels(), buckets: new Float64Array(bounds.length + 1), sum: 0, count: 0,
        observe(value: number) {
          let i = 0;
          while (i < bounds.length && value > bounds[i]!) i++;
          series.buckets[i]! += 1;
          series.sum += value;
          series.count += 1;
        },
      };
      found = series;
      this.series.set(key, series);
    }
    return found;
  }

  get(): Snapshot {
    const values: Value[] = [];
    for (const { labels, buckets, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}
