import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface PromMetric {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}

/** GET /metrics as Prometheus text from a status port, parsed by a real parser. */
export async function scrape(statusUrl: string): Promise<PromMetric[]> {
  const res = await fetch(`${statusUrl}/metrics`, { headers: { accept: 'text/plain' } });
  return parsePrometheusTextFormat(await res.text()) as PromMetric[];
}

/** The value of the sample of `name` with `labels` (0 when the family has no such sample); fails when the family is absent. */
export function metricValue(metrics: PromMetric[], name: string, labels: Record<string, string> = {}): number {
  const family = metrics.find((m) => m.name === name);
  assert.ok(family, `${name} is exposed`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? 0);
}
