import type { Variants } from './cli.js';
import { oursGate, oursIssuer, type Bench } from './harness.js';
import { median } from './stats.js';

/**
 * `--variants '{"a":{},"b":{"TELEMETRY_MODE":"off"}}'`: ours under the targets' load with each set of
 * environment variables, interleaved over `--rounds` rounds (5 by default); the median server CPU per
 * event of each. For weighing one change or setting on this noisy VM, where only a same-run comparison holds.
 * `rate` (`--rate 1000`): at that fixed rate (8 connections) instead of closed loop, for the latency tail.
 */
export async function compareVariants(bench: Bench, named: Variants, rate?: number): Promise<void> {
  const S = bench.settings;
  for (const [group, spec] of [
    ['issuer', oursIssuer(bench)],
    ['gate', oursGate(bench)],
  ] as const) {
    const cpu: Record<string, number[]> = {};
    const p99: Record<string, number[]> = {};
    for (let round = 0; round < S.rounds; round++) {
      const names = Object.keys(named);
      for (const name of round % 2 === 0 ? names : names.reverse()) {
        // BENCH_SAMPLED_SHARE: the share of requests whose traceparent says "sampled" (1 % otherwise).
        const share = named[name]?.BENCH_SAMPLED_SHARE;
        const row = await bench.measure(
          group,
          { ...spec, name: `${group} ${name}`, env: named[name], ...(share ? { sampledShare: Number(share) } : {}) },
          rate ? 8 : S.barLevel,
          round,
          rate ? { rate, seconds: S.fixedRateSeconds, warmupSeconds: 2 * S.warmup } : {},
        );
        (cpu[name] ??= []).push(row.serverCpuUsPerEvent);
        (p99[name] ??= []).push(row.p99Ms);
      }
    }
    for (const [name, values] of Object.entries(cpu))
      process.stdout.write(
        `${group} ${name}: median ${median(values)} µs/event (${values.join(', ')}), p99 ${median(p99[name] ?? [])} ms (${(p99[name] ?? []).join(', ')})\n`,
      );
  }
}
