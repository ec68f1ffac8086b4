import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../kong/stand-in/plugin-server-process.js';
import { BACKSTOP_PREFIX, kitWithBackstop } from '../spec/support/realkong-backstop.js';
import { freePort } from '../spec/support/redis-server.js';
import { BENCH_CONSUMER, bearer, COMMON_HEADERS, processStats } from './driver.js';
import { CountingSocket, type Crossings } from './e2e-count.js';
import { BenchKong, type KongSetup } from './e2e-kong.js';
import { pin, type Bench, type Running } from './harness.js';
import { wrk } from './wrk.js';

/**
 * The end-to-end part: HTTP load (wrk) through Kong's own plugin-server bridge (bench/e2e-kong.ts) on one
 * route per plugin — ours, bare kong-pdk, the floor, none — for the issuer and the gate, beside the in-process
 * Lua gate and the HTTP token service. Plugin servers on core 0, Kong's worker and wrk on core 1, the routes
 * in interleaved rounds. Then a counting pass through a second Kong whose sockets count what crosses them.
 */
export type ServerOf = 'none' | 'ours' | 'kong-pdk' | 'floor' | 'lua' | 'http';

export interface E2eRoute {
  name: string;
  path: string;
  kind: 'issuer' | 'gate' | 'none';
  server: ServerOf;
  plugin?: { name: string; config: Record<string, unknown> };
}

export interface E2eRow {
  route: string;
  round: number;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU of Kong's nginx worker (utime + stime) over the run, per request. */
  kongCpuUsPerRequest: number;
  /** CPU of the process serving the plugin (or the token service), per request; 0 without one. */
  serverCpuUsPerRequest: number;
  errors: number;
}

export interface E2eCount {
  route: string;
  requests: number;
  /** Kong's calls to the plugin server per request (HandleEvent and each Step): its round trips. */
  roundTripsPerRequest: number;
  bytesInPerRequest: number;
  bytesOutPerRequest: number;
  /** One request's RPCs and the PDK calls the server asked for (the answer ending the event is "ret" or the exit). */
  rpcs: string[];
  pdkCalls: string[];
}

export interface E2eResult {
  connections: number;
  seconds: number;
  rounds: number;
  rows: E2eRow[];
  counts: E2eCount[];
  /** RSS of each process at the end, MB. */
  rssMb: Record<string, number>;
}

export const OURS_BACKSTOP_GATE = 'ours gate (upstream_headers: backstop)';
export const FLOOR_BACKSTOP_GATE = 'floor gate (upstream_headers: backstop calls)';
/** The floor issuer with the calls an issuer made before the credential Kong authenticated sufficed: get_consumer as well. */
export const FLOOR_ISSUER_TODAY = 'floor issuer (get_consumer too: the former calls)';

export function e2eRoutes(bench: Bench): E2eRoute[] {
  const plugin = (name: string, config: Record<string, unknown> = {}) => ({ name, config });
  const routes: Array<[string, string, E2eRoute['kind'], ServerOf, E2eRoute['plugin']?]> = [
    ['no plugin', '/none', 'none', 'none'],
    ['ours token-issuer', '/tokens/ours', 'issuer', 'ours', plugin('token-issuer', bench.config('issuer'))],
    ['floor issuer', '/tokens/floor', 'issuer', 'floor', plugin('floor')],
    [FLOOR_ISSUER_TODAY, '/tokens/floor-today', 'issuer', 'floor', plugin('floor-today')],
    ['kong-pdk bare issuer', '/tokens/kong-pdk', 'issuer', 'kong-pdk', plugin('bare-issuer')],
    ['HTTP token service', '/http-issuer', 'issuer', 'http'],
    ['ours token-validator gate', '/gated/ours', 'gate', 'ours', plugin('token-validator', bench.config('gate'))],
    ['floor gate', '/gated/floor', 'gate', 'floor', plugin('floor-gate')],
    // Under BACKSTOP_PREFIX: kong/backstop.lua after the plugin (the other /gated routes run the one-line backstop).
    [OURS_BACKSTOP_GATE, `${BACKSTOP_PREFIX}/ours`, 'gate', 'ours', plugin('token-validator', bench.config('gateBackstop'))],
    [FLOOR_BACKSTOP_GATE, `${BACKSTOP_PREFIX}/floor`, 'gate', 'floor', plugin('floor-gate-backstop')],
    ['kong-pdk bare gate', '/gated/kong-pdk', 'gate', 'kong-pdk', plugin('bare-gate')],
    ['in-process Lua gate', '/lua-gate', 'gate', 'lua'],
  ];
  return routes.map(([name, path, kind, server, plugin]) => ({ name, path, kind, server, ...(plugin ? { plugin } : {}) }));
}

