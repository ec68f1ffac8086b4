import { appendFileSync, readFileSync } from 'node:fs';
import { argv } from 'node:process';
import { forgeJwt } from '../spec/support/jwt-check.js';
import { KongRequest } from '../kong/stand-in/kong-request.js';
import { Packr, Unpackr } from 'msgpackr/pack';
import { MsgpackRpcClient, type RpcCodec } from '../kong/stand-in/msgpack-rpc-client.js';
import { PluginBridge, type PluginEntity } from '../kong/stand-in/plugin-bridge.js';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyAlg } from '../lib/tokens/key-manifest.js';
import type { SigningKey } from '../lib/tokens/key-set.js';
import { signJwt } from '../lib/tokens/signing-keys.js';

/**
 * A Kong-like load driver: the harness's own protocol code (MessagePack-RPC client with Kong's pool,
 * Kong's bridge loop: no Step after kong.response.exit) with a faster codec, C concurrent events, one RPC
 * in flight each.
 * Closed loop, or open loop at a fixed rate (latency counted from the scheduled time). Statistics cover
 * the window after the warm-up; the server's CPU and RSS are read from /proc over the same window.
 * Usage: driver.js '<DriverOptions as JSON>'; prints one JSON line.
 */
export type RequestKind = 'issue' | 'issue-cold' | 'issue-scoped' | 'validate' | 'gate';

export interface DriverOptions {
  socket: string;
  plugin: string;
  config: Record<string, unknown>;
  request: RequestKind;
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  /** Open loop: events per second in total. */
  rate?: number;
  /** Stop after this many events in the window (the memory run). */
  maxEvents?: number;
  serverPid?: number;
  /** Share of requests whose traceparent says "sampled", as Kong's tracing_sampling_rate would. */
  sampledShare?: number;
  /** Sample the server's RSS every second (the memory run). */
  rssEverySecond?: boolean;
  /**
   * Gate: `distinct` tokens signed before the run and sent in turn, instead of one token: more than the
   * verifier remembers, so every event verifies a signature. HS256 with the bench credential; an
   * asymmetric alg with the private key in `keyFile` under `kid`, for the bench consumer's client_id.
   */
  gateTokens?: { alg: 'HS256' | KeyAlg; distinct: number; keyFile?: string; kid?: string };
}

export interface DriverResult {
  events: number;
  errors: number;
  eventsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Share of one core the driver used: near 1 means the driver, not the server, set the pace. */
  driverUtil: number;
  serverUtil: number;
  serverCpuUsPerEvent: number;
  serverRssMb: number;
  rssSamplesMb: number[];
}

export const BENCH_CONSUMER = { id: '11111111-1111-4111-8111-111111111111', username: 'bench-consumer', custom_id: 'bench-custom' };
export const BENCH_CREDENTIAL = { key: 'bench-key', secret: 'bench-secret-0123456789abcdef0123456789' };
/** A consumer whose tags allow scopes (the issuer reads them with the consumer, and may read the `scope` query). */
export const SCOPED_BENCH_CONSUMER = {
  id: '44444444-4444-4444-8444-444444444444',
  username: 'bench-scoped',
  custom_id: 'bench-scoped-custom',
  tags: ['scope:orders.read', 'scope:orders.write', 'team-bench'],
};
/** Consumers the cold scenario walks through, one new one per request. */
export const coldConsumer = (n: number): { id: string; username: string; custom_id?: string } => ({
  id: `22222222-2222-4222-8222-${String(n).padStart(12, '0')}`,
  username: `cold-${n}`,
});

/** The headers of a browser-like request behind a load balancer, on every request the driver makes. */
export const COMMON_HEADERS: Record<string, string> = {
  host: 'api.example.com',
  'user-agent': 'bench/1.0',
  accept: 'application/json',
  'accept-encoding': 'gzip, deflate',
  'accept-language': 'en-US,en;q=0.9',
  connection: 'keep-alive',
  'x-forwarded-for': '10.0.0.1',
  'x-forwarded-proto': 'https',
  'x-real-ip': '10.0.0.1',
  'x-request-id': 'bench-request-id',
  'cache-control': 'no-cache',
  cookie: 'session=abc',
};

/** 256 traceparents with their own trace ids; `sampledShare` of them carry the sampled flag. */
function traceparents(sampledShare: number): string[] {
  return Array.from({ length: 256 }, (_, i) => {
    const traceId = (i + 1).toString(16).padStart(8, '0').repeat(4);
    return `00-${traceId}-b7ad6b7169203331-${i < Math.round(256 * sampledShare) ? '01' : '00'}`;
  });
}

