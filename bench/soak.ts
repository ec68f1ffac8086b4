import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bench } from './harness.js';
import { memory, type MemoryResult } from './memory.js';
import { retainedSlopePerHour } from './stats.js';

/**
 * `make soak`: ours at 2,000 tokens/s, `soakSettleSeconds` of settling then `soakSeconds` measured, RSS every
 * second and the heap every 2 s; saved as soak-<date>.json, which later `make bench` runs print.
 */
export async function soak(bench: Bench, resultsDir: string, date: string): Promise<void> {
  const S = bench.settings;
  process.stderr.write(`soak: ${S.soakSettleSeconds} s of settling, then ${S.soakSeconds} s measured, at 2,000 tokens/s\n`);
  const result = await memory(bench, Number.MAX_SAFE_INTEGER, 2_000, S.soakSeconds, S.soakSettleSeconds);
  const file = join(resultsDir, `soak-${date}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  const slopes = soakSlopes(result);
  process.stdout.write(
    `soak: ${result.tokens} tokens in ${result.seconds} s, RSS ${result.rssAfterMb} MB; slope of per-minute RSS minima after the settling ${slopes.measured} MB/h (from the first minute ${slopes.fromFirstMinute} MB/h), of the live heap ${slopes.liveHeap} MB/h; events left ${result.inFlightEventsAfter}\nresults: ${file}\n`,
  );
}

/** The newest soak-*.json in `resultsDir`. */
export function latestSoak(resultsDir: string): { file: string; result: MemoryResult } | undefined {
  const files = existsSync(resultsDir)
    ? readdirSync(resultsDir)
        .filter((f) => /^soak-.*\.json$/.test(f))
        .sort()
    : [];
  const file = files.at(-1);
  return file ? { file, result: JSON.parse(readFileSync(join(resultsDir, file), 'utf8')) as MemoryResult } : undefined;
}

/**
 * What a soak says: the slope over the measured part (from `measuredFrom`, the end of the settling; older
 * files had none and skipped the first minute), and from the first minute.
 */
export function soakSlopes(result: MemoryResult): { measuredFrom: number; measured: number; fromFirstMinute: number; liveHeap?: number } {
  const measuredFrom = Math.max(result.settleSeconds ?? 0, 60);
  return {
    measuredFrom,
    measured: retainedSlopePerHour(result.rssSamplesMb, measuredFrom),
    fromFirstMinute: retainedSlopePerHour(result.rssSamplesMb),
    liveHeap: result.heapSamplesMb
      ? retainedSlopePerHour(result.heapSamplesMb, measuredFrom, 60 / (result.heapSampleSeconds ?? 10))
      : undefined,
  };
}
