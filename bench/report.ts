import { cpus } from 'node:os';
import { DRIVER_BOUND, type Row } from './harness.js';
import type { E2eResult } from './e2e.js';
import { e2eLines, showSpread } from './e2e-summary.js';
import type { MemoryResult } from './memory.js';
import type { MicroRow } from './micro.js';
import type { ScrapeResult } from './scrape.js';
import type { BarLine } from './targets.js';

/** What `make bench` prints: the targets first, then every section's rows. */
export interface BenchResults {
  micro: MicroRow[];
  rows: Row[];
  scrapes: ScrapeResult[];
  memory?: MemoryResult;
  e2e?: E2eResult;
  bar: BarLine[];
}

/** The end-to-end tables: per route, medians over the rounds (min–max), and the counting pass. */
function e2eReport(result: E2eResult): string[] {
  const lines = e2eLines(result);
  const counted = (n: number | undefined) => (n === undefined ? '–' : n.toLocaleString('en-US'));
  return [
    `### End to end through Kong's own plugin-server bridge (wrk, ${result.connections} connections, ${result.rounds} interleaved rounds of ${result.seconds} s; medians, min–max)`,
    table(
      [
        'route',
        'requests/s',
        'added to a request',
        'p50 ms',
        'p99 ms',
        'Kong CPU µs/req',
        'server CPU µs/req',
        'round trips/req',
        'bytes/req Kong→server',
        'bytes/req server→Kong',
        'errors',
      ],
      lines.map((l) => [
        l.route,
        showSpread(l.requestsPerSecond),
        Number.isNaN(l.addedUs.median) || l.route === 'no plugin' ? '–' : showSpread(l.addedUs, ' µs'),
        l.p50Ms,
        l.p99Ms,
        showSpread(l.kongCpuUsPerRequest),
        l.serverCpuUsPerRequest,
        counted(l.count?.roundTripsPerRequest),
        counted(l.count?.bytesInPerRequest),
        counted(l.count?.bytesOutPerRequest),
        l.errors,
      ]),
    ),
    '### End to end: the calls of one request (counting pass)',
    table(
      ['route', "Kong's RPCs", 'PDK calls the server asked for'],
      result.counts.filter((c) => c.rpcs.length).map((c) => [c.route, c.rpcs.join(' → '), c.pdkCalls.join(' → ')]),
    ),
    `RSS at the end: ${Object.entries(result.rssMb)
      .map(([name, mb]) => `${name} ${mb} MB`)
      .join(', ')}`,
  ];
}

export function table(header: string[], body: Array<Array<string | number>>): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function report(results: BenchResults, opts: { barLevel: number; smoke: boolean }): string {
  // At a fixed rate the driver spins between events by design: only closed-loop rows can be driver-bound.
  const bound = (r: Row) => (r.rate === undefined && r.driverUtil >= DRIVER_BOUND ? ' (driver-bound)' : '');
  const runRows = (group: string) => results.rows.filter((r) => r.group === group);
  const perRun = (rows: Row[]) =>
    table(
      [
        'server',
        'conc',
        'round',
        'events/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'server µs/event',
        'server util',
        'driver util',
        'RSS MB',
        'errors',
      ],
      rows.map((r) => [
        r.server,
        r.concurrency,
        r.round + 1,
        `${r.eventsPerSecond}${bound(r)}`,
        r.p50Ms,
        r.p95Ms,
        r.p99Ms,
        r.serverCpuUsPerEvent,
        r.serverUtil,
        r.driverUtil,
        r.serverRssMb,
        r.errors,
      ]),
    );
  const out = [
    `## kong-auth-sidecar benchmark — ${new Date().toISOString()} — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}${opts.smoke ? ' — SMOKE (figures meaningless)' : ''}`,
    '### The targets',
    table(
      ['figure', 'measured', 'target', 'met'],
      results.bar.map((b) => [b.figure, b.measured, b.bar, b.met === null ? '–' : b.met ? 'yes' : 'NO']),
    ),
    '### Throughput, issuer (closed loop, one RPC in flight per connection)',
    perRun(runRows('issuer')),
    '### Throughput, gate',
    perRun(runRows('gate')),
    '### Noop (transport ceiling of the kong-pdk server)',
    perRun(runRows('noop')),
    '### Scenarios (ours, c=' + opts.barLevel + ')',
    perRun(runRows('scenario')),
    '### Feature costs (ours with and without a feature, interleaved rounds; the targets take the paired differences)',
    perRun(runRows('feature-cost')),
    '### Key set (ours, c=' + opts.barLevel + '): issuing and gating with each algorithm',
    perRun(runRows('key-set')),
    '### Fixed rate: 1,000 events/s, 8 connections (latency from the scheduled time)',
    perRun(runRows('fixed-rate')),
    '### Status port: 100 concurrent scrapers, while issuing at 1,000 events/s',
    table(
      ['path', 'requests/s', 'p50 ms', 'p95 ms', 'p99 ms', 'failures'],
      results.scrapes.map((s) => [s.path, s.requestsPerSecond, s.p50Ms, s.p95Ms, s.p99Ms, s.failures]),
    ),
    '### Raw costs (one process, pinned)',
    table(
      ['operation', 'in flight', 'ops/s', 'CPU µs/op'],
      results.micro.map((m) => [m.operation, m.inFlight, m.opsPerSecond, m.cpuMicrosPerOp]),
    ),
  ];
  if (results.e2e) out.push(...e2eReport(results.e2e));
  if (results.memory) {
    const m = results.memory;
    out.push(
      '### Memory (ours)',
      `${m.tokens.toLocaleString('en-US')} tokens in ${m.seconds} s: RSS ${m.rssAfterMb} MB, heap used ${m.heapUsedAfterMb} MB, events left ${m.inFlightEventsAfter}, RSS slope (second half) ${m.rssSlopeMbPerHour} MB/h; RSS every 10 s: ${m.rssSamplesMb.filter((_, i) => i % 10 === 0).join(', ')}`,
    );
  }
  return out.join('\n\n') + '\n';
}
