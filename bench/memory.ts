import { oursIssuer, type Bench } from './harness.js';
import { slopePerHour } from './stats.js';

export interface MemoryResult {
  tokens: number;
  seconds: number;
  /** Seconds of load before the measured part (the soak's settling); samples cover both. Older files: none. */
  settleSeconds?: number;
  rssAfterMb: number;
  heapUsedAfterMb: number;
  /** V8 heap used every `heapSampleSeconds` (the soak): its per-minute minima are about the live heap after collections. */
  heapSamplesMb?: number[];
  heapSampleSeconds?: number;
  inFlightEventsAfter: number;
  rssSlopeMbPerHour: number;
  rssSamplesMb: number[];
}

const HEAP_SAMPLE_SECONDS = 2;

async function metricValue(statusUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${statusUrl}/metrics/prometheus`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(' ').pop() ?? NaN);
}

/**
 * Ours issuing N tokens at full speed (or at `rate` for `seconds` after `settleSeconds`), RSS every second;
 * the raw slope is read over the second half (after the heap settled).
 */
export async function memory(bench: Bench, tokens: number, rate?: number, seconds = 3_600, settleSeconds = 0): Promise<MemoryResult> {
  const spec = oursIssuer(bench);
  const running = await bench.start(spec);
  const statusUrl = running.statusUrl as string;
  const heapSamplesMb: number[] = [];
  const heapUsedMb = async () => Math.round((await metricValue(statusUrl, 'kong_auth_nodejs_heap_size_used_bytes')) / 104857.6) / 10;
  // The soak (a fixed rate) also samples the heap; the full-speed run is too short for a trend.
  const soaking = rate !== undefined;
  const heapSampler = soaking
    ? setInterval(
        () =>
          void heapUsedMb().then(
            (mb) => heapSamplesMb.push(mb),
            () => undefined,
          ),
        HEAP_SAMPLE_SECONDS * 1000,
      )
    : undefined;
  try {
    const result = await bench.drive(running, spec, {
      maxEvents: tokens,
      seconds: settleSeconds + seconds,
      warmupSeconds: 0,
      rssEverySecond: true,
      rate,
      concurrency: rate ? 8 : bench.settings.barLevel,
    });
    clearInterval(heapSampler);
    const samples = result.rssSamplesMb;
    return {
      tokens: result.events,
      seconds: samples.length,
      ...(soaking ? { settleSeconds, heapSamplesMb, heapSampleSeconds: HEAP_SAMPLE_SECONDS } : {}),
      rssAfterMb: result.serverRssMb,
      heapUsedAfterMb: await heapUsedMb(),
      inFlightEventsAfter: await metricValue(statusUrl, 'kong_auth_in_flight_events'),
      rssSlopeMbPerHour: slopePerHour(samples.slice(Math.floor(samples.length / 2))),
      rssSamplesMb: samples,
    };
  } finally {
    clearInterval(heapSampler);
    await running.stop();
  }
}
