import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { argv } from 'node:process';
import { startFakeAdminApi, type FakeAdminApi } from '../kong/stand-in/fake-admin-api.js';
import { queryPluginInfo } from '../kong/stand-in/kong-harness.js';
import { validatePluginConfig } from '../kong/stand-in/kong-schema.js';
import { createKongStore } from '../kong/stand-in/kong-store.js';
import { OtlpReceiver } from '../spec/support/otlp-receiver.js';
import { CLI_PATH, NODE_FLAGS, PROJECT_ROOT, waitForSocket } from '../kong/stand-in/plugin-server-process.js';
import { freePort, startRedis, type RedisServer } from '../spec/support/redis-server.js';
import { BENCH_CONSUMER, BENCH_CREDENTIAL, coldConsumer, type DriverOptions, type DriverResult, type RequestKind } from './driver.js';
import type { MicroRow } from './micro.js';
import { topCosts } from './profile.js';
import { scrapeUnderLoad, type ScrapeResult } from './scrape.js';

/**
 * `make bench`: our plugins against the bare kong-pdk 0.6.0 plugins and the floor (a minimal protocol
 * server), interleaved in one run, server pinned to core 0 and driver to core 1; then the scenarios,
 * the fixed-rate latency, the status port under scrapers, memory after 1 M tokens, and the targets with
 * every ratio. Writes bench/results/<date>.json. `--smoke`: tiny sizes, to check the machinery in
 * `make test`. `--soak`: only the 10-minute RSS soak (`make soak`), saved for later runs to print.
 */
const smoke = argv.includes('--smoke');
const soakOnly = argv.includes('--soak');
const profileOnly = argv.includes('--profile');
/** The word after `--name` on the command line, when given. */
const flagValue = (name: string): string | undefined => (argv.includes(name) ? String(argv[argv.indexOf(name) + 1]) : undefined);
/** `--name a,b` as a set, when given. */
const flagSet = (name: string): Set<string> | undefined => {
  const value = flagValue(name);
  return value === undefined ? undefined : new Set(value.split(','));
};
/** `--only throughput,memory`: a subset of the sections, for working on one figure. */
const only = flagSet('--only');
const wanted = (section: string) => !only || only.has(section);
/** `--variants {…}`: see compareVariants. */
const variantsFlag = flagValue('--variants');
const variants = variantsFlag !== undefined ? (JSON.parse(variantsFlag) as Record<string, Record<string, string>>) : undefined;
/** `--servers ours`: throughput rows of these server kinds only (kong-pdk, floor, ours), for A/B work on one. */
const serverKinds = flagSet('--servers');
/** `--window` / `--warmup` given on the command line: every level then uses them. */
const windowFlag = flagValue('--window');
const warmupFlag = flagValue('--warmup');
const S = {
  /** Seconds measured per row (`--window`, to see whether a difference outlives a short run). */
  window: Number(windowFlag ?? (smoke ? 0.5 : 3)),
  /**
   * Seconds of warm-up and of measurement at the other levels (1, 8, 64): one round each, shown but not the
   * targets'. Shorter than at the targets' level, so that make bench stays under 10 minutes on a slow spell.
   */
  otherLevels: { warmupSeconds: Number(warmupFlag ?? (smoke ? 0.2 : 2)), seconds: Number(windowFlag ?? (smoke ? 0.5 : 2)) },
  /**
   * Seconds of load before each measurement (`--warmup`; twice that at the fixed rate, which reaches fewer events).
   * Each measurement starts a fresh process: with 1 s, V8 was still optimizing and our tracer had not
   * made its first export (its first export loads and compiles the exporter's code), which read as a
   * steady cost of ~3 µs per event and a fixed-rate p99 of 2–5 ms that a warm process does not have.
   */
  warmup: Number(warmupFlag ?? (smoke ? 0.2 : 3)),
  levels: flagValue('--levels')?.split(',').map(Number) ?? (smoke ? [8] : [1, 8, 32, 64]),
  /**
   * The targets' level runs this many interleaved rounds (`--rounds`); the ratio is the median of the paired
   * ones. Five, not three: a round can swing by ±10 %, and a ratio may sit near its target.
   */
  rounds: Number(flagValue('--rounds') ?? (smoke ? 1 : 5)),
  barLevel: smoke ? 8 : 32,
  microSeconds: smoke ? 0.05 : 0.7,
  /** 8 s at 1,000/s: the p99 is the 80th slowest of 8,000 events, less at the mercy of one stall than of 6,000. */
  fixedRateSeconds: smoke ? 0.5 : 8,
  scrapeSeconds: smoke ? 0.5 : 3,
  memoryTokens: Number(process.env.BENCH_MEMORY_TOKENS ?? (smoke ? 2_000 : 1_000_000)),
  soakSeconds: Number(process.env.SOAK_SECONDS ?? 600),
  /**
   * Seconds of the soak's load before the measured ten minutes (`SOAK_SETTLE_SECONDS`). V8 sizes its heap
   * over the first minutes (heap committed 34 → 37 MB while the live heap after each collection stays at
   * 14 MB), which a 10-minute slope taken from the start reads as growth.
   */
  soakSettleSeconds: Number(process.env.SOAK_SETTLE_SECONDS ?? 300),
  coldConsumers: smoke ? 2_000 : 60_000,
};
const DRIVER_BOUND = 0.9;
const pin = (core: number) => (cpus().length > 1 ? ['taskset', '-c', String(core)] : []);

