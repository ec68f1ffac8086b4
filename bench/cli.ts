import { parseArgs } from 'node:util';

/** The command line of `node dist/bench/run.js` (bench/README.md): which job, which sections and servers, and the sizes. */
export const SECTIONS = ['micro', 'throughput', 'scenarios', 'key-set', 'fixed-rate', 'status', 'memory', 'e2e'] as const;
export type Section = (typeof SECTIONS)[number];
export const SERVER_KINDS = ['kong-pdk', 'floor', 'ours'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];
/** Each variant: environment variables for ours (BENCH_CLI, BENCH_NODE_FLAGS, BENCH_SAMPLED_SHARE among them). */
export type Variants = Record<string, Record<string, string>>;

export const USAGE = `usage: node dist/bench/run.js [options]
  --soak | --profile | --variants '{"a":{},"b":{"TELEMETRY_MODE":"off"}}' [--rate 1000]   one job instead of the benchmark
  --smoke                         tiny sizes, to check the machinery
  --only ${SECTIONS.join(',')}
  --servers ${SERVER_KINDS.join(',')}
  --levels 1,8,32,64  --rounds 5  --window <s>  --warmup <s>
(bench/README.md says what each does)`;

export interface Settings {
  /** Seconds measured per row (`--window`, to see whether a difference outlives a short run). */
  window: number;
  /**
   * Seconds of warm-up and of measurement at the other levels (1, 8, 64): one round each, shown but not the
   * targets'. Shorter than at the targets' level, so that make bench stays under 10 minutes on a slow spell.
   */
  otherLevels: { warmupSeconds: number; seconds: number };
  /**
   * Seconds of load before each measurement (`--warmup`; twice that at the fixed rate, which reaches fewer events).
   * Each measurement starts a fresh process: with 1 s, V8 was still optimizing and our tracer had not
   * made its first export (its first export loads and compiles the exporter's code), which read as a
   * steady cost of ~3 µs per event and a fixed-rate p99 of 2–5 ms that a warm process does not have.
   */
  warmup: number;
  levels: number[];
  /**
   * The targets' level runs this many interleaved rounds (`--rounds`); the ratio is the median of the paired
   * ones. Five, not three: a round can swing by ±10 %, and a ratio may sit near its target.
   */
  rounds: number;
  barLevel: number;
  microSeconds: number;
  /** 8 s at 1,000/s: the p99 is the 80th slowest of 8,000 events, less at the mercy of one stall than of 6,000. */
  fixedRateSeconds: number;
  scrapeSeconds: number;
  memoryTokens: number;
  soakSeconds: number;
  /**
   * Seconds of the soak's load before the measured ten minutes (`SOAK_SETTLE_SECONDS`). V8 sizes its heap
   * over the first minutes (heap committed 34 → 37 MB while the live heap after each collection stays at
   * 14 MB), which a 10-minute slope taken from the start reads as growth.
   */
  soakSettleSeconds: number;
  coldConsumers: number;
  /** Seconds of each window of the in-process feature costs (bench/feature-costs.ts), 4× the rounds of them. */
  featureCostWindowSeconds: number;
  /**
   * The end-to-end part (wrk through Kong's bridge): `rounds` interleaved rounds of `seconds` per route at
   * `connections`, after `warmupSeconds` per route; then `countRequests` requests per route in the counting pass.
   * wrk takes whole seconds. 9 routes × 3 rounds × 5 s: about 2.5 minutes.
   */
  e2e: { connections: number; seconds: number; warmupSeconds: number; rounds: number; countRequests: number };
}

export interface BenchArgs {
  /** `--profile`, then `--variants`, then `--soak` win over the benchmark, in that order. */
  job: 'bench' | 'profile' | 'variants' | 'soak';
  smoke: boolean;
  /** `--only`: a subset of the sections, for working on one figure. */
  only?: Set<Section>;
  /** `--servers`: throughput (and profile) rows of these server kinds only, for A/B work on one. */
  servers?: Set<ServerKind>;
  variants?: Variants;
  /** `--rate` with `--variants`: at that fixed rate (8 connections) instead of closed loop, for the latency tail. */
  rate?: number;
  settings: Settings;
}

