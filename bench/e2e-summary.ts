import type { E2eCount, E2eResult, E2eRow } from './e2e.js';
import { median, round2 } from './stats.js';

/** A median over the rounds with its spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface E2eLine {
  route: string;
  requestsPerSecond: Spread;
  p50Ms: number;
  p99Ms: number;
  kongCpuUsPerRequest: Spread;
  serverCpuUsPerRequest: number;
  /** 1e6/rps(route) − 1e6/rps(no plugin), paired by round: µs a request pays for the route's plugin. */
  addedUs: Spread;
  errors: number;
  count?: E2eCount;
}

export const NO_PLUGIN = 'no plugin';

function spread(values: number[], digits = 0): Spread {
  const r = (n: number) => Number(n.toFixed(digits));
  return { median: r(median(values)), min: r(Math.min(...values)), max: r(Math.max(...values)) };
}

export const showSpread = (s: Spread, unit = ''): string =>
  s.min === s.max
    ? `${s.median.toLocaleString('en-US')}${unit}`
    : `${s.median.toLocaleString('en-US')}${unit} (${s.min.toLocaleString('en-US')}–${s.max.toLocaleString('en-US')})`;

/** µs added to a request by the route, per round, against the no-plugin route of the same round. */
export function addedPerRound(rows: E2eRow[], route: string): number[] {
  return rows
    .filter((r) => r.route === route)
    .flatMap((row) => {
      const none = rows.find((r) => r.route === NO_PLUGIN && r.round === row.round);
      return none ? [1e6 / row.requestsPerSecond - 1e6 / none.requestsPerSecond] : [];
    });
}

/** Each route's medians over the rounds, its spread and its counts. */
export function e2eLines(result: E2eResult): E2eLine[] {
  const names = [...new Set(result.rows.map((r) => r.route))];
  return names.map((route) => {
    const rows = result.rows.filter((r) => r.route === route);
    const added = addedPerRound(result.rows, route);
    return {
      route,
      requestsPerSecond: spread(rows.map((r) => r.requestsPerSecond)),
      p50Ms: round2(median(rows.map((r) => r.p50Ms))),
      p99Ms: round2(median(rows.map((r) => r.p99Ms))),
      kongCpuUsPerRequest: spread(rows.map((r) => r.kongCpuUsPerRequest)),
      serverCpuUsPerRequest: Math.round(median(rows.map((r) => r.serverCpuUsPerRequest))),
      addedUs: added.length ? spread(added) : { median: NaN, min: NaN, max: NaN },
      errors: rows.reduce((sum, r) => sum + r.errors, 0),
      count: result.counts.find((c) => c.route === route),
    };
  });
}

/** Paired by round: ours' figure over a baseline's, and the median. `of` picks the figure (requests/s or µs added). */
export function pairedE2e(result: E2eResult, ours: string, baseline: string, of: 'rps' | 'added'): { median: number; each: number[] } {
  const figure = (route: string, round: number): number | undefined => {
    const row = result.rows.find((r) => r.route === route && r.round === round);
    if (!row) return undefined;
    if (of === 'rps') return row.requestsPerSecond;
    const none = result.rows.find((r) => r.route === NO_PLUGIN && r.round === round);
    return none ? 1e6 / row.requestsPerSecond - 1e6 / none.requestsPerSecond : undefined;
  };
  const each: number[] = [];
  for (let round = 0; round < result.rounds; round++) {
    const a = figure(ours, round);
    const b = figure(baseline, round);
    if (a !== undefined && b !== undefined) each.push(round2(a / b));
  }
  return { median: each.length ? round2(median(each)) : NaN, each };
}