type ServerKind = 'kong-pdk' | 'floor' | 'ours';

interface ServerSpec {
  name: string;
  kind: ServerKind;
  plugin: string;
  request: RequestKind;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  sampledShare?: number;
  nodeFlags?: string[];
}

interface Running {
  pid: number;
  socket: string;
  statusUrl?: string;
  stop(): Promise<void>;
  /** SIGINT: the process drains and exits by itself (writes its --cpu-prof file). */
  stopGracefully(): Promise<void>;
}

interface Row extends DriverResult {
  group: string;
  server: string;
  concurrency: number;
  round: number;
  rate?: number;
}

function spawnPinned(core: number, args: string[], env: Record<string, string> = {}): ChildProcess {
  const [command, ...rest] = [...pin(core), process.execPath, ...args];
  return spawn(command as string, rest, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

class Bench {
  readonly dir = mkdtempSync(join(tmpdir(), 'kas-bench-'));
  readonly rows: Row[] = [];
  private configs: Record<string, Record<string, unknown>> = {};

  constructor(readonly admin: FakeAdminApi, readonly otlp: OtlpReceiver) {}

  async loadConfigs(): Promise<void> {
    const validated = async (plugin: string, raw: Record<string, unknown>) => {
      const result = validatePluginConfig(await queryPluginInfo(plugin), raw);
      if (!result.ok) throw new Error(`bench config for ${plugin} does not validate`);
      return result.config;
    };
    const issuer = { issuer: 'https://issuer.bench', audience: ['api'], unique_name_prefix: 'corp#' };
    this.configs = {
      issuer: await validated('token-issuer', issuer),
      issuerRedis: await validated('token-issuer', { ...issuer, rate_limit_per_minute: 1_000_000 }),
      endpoint: await validated('token-validator', { mode: 'endpoint' }),
      gate: await validated('token-validator', { mode: 'gate' }),
    };
  }

  config(name: string): Record<string, unknown> {
    return this.configs[name] as Record<string, unknown>;
  }

  /** Ours as a sidecar runs it: production mode, tracing to a real OTLP receiver. */
  oursEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      KONG_ADMIN_URL: this.admin.url, KONG_ADMIN_TOKEN: 'bench-admin-token-0123456789', STATUS_HOST: '127.0.0.1', NODE_ENV: 'production',
      TELEMETRY_MODE: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: this.otlp.endpoint.replace(/\/v1\/traces$/, ''), ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      ...(process.env.BENCH_ENV ? (JSON.parse(process.env.BENCH_ENV) as Record<string, string>) : {}), ...extra,
    };
  }

  async start(spec: ServerSpec): Promise<Running> {
    const socket = join(this.dir, `${spec.kind}.sock`);
    let child: ChildProcess;
    let statusUrl: string | undefined;
    if (spec.kind === 'kong-pdk') child = spawnPinned(0, [...(spec.nodeFlags ?? []), join(PROJECT_ROOT, 'bench/baselines/kong-pdk-server.cjs'), socket]);
    else if (spec.kind === 'floor') child = spawnPinned(0, [...(spec.nodeFlags ?? []), join(PROJECT_ROOT, 'bench/baselines/floor-server.cjs'), socket]);
    else {
      const port = await freePort();
      statusUrl = `http://127.0.0.1:${port}`;
      // BENCH_CLI: another build of ours (a copy of dist/ before a change), for --variants.
      // BENCH_NODE_FLAGS (space-separated): instead of the deployed NODE_FLAGS, for --variants (or, from the
      // environment, for every run of ours: the memory phase and the soak have no variants).
      const benchNodeFlags = spec.env?.BENCH_NODE_FLAGS ?? process.env.BENCH_NODE_FLAGS;
      const nodeFlags = benchNodeFlags !== undefined ? benchNodeFlags.split(' ').filter(Boolean) : NODE_FLAGS;
      child = spawnPinned(0, [...nodeFlags, ...(spec.nodeFlags ?? []), spec.env?.BENCH_CLI ?? CLI_PATH, '--kong-prefix', this.dir, '--sock-name', `${spec.kind}.sock`], { ...this.oursEnv(spec.env), STATUS_PORT: String(port) });
    }
    await waitForSocket(socket);
    return {
      pid: child.pid as number,
      socket,
      statusUrl,
      stop: async () => {
        await stopChild(child);
        rmSync(socket, { force: true });
      },
      stopGracefully: async () => {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      },
    };
  }

  async drive(running: Running, spec: ServerSpec, options: Partial<DriverOptions>): Promise<DriverResult> {
    const opts: DriverOptions = {
      socket: running.socket, plugin: spec.plugin, config: spec.config ?? {}, request: spec.request, concurrency: S.barLevel,
      seconds: S.window, warmupSeconds: S.warmup, serverPid: running.pid, sampledShare: spec.sampledShare ?? 0.01, ...options,
    };
    const child = spawn(pin(1)[0] ?? process.execPath, [...pin(1).slice(1), ...(pin(1).length ? [process.execPath] : []), ...(process.env.BENCH_DRIVER_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_DRIVER_PROFILE_DIR}`] : []), join(PROJECT_ROOT, 'dist/bench/driver.js'), JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`driver exited ${code}`);
    return JSON.parse(out.trim().split('\n').pop() as string) as DriverResult;
  }

  /** A fresh server process per measurement, so no heap is carried from one to the next. */
  async measure(group: string, spec: ServerSpec, concurrency: number, round: number, options: Partial<DriverOptions> = {}): Promise<Row> {
    const running = await this.start(spec);
    try {
      const result = await this.drive(running, spec, { concurrency, ...options });
      const row: Row = { group, server: spec.name, concurrency, round, rate: options.rate, ...result, rssSamplesMb: [] };
      this.rows.push(row);
      process.stderr.write(`  ${group} | ${spec.name} | c=${concurrency}${options.rate ? ` @${options.rate}/s` : ''} | ${row.eventsPerSecond}/s p50 ${row.p50Ms} p95 ${row.p95Ms} p99 ${row.p99Ms} ms | server ${row.serverCpuUsPerEvent} µs/event | errors ${row.errors}\n`);
      return row;
    } finally {
      // A variant run with --cpu-prof or --heap-prof in BENCH_NODE_FLAGS writes its profile on a graceful exit only.
      await (/--(cpu|heap)-prof\b/.test(spec.env?.BENCH_NODE_FLAGS ?? '') ? running.stopGracefully() : running.stop());
    }
  }

  async close(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function issuerServers(bench: Bench): ServerSpec[] {
  return [
    { name: 'kong-pdk bare issuer', kind: 'kong-pdk', plugin: 'bare-issuer', request: 'issue' },
    { name: 'floor issuer', kind: 'floor', plugin: 'floor', request: 'issue' },
    { name: 'ours token-issuer', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: bench.config('issuer') },
  ];
}

function gateServers(bench: Bench): ServerSpec[] {
  return [
    { name: 'kong-pdk bare gate', kind: 'kong-pdk', plugin: 'bare-gate', request: 'gate' },
    { name: 'floor gate', kind: 'floor', plugin: 'floor-gate', request: 'gate' },
    { name: 'ours token-validator gate', kind: 'ours', plugin: 'token-validator', request: 'gate', config: bench.config('gate') },
  ];
}

async function throughput(bench: Bench): Promise<void> {
  process.stderr.write('throughput (interleaved)\n');
  for (const [group, servers] of [['issuer', issuerServers(bench)], ['gate', gateServers(bench)]] as const) {
    for (const level of S.levels) {
      const rounds = level === S.barLevel ? S.rounds : 1;
      for (let round = 0; round < rounds; round++) {
        const picked = servers.filter((spec) => !serverKinds || serverKinds.has(spec.kind));
        const order = round % 2 === 0 ? picked : [...picked].reverse();
        for (const spec of order) await bench.measure(group, spec, level, round, level === S.barLevel ? {} : S.otherLevels);
      }
    }
  }
  if (!serverKinds || serverKinds.has('kong-pdk')) await bench.measure('noop', { name: 'kong-pdk noop', kind: 'kong-pdk', plugin: 'noop', request: 'gate' }, S.barLevel, 0);
}

async function scenarios(bench: Bench): Promise<void> {
  process.stderr.write('scenarios (ours)\n');
  const issuer = bench.config('issuer');
  await bench.measure('scenario', { name: 'issue, warm (tracing 1 % sampled)', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: issuer }, S.barLevel, 0);
  await bench.measure('scenario', { name: 'issue, tracing off', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: issuer, env: { TELEMETRY_MODE: 'off' } }, S.barLevel, 0);
  await bench.measure('scenario', { name: 'issue, no per-token log line (EVENT_LOG_LEVEL=debug)', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: issuer, env: { EVENT_LOG_LEVEL: 'debug' } }, S.barLevel, 0);
  await bench.measure('scenario', { name: 'issue, tracing every request (otlp)', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: issuer, sampledShare: 1 }, S.barLevel, 0);
  await bench.measure('scenario', { name: 'issue, cold (new consumer per request)', kind: 'ours', plugin: 'token-issuer', request: 'issue-cold', config: issuer }, S.barLevel, 0);
  await bench.measure('scenario', { name: 'validate endpoint', kind: 'ours', plugin: 'token-validator', request: 'validate', config: bench.config('endpoint') }, S.barLevel, 0);
  await bench.measure('scenario', { name: 'gate', kind: 'ours', plugin: 'token-validator', request: 'gate', config: bench.config('gate') }, S.barLevel, 0);
  let redis: RedisServer | undefined;
  try {
    redis = await startRedis();
  } catch (err) {
    process.stderr.write(`  issue with Redis: skipped, redis-server did not start (${(err as Error).message})\n`);
  }
  if (redis) {
    try {
      await bench.measure('scenario', { name: 'issue, Redis on (rate limit + cache)', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: bench.config('issuerRedis'), env: { REDIS_URL: redis.url } }, S.barLevel, 0);
    } finally {
      await redis.stop();
    }
  }
  await adminApiDown(bench);
}

/** Fresh copies expire after 1 s; then the Admin API goes down and every token comes from the stale copy. */
async function adminApiDown(bench: Bench): Promise<void> {
  const spec: ServerSpec = { name: 'issue, Admin API down (stale copy)', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: bench.config('issuer'), env: { CACHE_TTL_SECONDS: '1' } };
  const running = await bench.start(spec);
  try {
    await bench.drive(running, spec, { concurrency: 1, seconds: 0.2, warmupSeconds: 0 });
    bench.admin.setFault({ kind: 'down' });
    await new Promise((r) => setTimeout(r, 1_200));
    const result = await bench.drive(running, spec, { concurrency: S.barLevel });
    bench.rows.push({ group: 'scenario', server: spec.name, concurrency: S.barLevel, round: 0, ...result });
    process.stderr.write(`  scenario | ${spec.name} | ${result.eventsPerSecond}/s | errors ${result.errors}\n`);
  } finally {
    bench.admin.setFault(undefined);
    await running.stop();
  }
}

async function fixedRate(bench: Bench): Promise<void> {
  process.stderr.write('fixed rate, 1,000 events/s\n');
  // The floor shows what the machine and the driver alone add to the tail.
  for (const spec of [...issuerServers(bench), ...gateServers(bench)]) {
    await bench.measure('fixed-rate', spec, 8, 0, { rate: 1_000, seconds: S.fixedRateSeconds, warmupSeconds: 2 * S.warmup });
  }
}

async function statusPort(bench: Bench): Promise<ScrapeResult[]> {
  process.stderr.write('status port, 100 concurrent scrapers while issuing at 1,000 events/s\n');
  const spec = issuerServers(bench)[2] as ServerSpec;
  const running = await bench.start(spec);
  try {
    const load = bench.drive(running, spec, { concurrency: 8, rate: 1_000, seconds: 2 * S.scrapeSeconds + 1, warmupSeconds: 0 });
    const results: ScrapeResult[] = [];
    for (const path of ['/health', '/metrics']) results.push(await scrapeUnderLoad(`${running.statusUrl}${path}`, 100, S.scrapeSeconds));
    await load;
    return results;
  } finally {
    await running.stop();
  }
}

interface MemoryResult {
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

/** Least-squares slope of samples taken once a second, in MB per hour. */
function slopePerHour(samples: number[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = samples.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  samples.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return Math.round((num / den) * 3600 * 10) / 10;
}

/**
 * The slope of what the process keeps: the lowest RSS of each minute (the floor a garbage collection
 * returns to) from `fromSecond` on, in MB per hour. Raw samples swing ±20 MB with V8's collections, so
 * their least-squares slope over a few minutes says more about where the sawtooth stood than about a leak.
 */
function retainedSlopePerHour(samples: number[], fromSecond = 60, samplesPerMinute = 60): number {
  const minima: number[] = [];
  for (let start = fromSecond * samplesPerMinute / 60; start + samplesPerMinute <= samples.length; start += samplesPerMinute) minima.push(Math.min(...samples.slice(start, start + samplesPerMinute)));
  return Math.round(slopePerHour(minima) / 60 * 10) / 10;
}

const HEAP_SAMPLE_SECONDS = 2;

/**
 * What a soak says: the slope over the measured part (from `measuredFrom`, the end of the settling; older
 * files had none and skipped the first minute), and from the first minute.
 */
function soakSlopes(soak: MemoryResult): { measuredFrom: number; measured: number; fromFirstMinute: number; liveHeap?: number } {
  const measuredFrom = Math.max(soak.settleSeconds ?? 0, 60);
  return {
    measuredFrom,
    measured: retainedSlopePerHour(soak.rssSamplesMb, measuredFrom),
    fromFirstMinute: retainedSlopePerHour(soak.rssSamplesMb),
    liveHeap: soak.heapSamplesMb ? retainedSlopePerHour(soak.heapSamplesMb, measuredFrom, 60 / (soak.heapSampleSeconds ?? 10)) : undefined,
  };
}

async function metricValue(statusUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${statusUrl}/metrics/prometheus`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(' ').pop() ?? NaN);
}

/**
 * Ours issuing N tokens at full speed (or at `rate` for `seconds` after `settleSeconds`), RSS every second;
 * the raw slope is read over the second half (after the heap settled).
 */
async function memory(bench: Bench, tokens: number, rate?: number, seconds = 3_600, settleSeconds = 0): Promise<MemoryResult> {
  const spec = issuerServers(bench)[2] as ServerSpec;
  const running = await bench.start(spec);
  const statusUrl = running.statusUrl as string;
  const heapSamplesMb: number[] = [];
  const heapUsedMb = async () => Math.round((await metricValue(statusUrl, 'kong_auth_nodejs_heap_size_used_bytes')) / 104857.6) / 10;
  // The soak (a fixed rate) also samples the heap; the full-speed run is too short for a trend.
  const soaking = rate !== undefined;
  const heapSampler = soaking ? setInterval(() => void heapUsedMb().then((mb) => heapSamplesMb.push(mb), () => undefined), HEAP_SAMPLE_SECONDS * 1000) : undefined;
  try {
    const result = await bench.drive(running, spec, { maxEvents: tokens, seconds: settleSeconds + seconds, warmupSeconds: 0, rssEverySecond: true, rate, concurrency: rate ? 8 : S.barLevel });
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

/**
 * `--variants '{"a":{},"b":{"TELEMETRY_MODE":"off"}}'`: ours under the targets' load with each set of
 * environment variables, interleaved over `--rounds` rounds (5 by default); the median server CPU per
 * event of each. For weighing one change or setting on this noisy VM, where only a same-run comparison holds.
 */
async function compareVariants(bench: Bench, named: Record<string, Record<string, string>>): Promise<void> {
  const rounds = S.rounds;
  // `--rate 1000`: at that fixed rate (8 connections) instead of closed loop, for the latency tail.
  const rateFlag = flagValue('--rate');
  const rate = rateFlag !== undefined ? Number(rateFlag) : undefined;
  for (const [group, spec] of [['issuer', issuerServers(bench)[2]], ['gate', gateServers(bench)[2]]] as const) {
    const cpu: Record<string, number[]> = {};
    const p99: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      const names = Object.keys(named);
      for (const name of round % 2 === 0 ? names : names.reverse()) {
        // BENCH_SAMPLED_SHARE: the share of requests whose traceparent says "sampled" (1 % otherwise).
        const share = named[name]?.BENCH_SAMPLED_SHARE;
        const row = await bench.measure(group, { ...(spec as ServerSpec), name: `${group} ${name}`, env: named[name], ...(share ? { sampledShare: Number(share) } : {}) }, rate ? 8 : S.barLevel, round, rate ? { rate, seconds: S.fixedRateSeconds, warmupSeconds: 2 * S.warmup } : {});
        (cpu[name] ??= []).push(row.serverCpuUsPerEvent);
        (p99[name] ??= []).push(row.p99Ms);
      }
    }
    for (const [name, values] of Object.entries(cpu)) process.stdout.write(`${group} ${name}: median ${median(values)} µs/event (${values.join(', ')}), p99 ${median(p99[name] ?? [])} ms (${(p99[name] ?? []).join(', ')})\n`);
  }
}

/** `make profile`: ours (or the `--servers` kinds) under the targets' load with --cpu-prof; the top costs by function and by module. */
async function profile(bench: Bench): Promise<void> {
  const kinds = serverKinds ?? new Set(['ours']);
  for (const spec of [...issuerServers(bench), ...gateServers(bench)].filter((s) => kinds.has(s.kind))) {
    const dir = mkdtempSync(join(tmpdir(), 'kas-profile-'));
    const running = await bench.start({ ...spec, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
    const result = await bench.drive(running, spec, { seconds: 2 * S.window });
    await running.stopGracefully();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no CPU profile was written');
    const top = topCosts(join(dir, file), 12);
    process.stdout.write(`## ${spec.name}: ${result.eventsPerSecond} events/s under the profiler, c=${S.barLevel}, ${top.busyMs} ms busy (profile: ${join(dir, file)})\n\n`);
    process.stdout.write(`${table(['function (self time)', '% of busy'], top.functions.map((f) => [f.name, f.share]))}\n\n`);
    process.stdout.write(`${table(['module (self time)', '% of busy'], top.modules.map((m) => [m.name, m.share]))}\n\n`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Paired ratios (same round, same level) of ours over a baseline, and their median. */
function pairedRatio(rows: Row[], group: string, ours: string, baseline: string, level: number): { median: number; each: number[] } {
  const each: number[] = [];
  for (const row of rows.filter((r) => r.group === group && r.server === ours && r.concurrency === level)) {
    const base = rows.find((r) => r.group === group && r.server === baseline && r.concurrency === level && r.round === row.round);
    if (base) each.push(round2(row.eventsPerSecond / base.eventsPerSecond));
  }
  return { median: each.length ? round2(median(each)) : NaN, each };
}

interface BarLine {
  figure: string;
  measured: string;
  bar: string;
  met: boolean | null;
}

function latestSoak(): { file: string; result: MemoryResult } | undefined {
  const dir = join(PROJECT_ROOT, 'bench', 'results');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^soak-.*\.json$/.test(f)).sort() : [];
  const file = files.at(-1);
  return file ? { file, result: JSON.parse(readFileSync(join(dir, file), 'utf8')) as MemoryResult } : undefined;
}

function theBar(rows: Row[], mem: MemoryResult | undefined): BarLine[] {
  const lines: BarLine[] = [];
  const level = S.barLevel;
  for (const [group, ours, kongPdk, floor] of [
    ['issuer', 'ours token-issuer', 'kong-pdk bare issuer', 'floor issuer'],
    ['gate', 'ours token-validator gate', 'kong-pdk bare gate', 'floor gate'],
  ] as const) {
    const vsKongPdk = pairedRatio(rows, group, ours, kongPdk, level);
    const vsFloor = pairedRatio(rows, group, ours, floor, level);
    const floorDriverBound = rows.some((r) => r.server === floor && r.concurrency === level && r.driverUtil >= DRIVER_BOUND);
    lines.push({ figure: `${group}: ours / bare kong-pdk, c=${level} (median of paired rounds ${vsKongPdk.each.join(', ')})`, measured: `${vsKongPdk.median}×`, bar: '≥ 2.0×', met: vsKongPdk.median >= 2 });
    lines.push({ figure: `${group}: ours / floor, c=${level} (${vsFloor.each.join(', ')})${floorDriverBound ? ' — floor driver-bound: its figure is a lower bound' : ''}`, measured: `${vsFloor.median}×`, bar: '≥ 0.75×', met: vsFloor.median >= 0.75 });
    const fixed = rows.find((r) => r.group === 'fixed-rate' && r.server === ours);
    if (fixed) lines.push({ figure: `${group}: p99 at a fixed 1,000 events/s`, measured: `${fixed.p99Ms} ms`, bar: '≤ 1.5 ms', met: fixed.p99Ms <= 1.5 });
  }
  if (mem) {
    lines.push({ figure: `RSS after ${mem.tokens.toLocaleString('en-US')} issued tokens (heap used ${mem.heapUsedAfterMb} MB)`, measured: `${mem.rssAfterMb} MB`, bar: '≤ 100 MB', met: mem.rssAfterMb <= 100 });
    // Flat is judged over the soak: a full-speed run of 1 M tokens lasts under a minute here, one or two GC cycles.
    lines.push({ figure: 'events left in the server after the run (kong_auth_in_flight_events)', measured: String(mem.inFlightEventsAfter), bar: '0', met: mem.inFlightEventsAfter === 0 });
  }
  const soak = latestSoak();
  if (soak) {
    const slopes = soakSlopes(soak.result);
    const minutes = Math.round((soak.result.seconds - slopes.measuredFrom) / 60);
    const liveHeap = slopes.liveHeap !== undefined ? `; live heap ${slopes.liveHeap} MB/h` : '';
    lines.push({
      figure: `RSS slope over a ${minutes}-minute soak after ${Math.round(slopes.measuredFrom / 60)} minute(s) of the same load, per-minute minima (make soak, ${soak.file}; from the first minute: ${slopes.fromFirstMinute} MB/h${liveHeap}; RSS at the end ${soak.result.rssAfterMb} MB)`,
      measured: `${slopes.measured} MB/h`, bar: '< 5 MB/h', met: slopes.measured < 5,
    });
  } else {
    lines.push({ figure: 'RSS slope over a 10-minute soak', measured: 'not run yet: make soak', bar: '< 5 MB/h', met: null });
  }
  return lines;
}

function table(header: string[], body: Array<Array<string | number>>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function report(results: { micro: MicroRow[]; rows: Row[]; scrapes: ScrapeResult[]; memory?: MemoryResult; bar: BarLine[] }): string {
  // At a fixed rate the driver spins between events by design: only closed-loop rows can be driver-bound.
  const bound = (r: Row) => (r.rate === undefined && r.driverUtil >= DRIVER_BOUND ? ' (driver-bound)' : '');
  const runRows = (group: string) => results.rows.filter((r) => r.group === group);
  const perRun = (rows: Row[]) =>
    table(['server', 'conc', 'round', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'server µs/event', 'server util', 'driver util', 'RSS MB', 'errors'],
      rows.map((r) => [r.server, r.concurrency, r.round + 1, `${r.eventsPerSecond}${bound(r)}`, r.p50Ms, r.p95Ms, r.p99Ms, r.serverCpuUsPerEvent, r.serverUtil, r.driverUtil, r.serverRssMb, r.errors]));
  const out = [
    `## kong-auth-sidecar benchmark — ${new Date().toISOString()} — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}${smoke ? ' — SMOKE (figures meaningless)' : ''}`,
    '### The targets',
    table(['figure', 'measured', 'target', 'met'], results.bar.map((b) => [b.figure, b.measured, b.bar, b.met === null ? '–' : b.met ? 'yes' : 'NO'])),
    '### Throughput, issuer (closed loop, one RPC in flight per connection)',
    perRun(runRows('issuer')),
    '### Throughput, gate',
    perRun(runRows('gate')),
    '### Noop (transport ceiling of the kong-pdk server)',
    perRun(runRows('noop')),
    '### Scenarios (ours, c=' + S.barLevel + ')',
    perRun(runRows('scenario')),
    '### Fixed rate: 1,000 events/s, 8 connections (latency from the scheduled time)',
    perRun(runRows('fixed-rate')),
    '### Status port: 100 concurrent scrapers, while issuing at 1,000 events/s',
    table(['path', 'requests/s', 'p50 ms', 'p95 ms', 'p99 ms', 'failures'], results.scrapes.map((s) => [s.path, s.requestsPerSecond, s.p50Ms, s.p95Ms, s.p99Ms, s.failures])),
    '### Raw costs (one process, pinned)',
    table(['operation', 'in flight', 'ops/s', 'CPU µs/op'], results.micro.map((m) => [m.operation, m.inFlight, m.opsPerSecond, m.cpuMicrosPerOp])),
  ];
  if (results.memory) {
    const m = results.memory;
    out.push('### Memory (ours)', `${m.tokens.toLocaleString('en-US')} tokens in ${m.seconds} s: RSS ${m.rssAfterMb} MB, heap used ${m.heapUsedAfterMb} MB, events left ${m.inFlightEventsAfter}, RSS slope (second half) ${m.rssSlopeMbPerHour} MB/h; RSS every 10 s: ${m.rssSamplesMb.filter((_, i) => i % 10 === 0).join(', ')}`);
  }
  return out.join('\n\n') + '\n';
}

async function runMicro(): Promise<MicroRow[]> {
  process.stderr.write('raw costs\n');
  const child = spawn(pin(1)[0] ?? process.execPath, [...pin(1).slice(1), ...(pin(1).length ? [process.execPath] : []), join(PROJECT_ROOT, 'dist/bench/micro.js'), String(S.microSeconds), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`micro exited ${code}`);
  return JSON.parse(out.trim().split('\n').pop() as string) as MicroRow[];
}

async function main(): Promise<void> {
  const store = createKongStore();
  const consumer = store.addConsumer(BENCH_CONSUMER);
  store.addJwtCredential(consumer.id, BENCH_CREDENTIAL);
  for (let n = 0; n < S.coldConsumers; n++) store.addConsumer(coldConsumer(n));
  const admin = await startFakeAdminApi({ store, adminToken: 'bench-admin-token-0123456789' });
  const otlp = await OtlpReceiver.start();
  const bench = new Bench(admin, otlp);
  const resultsDir = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  try {
    await bench.loadConfigs();
    if (profileOnly) return await profile(bench);
    if (variants) return await compareVariants(bench, variants);
    if (soakOnly) {
      process.stderr.write(`soak: ${S.soakSettleSeconds} s of settling, then ${S.soakSeconds} s measured, at 2,000 tokens/s\n`);
      const soak = await memory(bench, Number.MAX_SAFE_INTEGER, 2_000, S.soakSeconds, S.soakSettleSeconds);
      const file = join(resultsDir, `soak-${date}.json`);
      writeFileSync(file, JSON.stringify(soak, null, 2) + '\n');
      const slopes = soakSlopes(soak);
      process.stdout.write(`soak: ${soak.tokens} tokens in ${soak.seconds} s, RSS ${soak.rssAfterMb} MB; slope of per-minute RSS minima after the settling ${slopes.measured} MB/h (from the first minute ${slopes.fromFirstMinute} MB/h), of the live heap ${slopes.liveHeap} MB/h; events left ${soak.inFlightEventsAfter}\nresults: ${file}\n`);
      return;
    }
    const micro = wanted('micro') ? await runMicro() : [];
    if (wanted('throughput')) await throughput(bench);
    if (wanted('scenarios')) await scenarios(bench);
    if (wanted('fixed-rate')) await fixedRate(bench);
    const scrapes = wanted('status') ? await statusPort(bench) : [];
    if (wanted('memory')) process.stderr.write(`memory: ${S.memoryTokens.toLocaleString('en-US')} tokens\n`);
    const mem = wanted('memory') ? await memory(bench, S.memoryTokens) : undefined;
    const results = { micro, rows: bench.rows, scrapes, memory: mem, bar: theBar(bench.rows, mem) };
    process.stdout.write(report(results));
    const file = join(resultsDir, `${date}${smoke ? '.smoke' : only ? '.partial' : ''}.json`);
    writeFileSync(file, JSON.stringify({ node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, smoke, settings: S, ...results, rows: bench.rows.map(({ rssSamplesMb: _, ...r }) => r) }, null, 2) + '\n');
    process.stdout.write(`results: ${file}\n`);
  } finally {
    await bench.close();
    await otlp.close();
    await admin.close();
  }
}

await main();
