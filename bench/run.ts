import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { argv } from 'node:process';
import { startFakeAdminApi } from '../spec/support/fake-admin-api.js';
import { queryPluginInfo } from '../spec/support/kong-harness.js';
import { validatePluginConfig } from '../spec/support/kong-schema.js';
import { createKongStore } from '../spec/support/kong-store.js';
import { CLI_PATH, PROJECT_ROOT, waitForSocket } from '../spec/support/plugin-server-process.js';
import type { DriverResult } from './driver.js';

/**
 * `make bench`: our token-issuer against the bare kong-pdk 0.6.0 plugin (one getHeaders, jose sign,
 * exit) and the floor (a minimal server doing get_headers + get_consumer + HMAC + exit), same driver, same run; server pinned to core 0, driver to core 1. Prints a table with ratios
 * and writes bench/results/<date>.json. `--smoke`: one short level, to check the machinery in `make test`.
 */
const smoke = argv.includes('--smoke');
const LEVELS = smoke ? [8] : [1, 8, 32, 64];
const SECONDS = smoke ? 1 : 6;
const pin = (core: number) => (cpus().length > 1 ? ['taskset', '-c', String(core)] : []);

interface Row extends DriverResult {
  server: string;
  concurrency: number;
  serverCpuUsPerEvent: number;
}

function spawnPinned(core: number, args: string[], env: Record<string, string> = {}): ChildProcess {
  const [command, ...rest] = [...pin(core), process.execPath, ...args];
  return spawn(command as string, rest, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** utime + stime of a process and its threads, in µs. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * (1_000_000 / 100);
}

async function runDriver(socket: string, plugin: string, concurrency: number, config: Record<string, unknown>): Promise<DriverResult> {
  const child = spawn(pin(1)[0] ?? process.execPath, [...pin(1).slice(1), ...(pin(1).length ? [process.execPath] : []), join(PROJECT_ROOT, 'dist/bench/driver.js'), socket, plugin, String(concurrency), String(SECONDS), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`driver exited ${code}`);
  return JSON.parse(out.trim().split('\n').pop() as string) as DriverResult;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kas-bench-'));
  const store = createKongStore();
  const consumer = store.addConsumer({ id: '11111111-1111-4111-8111-111111111111', username: 'bench-consumer', custom_id: 'bench-custom' });
  store.addJwtCredential(consumer.id, { key: 'bench-key', secret: 'bench-secret-0123456789abcdef0123456789' });
  const admin = await startFakeAdminApi({ store, adminToken: 'bench-admin-token-0123456789' });
  const issuerInfo = await queryPluginInfo('token-issuer');
  const issuerConfig = validatePluginConfig(issuerInfo, { issuer: 'https://issuer.bench', audience: ['api'], unique_name_prefix: 'corp#' });
  if (!issuerConfig.ok) throw new Error('bench config does not validate');

  const servers = [
    {
      name: 'kong-pdk 0.6.0 bare issuer',
      plugin: 'bare-issuer',
      config: {},
      start: (socket: string) => spawnPinned(0, [join(PROJECT_ROOT, 'bench/baselines/kong-pdk-server.cjs'), socket]),
    },
    {
      name: 'floor (minimal server)',
      plugin: 'floor',
      config: {},
      start: (socket: string) => spawnPinned(0, [join(PROJECT_ROOT, 'bench/baselines/floor-server.cjs'), socket]),
      socketName: 'floor.sock',
    },
    {
      name: 'kong-auth-sidecar token-issuer',
      plugin: 'token-issuer',
      config: issuerConfig.config,
      start: (socket: string) =>
        spawnPinned(0, [CLI_PATH, '--kong-prefix', dir, '--sock-name', 'ours.sock'], {
          KONG_ADMIN_URL: admin.url, KONG_ADMIN_TOKEN: 'bench-admin-token-0123456789', STATUS_PORT: '0', STATUS_HOST: '127.0.0.1', NODE_ENV: 'production',
        }),
      socketName: 'ours.sock',
    },
  ];

  const rows: Row[] = [];
  try {
    for (const concurrency of LEVELS) {
      for (const server of servers) {
        const socket = join(dir, server.socketName ?? 'kong-pdk.sock');
        const child = server.start(socket);
        try {
          await waitForSocket(socket);
          const before = cpuMicros(child.pid as number);
          const result = await runDriver(socket, server.plugin, concurrency, server.config);
          const serverCpuUsPerEvent = Math.round((cpuMicros(child.pid as number) - before) / Math.max(1, result.events + 1));
          rows.push({ server: server.name, concurrency, serverCpuUsPerEvent, ...result });
        } finally {
          child.kill('SIGKILL');
          await new Promise((r) => child.once('exit', r));
          rmSync(socket, { force: true });
        }
      }
    }
  } finally {
    await admin.close();
    rmSync(dir, { recursive: true, force: true });
  }
  report(rows);
}

function report(rows: Row[]): void {
  const lines = ['| server | conc | events/s | p50 ms | p95 ms | p99 ms | server CPU µs/event | errors | ours / kong-pdk | ours / floor |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const row of rows) {
    const sameLevel = (prefix: string) => rows.find((r) => r.concurrency === row.concurrency && r.server.startsWith(prefix));
    const ratio = (prefix: string) => {
      const baseline = sameLevel(prefix);
      return row.server.startsWith('kong-auth-sidecar') && baseline ? (row.eventsPerSecond / baseline.eventsPerSecond).toFixed(2) : '';
    };
    lines.push(`| ${row.server} | ${row.concurrency} | ${row.eventsPerSecond} | ${row.p50Ms} | ${row.p95Ms} | ${row.p99Ms} | ${row.serverCpuUsPerEvent} | ${row.errors} | ${ratio('kong-pdk')} | ${ratio('floor')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  const resultsDir = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${new Date().toISOString().slice(0, 10)}${smoke ? '.smoke' : ''}.json`);
  writeFileSync(file, JSON.stringify({ node: process.version, cpus: cpus().length, smoke, seconds: SECONDS, rows }, null, 2) + '\n');
  process.stdout.write(`results: ${file}\n`);
}

await main();