/** The request of each kind, as a client sends it: what Kong's auth plugin leaves for an issuer, a Bearer token for a gate. */
export function requestHeaders(kind: E2eRoute['kind']): Record<string, string> {
  const { host: _, connection: __, ...common } = COMMON_HEADERS;
  const headers: Record<string, string> = { ...common, traceparent: '00-0000000100000001000000010000000f-b7ad6b7169203331-00' };
  if (kind === 'gate') headers.authorization = bearer();
  if (kind === 'issuer') {
    Object.assign(headers, {
      'x-consumer-id': BENCH_CONSUMER.id,
      'x-consumer-username': BENCH_CONSUMER.username,
      'x-consumer-custom-id': BENCH_CONSUMER.custom_id,
      'x-credential-identifier': 'cred-1',
      // The realkong kit's hooks: the consumer and credential an auth plugin with a higher priority left in ngx.ctx.
      'x-test-consumer': JSON.stringify(BENCH_CONSUMER),
      'x-test-credential': JSON.stringify({ id: 'cred-1', consumer: { id: BENCH_CONSUMER.id } }),
    });
  }
  return headers;
}

/** An HTTP server of bench/baselines (the token service, the echo upstream) on core 0, once it listens. */
async function startHttp(script: string, port: number): Promise<ChildProcess> {
  const [command, ...args] = [...pin(0), process.execPath, join(PROJECT_ROOT, 'bench/baselines', script), String(port)];
  const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
    child.stdout?.once('data', () => resolve());
  });
  return child;
}

const cpuUs = (pid: number | undefined) => (pid ? processStats(pid).cpuUs : 0);

/** Kong's setup for these routes: each plugin on the socket of its server (`socketOf`). */
function kongSetup(
  routes: E2eRoute[],
  socketOf: (server: ServerOf) => string,
  httpPort: number,
  echoPort: number,
  kitDir: string,
): KongSetup {
  const pluginservers: KongSetup['pluginservers'] = {};
  for (const route of routes) {
    if (!route.plugin) continue;
    const ours = route.server === 'ours';
    pluginservers[route.plugin.name] = {
      socket: socketOf(route.server),
      ...(ours ? { query_cmd: `cat ${join(PROJECT_ROOT, 'dist', 'plugin-info', `${route.plugin.name}.json`)}` } : {}),
    };
  }
  return {
    routes: Object.fromEntries(
      routes.filter((r) => r.server !== 'lua' && r.server !== 'http').map((r) => [r.path, r.plugin ? [r.plugin] : []]),
    ),
    pluginservers,
    luaGatePath: routes.find((r) => r.server === 'lua')?.path ?? '/lua-gate',
    httpIssuer: { path: routes.find((r) => r.server === 'http')?.path ?? '/http-issuer', port: httpPort },
    echoPort,
    kitDir,
  };
}

