import type { Metric, Registry } from 'prom-client';

/** One line of the exposition, as prom-client's metrics hand them to their registry. */
interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
  /** prom-client's field (null for buckets, undefined for sum and count); the registry prints none without exemplars. */
  exemplar: null | undefined;
}

/** One label set's observations: a count per bucket (not cumulative), their count and their sum. */
export class HistogramSeries {
  readonly bucketCounts: number[];
  count = 0;
  sum = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.bucketCounts = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.bucketCounts[i] as number)++;
        break;
      }
    }
    this.count++;
    this.sum += value;
  }
}

/**
 * A labelled Prometheus histogram for the per-event hot path. prom-client's Histogram validates, copies
 * and hashes its labels on every observe; here the caller keeps the series of its label set and an
 * observation is a few additions. The registry formats it as it formats prom-client's own histograms
 * (spec/lib/tally-histogram.test.ts holds the text to be identical).
 */
export class TallyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label set, values in `labelNames` order; made on first use. */
  series(...values: string[]): HistogramSeries {
    const key = values.join('\u0000');
    let found = this.all.get(key);
    if (!found) {
      found = new HistogramSeries(Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] as string])), this.bounds);
      this.all.set(key, found);
    }
    return found;
  }

  /** What prom-client's Histogram#get returns: cumulative buckets, +Inf, sum and count per series. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const series of this.all.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.bucketCounts[i] as number;
        values.push({ labels: { le: bound, ...series.labels }, value: cumulative, metricName: `${this.name}_bucket`, exemplar: null });
      });
      values.push({ labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: `${this.name}_bucket`, exemplar: null });
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.all.clear();
  }
}