/**
 * The driver's codec: msgpackr, wire-compatible with the harness's @msgpack/msgpack and about twice as
 * fast, so that more of one core is left for playing Kong (tests keep a codec other than the server's).
 */
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const leanCodec: RpcCodec = {
  encode: (message) => packr.pack(message),
  completeMessages(bytes) {
    try {
      return unpackr.unpackMultiple(bytes) as unknown[];
    } catch (err) {
      if ((err as { incomplete?: boolean }).incomplete) return [];
      throw err;
    }
  },
};

export function bearer(): string {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    sub: BENCH_CONSUMER.username,
    key: BENCH_CREDENTIAL.key,
    jti: 'bench-jti',
    iat,
    nbf: iat,
    exp: iat + 3600,
    iss: 'https://issuer.bench',
    aud: 'api',
  };
  return `Bearer ${forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims, BENCH_CREDENTIAL.secret)}`;
}

/** The gate's distinct tokens, as `Bearer …` values. */
function distinctBearers(spec: NonNullable<DriverOptions['gateTokens']>): string[] {
  const iat = Math.floor(Date.now() / 1000);
  const claims = (n: number) => ({
    sub: BENCH_CONSUMER.username,
    ...(spec.alg === 'HS256' ? { key: BENCH_CREDENTIAL.key } : { client_id: BENCH_CONSUMER.id }),
    jti: `bench-jti-${n}`,
    iat,
    nbf: iat,
    exp: iat + 3600,
    iss: 'https://issuer.bench',
    aud: 'api',
  });
  if (spec.alg === 'HS256')
    return Array.from(
      { length: spec.distinct },
      (_, n) => `Bearer ${forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims(n), BENCH_CREDENTIAL.secret)}`,
    );
  const privateKey = createPrivateKey(readFileSync(spec.keyFile as string));
  // signJwt reads the alg, kid and private key of a key of the set; the driver holds no set.
  const key = { alg: spec.alg, kid: spec.kid as string, privateKey, publicKey: createPublicKey(privateKey) } as SigningKey;
  return Array.from({ length: spec.distinct }, (_, n) => `Bearer ${signJwt(claims(n), key)}`);
}

/** A request as Kong leaves it after its auth plugin (issue, validate) or as it arrives (gate). */
export function requestMaker(
  kind: RequestKind,
  sampledShare: number,
  gateTokens?: DriverOptions['gateTokens'],
): (n: number) => KongRequest {
  const parents = traceparents(sampledShare);
  const pool = kind === 'gate' && gateTokens ? distinctBearers(gateTokens) : undefined;
  const single = kind === 'validate' || kind === 'gate' ? bearer() : '';
  return (n) => {
    const token = pool ? (pool[n % pool.length] as string) : single;
    const consumer = kind === 'issue-cold' ? coldConsumer(n) : kind === 'issue-scoped' ? SCOPED_BENCH_CONSUMER : BENCH_CONSUMER;
    // Assigned, not spread: spreading this literal into a new one was a tenth of the driver's time.
    const headers: Record<string, string> = Object.assign({}, COMMON_HEADERS);
    headers.traceparent = parents[n % parents.length] as string;
    if (kind !== 'gate') {
      headers['x-consumer-id'] = consumer.id;
      headers['x-consumer-username'] = consumer.username;
      if (consumer.custom_id) headers['x-consumer-custom-id'] = consumer.custom_id;
      headers['x-credential-identifier'] = 'cred-1';
    }
    if (token) headers.authorization = token;
    const req = new KongRequest(
      kind === 'validate' || kind === 'gate' ? 'GET' : 'POST',
      kind === 'gate' ? '/orders' : '/tokens',
      kind === 'issue-scoped' ? 'scope=orders.read' : '',
      headers,
    );
    // As Kong's auth plugins do: the credential names the consumer it belongs to.
    if (kind !== 'gate') req.authenticate(consumer, { id: 'cred-1', consumer: { id: consumer.id } });
    return req;
  };
}

/** An answered event: the issuer and the endpoint answer 200; the gate lets the request go on (no exit). */
export function succeeded(kind: RequestKind, req: KongRequest): boolean {
  if (req.log.length > 0) return false;
  return kind === 'gate' ? req.response === undefined : req.response?.status === 200;
}

/**
 * Resolves at `at` (a performance.now() time). Timers have millisecond granularity and may fire early, so
 * the last millisecond is waited out in event-loop turns — re-arming one callback, not a promise per turn:
 * at a fixed rate the driver spends most of its time here, and garbage made here became the driver's
 * collections, which delayed responses and showed in every server's tail.
 */