/** Thrown for a command line the bench cannot run; run.ts prints it with the usage. */
export class UsageError extends Error {}

function number(flag: string, value: string | undefined, min: number, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} takes ${integer ? 'a whole number' : 'a number'} of at least ${min}, not ${JSON.stringify(value)}`);
  }
  return n;
}

function listOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): Set<T> | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',');
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length)
    throw new UsageError(`--${flag}: unknown ${unknown.map((u) => JSON.stringify(u)).join(', ')}; one or more of ${allowed.join(',')}`);
  return new Set(items as T[]);
}

function variantsOf(value: string | undefined): Variants | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new UsageError(`--variants is not JSON: ${(err as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (
    !isObject(parsed) ||
    Object.keys(parsed).length === 0 ||
    !Object.values(parsed).every((env) => isObject(env) && Object.values(env).every((v) => typeof v === 'string'))
  ) {
    throw new UsageError('--variants takes a JSON object of variants, each an object of environment variables with string values');
  }
  return parsed as Variants;
}

function environmentNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new UsageError(`${name} takes a whole number, not ${JSON.stringify(value)}`);
  return n;
}

const OPTIONS = {
  smoke: { type: 'boolean', default: false },
  soak: { type: 'boolean', default: false },
  profile: { type: 'boolean', default: false },
  only: { type: 'string' },
  servers: { type: 'string' },
  variants: { type: 'string' },
  rate: { type: 'string' },
  levels: { type: 'string' },
  rounds: { type: 'string' },
  window: { type: 'string' },
  warmup: { type: 'string' },
} as const;

/** The flags as given; an unknown flag, a missing value or a positional argument is a UsageError. */
function flags(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function parseBenchArgs(args: string[], env: NodeJS.ProcessEnv = process.env): BenchArgs {
  const values = flags(args);
  const smoke = values.smoke;
  const window = number('window', values.window, 0.01);
  const warmup = number('warmup', values.warmup, 0);
  const variants = variantsOf(values.variants);
  const levels = values.levels?.split(',').map((level) => number('levels', level, 1, true) as number);
  const settings: Settings = {
    window: window ?? (smoke ? 0.5 : 3),
    otherLevels: { warmupSeconds: warmup ?? (smoke ? 0.2 : 2), seconds: window ?? (smoke ? 0.5 : 2) },
    warmup: warmup ?? (smoke ? 0.2 : 3),
    levels: levels ?? (smoke ? [8] : [1, 8, 32, 64]),
    rounds: number('rounds', values.rounds, 1, true) ?? (smoke ? 1 : 5),
    barLevel: smoke ? 8 : 32,
    microSeconds: smoke ? 0.05 : 0.7,
    fixedRateSeconds: smoke ? 0.5 : 8,
    scrapeSeconds: smoke ? 0.5 : 3,
    memoryTokens: environmentNumber(env, 'BENCH_MEMORY_TOKENS', smoke ? 2_000 : 1_000_000),
    soakSeconds: environmentNumber(env, 'SOAK_SECONDS', 600),
    soakSettleSeconds: environmentNumber(env, 'SOAK_SETTLE_SECONDS', 300),
    coldConsumers: smoke ? 2_000 : 60_000,
    featureCostWindowSeconds: smoke ? 0.1 : 0.5,
    e2e: smoke
      ? { connections: 8, seconds: 1, warmupSeconds: 0, rounds: 1, countRequests: 5 }
      : { connections: 32, seconds: 5, warmupSeconds: 2, rounds: 3, countRequests: 50 },
  };
  return {
    job: values.profile ? 'profile' : variants ? 'variants' : values.soak ? 'soak' : 'bench',
    smoke,
    only: listOf('only', values.only, SECTIONS),
    servers: listOf('servers', values.servers, SERVER_KINDS),
    variants,
    rate: number('rate', values.rate, 1),
    settings,
  };
}
