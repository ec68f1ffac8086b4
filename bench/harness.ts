import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeAdminApi } from '../kong/stand-in/fake-admin-api.js';
import type { FeatureCost } from './feature-costs.js';
import { queryPluginInfo } from '../kong/stand-in/kong-harness.js';
import { validatePluginConfig } from '../kong/stand-in/kong-schema.js';
import { CLI_PATH, NODE_FLAGS, PROJECT_ROOT, waitForSocket } from '../kong/stand-in/plugin-server-process.js';
import type { OtlpReceiver } from '../spec/support/otlp-receiver.js';
import { freePort } from '../spec/support/redis-server.js';
import type { ServerKind, Settings } from './cli.js';
import type { DriverOptions, DriverResult, RequestKind } from './driver.js';
import { TOKEN_ALGORITHMS } from '../lib/tokens/signer.js';

/**
 * The processes of one bench run: a server under test (bare kong-pdk, the floor or ours) pinned to core 0,
 * the driver pinned to core 1, and one measurement of the two. With one CPU nothing is pinned.
 */
export const DRIVER_BOUND = 0.9;
export const pin = (core: number) => (cpus().length > 1 ? ['taskset', '-c', String(core)] : []);

export interface ServerSpec {
  name: string;
  kind: ServerKind;
  plugin: string;
  request: RequestKind;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  sampledShare?: number;
  nodeFlags?: string[];
  gateTokens?: DriverOptions['gateTokens'];
}

export interface Running {
  pid: number;
  socket: string;
  statusUrl?: string;
  stop(): Promise<void>;
  /** SIGINT: the process drains and exits by itself (writes its --cpu-prof file). */
  stopGracefully(): Promise<void>;
}

