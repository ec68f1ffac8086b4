import { gateServers, issuerServers, type Bench } from './harness.js';

/** Every server at a fixed 1,000 events/s over 8 connections, latency counted from each event's scheduled time. */
export async function fixedRate(bench: Bench): Promise<void> {
  const S = bench.settings;
  process.stderr.write('fixed rate, 1,000 events/s\n');
  // The floor shows what the machine and the driver alone add to the tail.
  for (const spec of [...issuerServers(bench), ...gateServers(bench)]) {
    await bench.measure('fixed-rate', spec, 8, 0, { rate: 1_000, seconds: S.fixedRateSeconds, warmupSeconds: 2 * S.warmup });
  }
}