function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (performance.now() >= at ? resolve() : void setImmediate(check));
    const wait = at - performance.now();
    if (wait > 1) setTimeout(check, wait - 1);
    else check();
  });
}

/** utime + stime of a process (all threads), in µs, and its RSS in MB. */
export function processStats(pid: number | undefined): { cpuUs: number; rssMb: number } {
  if (!pid) return { cpuUs: 0, rssMb: 0 };
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuUs: (Number(fields[11]) + Number(fields[12])) * 10_000, rssMb: Math.round(rssKb / 102.4) / 10 };
}

export async function drive(opts: DriverOptions): Promise<DriverResult> {
  const rpc = new MsgpackRpcClient(opts.socket, undefined, leanCodec);
  const bridge = new PluginBridge(rpc);
  const entity: PluginEntity = { id: `bench-${opts.plugin}`, name: opts.plugin, config: opts.config, seq: 1, scope: {} };
  const makeRequest = requestMaker(opts.request, opts.sampledShare ?? 0, opts.gateTokens);
  let measuring = false;
  let next = 0;
  let errors = 0;
  const latencies: number[] = [];
  // BENCH_SLOW_LOG=<file>: every measured event slower than 1 ms, as "<epoch ms of its schedule> <latency ms>", plus
  // "sampled" when its traceparent asked for a trace (tail studies).
  const slowLog: string[] | undefined = process.env.BENCH_SLOW_LOG ? [] : undefined;
  const one = async (scheduledAt?: number) => {
    const req = makeRequest(next++);
    const started = scheduledAt ?? performance.now();
    await bridge.handleEvent(entity, 'access', req);
    // The bridge records calls for tests; a long run must not keep them.
    bridge.calls.length = 0;
    bridge.pdkCalls.length = 0;
    if (!measuring) return;
    const latency = performance.now() - started;
    latencies.push(latency);
    if (slowLog && latency > 1)
      slowLog.push(
        `${(performance.timeOrigin + started).toFixed(1)} ${latency.toFixed(3)}${req.headers.get('traceparent')?.[0]?.endsWith('-01') ? ' sampled' : ''}`,
      );
    if (!succeeded(opts.request, req)) errors++;
  };
  await one(); // starts the instance

  const startedAt = performance.now();
  const windowStart = startedAt + opts.warmupSeconds * 1000;
  const endAt = windowStart + opts.seconds * 1000;
  let before = { cpu: process.cpuUsage(), server: processStats(opts.serverPid), at: windowStart };
  const rssSamplesMb: number[] = [];
  const sampler = opts.rssEverySecond ? setInterval(() => rssSamplesMb.push(processStats(opts.serverPid).rssMb), 1000) : undefined;
  const warmup = setTimeout(() => {
    measuring = true;
    before = { cpu: process.cpuUsage(), server: processStats(opts.serverPid), at: performance.now() };
  }, opts.warmupSeconds * 1000);
  const done = () => performance.now() >= endAt || (opts.maxEvents !== undefined && latencies.length >= opts.maxEvents);
  const interval = opts.rate ? (1000 * opts.concurrency) / opts.rate : 0;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, worker) => {
      let scheduled = startedAt + (interval * worker) / opts.concurrency;
      while (!done()) {
        if (interval === 0) {
          await one();
          continue;
        }
        await sleepUntil(scheduled);
        await one(scheduled);
        scheduled += interval;
      }
    }),
  );
  clearTimeout(warmup);
  clearInterval(sampler);
  const elapsedMs = performance.now() - before.at;
  const cpu = process.cpuUsage(before.cpu);
  const server = processStats(opts.serverPid);
  rpc.close();
  if (slowLog) appendFileSync(process.env.BENCH_SLOW_LOG as string, `${slowLog.join('\n')}\n`);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0).toFixed(3));
  const serverCpuUs = server.cpuUs - before.server.cpuUs;
  return {
    events: latencies.length,
    errors,
    eventsPerSecond: Math.round((latencies.length / elapsedMs) * 1000),
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    p99Ms: at(0.99),
    driverUtil: Number(((cpu.user + cpu.system) / 1000 / elapsedMs).toFixed(2)),
    serverUtil: Number((serverCpuUs / 1000 / elapsedMs).toFixed(2)),
    serverCpuUsPerEvent: Math.round(serverCpuUs / Math.max(1, latencies.length)),
    serverRssMb: server.rssMb,
    rssSamplesMb,
  };
}

if (import.meta.url === `file://${argv[1]}`) {
  const result = await drive(JSON.parse(argv[2] as string) as DriverOptions);
  process.stdout.write(JSON.stringify(result) + '\n');
}