export interface Row extends DriverResult {
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

/** `dist/bench/<script>.js` on `core`, with this process's environment; its last line on stdout, as JSON. */
export async function runPinnedJson<T>(core: number, script: string, args: string[], nodeFlags: string[] = []): Promise<T> {
  const [command, ...rest] = [...pin(core), process.execPath, ...nodeFlags, join(PROJECT_ROOT, `dist/bench/${script}.js`), ...args];
  const child = spawn(command as string, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${script} exited ${code}`);
  return JSON.parse(out.trim().split('\n').pop() as string) as T;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

export class Bench {
  readonly dir = mkdtempSync(join(tmpdir(), 'kas-bench-'));
  readonly rows: Row[] = [];
  /** The scenarios' feature costs measured in one process (feature-costs.ts). */
  featureCosts: FeatureCost[] = [];
  private configs: Record<string, Record<string, unknown>> = {};

  constructor(
    readonly admin: FakeAdminApi,
    readonly otlp: OtlpReceiver,
    readonly settings: Settings,
  ) {}

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
      gateBackstop: await validated('token-validator', { mode: 'gate', upstream_headers: 'backstop' }),
      // Every algorithm allowed, so the HS256 and key set rows differ by their tokens alone.
      gateKeySet: await validated('token-validator', { mode: 'gate', algorithms: [...TOKEN_ALGORITHMS] }),
      // The JWKS server's port is known once it listens: scenarios set jwks_uri to it (the same form).
      gateRemote: await validated('token-validator', {
        mode: 'gate',
        jwks_uri: 'http://127.0.0.1:1/jwks.json',
        issuer: 'https://issuer.bench',
        audience: ['api'],
        algorithms: ['ES256'],
      }),
    };
    for (const alg of TOKEN_ALGORITHMS) this.configs[`issuer ${alg}`] = await validated('token-issuer', { ...issuer, algorithm: alg });
  }

  config(name: string): Record<string, unknown> {
    return this.configs[name] as Record<string, unknown>;
  }

  /** Ours as a sidecar runs it: production mode, tracing to a real OTLP receiver. */
  oursEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      KONG_ADMIN_URL: this.admin.url,
      KONG_ADMIN_TOKEN: 'bench-admin-token-0123456789',
      STATUS_HOST: '127.0.0.1',
      NODE_ENV: 'production',
      TELEMETRY_MODE: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: this.otlp.endpoint.replace(/\/v1\/traces$/, ''),
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      ...(process.env.BENCH_ENV ? (JSON.parse(process.env.BENCH_ENV) as Record<string, string>) : {}),
      ...extra,
    };
  }

  async start(spec: ServerSpec): Promise<Running> {
    const socket = join(this.dir, `${spec.kind}.sock`);
    let child: ChildProcess;
    let statusUrl: string | undefined;
    if (spec.kind === 'kong-pdk')
      child = spawnPinned(0, [...(spec.nodeFlags ?? []), join(PROJECT_ROOT, 'bench/baselines/kong-pdk-server.cjs'), socket]);
    else if (spec.kind === 'floor')
      child = spawnPinned(0, [...(spec.nodeFlags ?? []), join(PROJECT_ROOT, 'bench/baselines/floor-server.cjs'), socket]);
    else {
      const port = await freePort();
      statusUrl = `http://127.0.0.1:${port}`;
      // BENCH_CLI: another build of ours (a copy of dist/ before a change), for --variants.
      // BENCH_NODE_FLAGS (space-separated): instead of the deployed NODE_FLAGS, for --variants (or, from the
      // environment, for every run of ours: the memory phase and the soak have no variants).
      const benchNodeFlags = spec.env?.BENCH_NODE_FLAGS ?? process.env.BENCH_NODE_FLAGS;
      const nodeFlags = benchNodeFlags !== undefined ? benchNodeFlags.split(' ').filter(Boolean) : NODE_FLAGS;
      child = spawnPinned(
        0,
        [
          ...nodeFlags,
          ...(spec.nodeFlags ?? []),
          spec.env?.BENCH_CLI ?? CLI_PATH,
          '--kong-prefix',
          this.dir,
          '--sock-name',
          `${spec.kind}.sock`,
        ],
        { ...this.oursEnv(spec.env), STATUS_PORT: String(port) },
      );
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

  drive(running: Running, spec: ServerSpec, options: Partial<DriverOptions>): Promise<DriverResult> {
    const opts: DriverOptions = {
      socket: running.socket,
      plugin: spec.plugin,
      config: spec.config ?? {},
      request: spec.request,
      concurrency: this.settings.barLevel,
      seconds: this.settings.window,
      warmupSeconds: this.settings.warmup,
      serverPid: running.pid,
      sampledShare: spec.sampledShare ?? 0.01,
      ...(spec.gateTokens ? { gateTokens: spec.gateTokens } : {}),
      ...options,
    };
    const profileDir = process.env.BENCH_DRIVER_PROFILE_DIR;
    return runPinnedJson<DriverResult>(
      1,
      'driver',
      [JSON.stringify(opts)],
      profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    );
  }

  /** A fresh server process per measurement, so no heap is carried from one to the next. */
  async measure(group: string, spec: ServerSpec, concurrency: number, round: number, options: Partial<DriverOptions> = {}): Promise<Row> {
    const running = await this.start(spec);
    try {
      const result = await this.drive(running, spec, { concurrency, ...options });
      const row: Row = { group, server: spec.name, concurrency, round, rate: options.rate, ...result, rssSamplesMb: [] };
      this.rows.push(row);
      process.stderr.write(
        `  ${group} | ${spec.name} | c=${concurrency}${options.rate ? ` @${options.rate}/s` : ''} | ${row.eventsPerSecond}/s p50 ${row.p50Ms} p95 ${row.p95Ms} p99 ${row.p99Ms} ms | server ${row.serverCpuUsPerEvent} µs/event | errors ${row.errors}\n`,
      );
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

export function issuerServers(bench: Bench): ServerSpec[] {
  return [
    { name: 'kong-pdk bare issuer', kind: 'kong-pdk', plugin: 'bare-issuer', request: 'issue' },
    { name: 'floor issuer', kind: 'floor', plugin: 'floor', request: 'issue' },
    { name: 'ours token-issuer', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: bench.config('issuer') },
  ];
}

export function gateServers(bench: Bench): ServerSpec[] {
  return [
    { name: 'kong-pdk bare gate', kind: 'kong-pdk', plugin: 'bare-gate', request: 'gate' },
    { name: 'floor gate', kind: 'floor', plugin: 'floor-gate', request: 'gate' },
    { name: 'ours token-validator gate', kind: 'ours', plugin: 'token-validator', request: 'gate', config: bench.config('gate') },
  ];
}

/** Ours of issuerServers / gateServers: the server most sections measure. */
export const oursIssuer = (bench: Bench): ServerSpec => issuerServers(bench)[2] as ServerSpec;
export const oursGate = (bench: Bench): ServerSpec => gateServers(bench)[2] as ServerSpec;