/** `count` requests one after another (keep-alive), each answered 200, else an error naming the route. */
async function sequential(url: string, headers: Record<string, string>, count: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    const res = await fetch(url, { headers });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body}`);
  }
}

export interface E2eOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  countRequests: number;
}

export async function e2e(bench: Bench, opts: E2eOptions): Promise<E2eResult> {
  process.stderr.write("end to end, through Kong's own plugin-server bridge (wrk)\n");
  const routes = e2eRoutes(bench);
  const servers = new Map<ServerOf, Running>();
  for (const kind of ['ours', 'kong-pdk', 'floor'] as const) {
    servers.set(kind, await bench.start({ name: kind, kind, plugin: '', request: 'gate' }));
  }
  const [httpPort, echoPort] = [await freePort(), await freePort()];
  const http = await startHttp('http-issuer.cjs', httpPort);
  const echo = await startHttp('echo-upstream.cjs', echoPort);
  const pidOf = (server: ServerOf) => (server === 'http' ? http.pid : servers.get(server)?.pid);
  const result: E2eResult = { connections: opts.connections, seconds: opts.seconds, rounds: opts.rounds, rows: [], counts: [], rssMb: {} };
  const kit = kitWithBackstop();
  try {
    const kong = await BenchKong.start(kongSetup(routes, (server) => servers.get(server)?.socket ?? '', httpPort, echoPort, kit.dir));
    try {
      for (const route of routes) {
        await sequential(kong.url(route.path), requestHeaders(route.kind), 3); // starts the instance, fails fast on a broken route
        if (opts.warmupSeconds > 0) await wrk(kong.url(route.path), requestHeaders(route.kind), opts.connections, opts.warmupSeconds);
      }
      for (let round = 0; round < opts.rounds; round++) {
        for (const route of round % 2 === 0 ? routes : [...routes].reverse()) {
          const before = { kong: cpuUs(kong.workerPid), server: cpuUs(pidOf(route.server)) };
          const run = await wrk(kong.url(route.path), requestHeaders(route.kind), opts.connections, opts.seconds);
          const requests = Math.max(1, run.requests);
          const row: E2eRow = {
            route: route.name,
            round,
            requests: run.requests,
            requestsPerSecond: run.requestsPerSecond,
            p50Ms: run.p50Ms,
            p99Ms: run.p99Ms,
            kongCpuUsPerRequest: Math.round((cpuUs(kong.workerPid) - before.kong) / requests),
            serverCpuUsPerRequest: Math.round((cpuUs(pidOf(route.server)) - before.server) / requests),
            errors: run.errors,
          };
          result.rows.push(row);
          process.stderr.write(
            `  e2e | ${route.name} | round ${round + 1} | ${row.requestsPerSecond} req/s p50 ${row.p50Ms} p99 ${row.p99Ms} ms | Kong ${row.kongCpuUsPerRequest} µs/req, server ${row.serverCpuUsPerRequest} µs/req | errors ${row.errors}\n`,
          );
        }
      }
      result.rssMb['Kong worker (nginx)'] = processStats(kong.workerPid).rssMb;
    } finally {
      await kong.stop();
    }
    for (const [name, pid] of [...[...servers].map(([kind, s]) => [kind, s.pid] as const), ['HTTP token service', http.pid] as const])
      result.rssMb[name] = processStats(pid).rssMb;
    result.counts = await countingPass(routes, servers, { httpPort, echoPort, kitDir: kit.dir }, opts.countRequests);
  } finally {
    kit.remove();
    http.kill('SIGKILL');
    echo.kill('SIGKILL');
    for (const server of servers.values()) await server.stop();
  }
  return result;
}

/** A second Kong whose sockets count what crosses them: round trips and bytes per request, and one request's calls. */
async function countingPass(
  routes: E2eRoute[],
  servers: Map<ServerOf, Running>,
  ports: { httpPort: number; echoPort: number; kitDir: string },
  count: number,
): Promise<E2eCount[]> {
  const proxies = new Map<ServerOf, CountingSocket>();
  for (const [kind, server] of servers) proxies.set(kind, new CountingSocket(`${server.socket}.counted`, server.socket, true));
  const countedPort = await freePort();
  proxies.set('http', new CountingSocket(countedPort, ports.httpPort, false));
  for (const proxy of proxies.values()) await proxy.start();
  const kong = await BenchKong.start(
    kongSetup(routes, (server) => String(proxies.get(server)?.listen ?? ''), countedPort, ports.echoPort, ports.kitDir),
  );
  const counts: E2eCount[] = [];
  try {
    for (const route of routes) {
      const url = kong.url(route.path);
      const headers = requestHeaders(route.kind);
      const proxy = proxies.get(route.server);
      await sequential(url, headers, 3);
      proxy?.reset();
      await sequential(url, headers, 1);
      const one: Crossings = proxy?.crossings ?? { bytesIn: 0, bytesOut: 0, rpcs: [], pdkCalls: [] };
      proxy?.reset();
      await sequential(url, headers, count);
      const all: Crossings = proxy?.crossings ?? one;
      const per = (n: number) => Math.round((n / count) * 10) / 10;
      counts.push({
        route: route.name,
        requests: count,
        roundTripsPerRequest: route.server === 'http' ? 1 : per(all.rpcs.length),
        bytesInPerRequest: per(all.bytesIn),
        bytesOutPerRequest: per(all.bytesOut),
        rpcs: one.rpcs,
        pdkCalls: one.pdkCalls,
      });
    }
  } finally {
    await kong.stop();
    for (const proxy of proxies.values()) await proxy.close();
  }
  return counts;
}
