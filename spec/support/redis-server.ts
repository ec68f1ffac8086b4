import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

/** A real redis-server on 127.0.0.1, owned by the test that started it. */
export interface RedisServer {
  port: number;
  /** redis://, or rediss:// when started with tls. */
  url: string;
  /** With tls: the CA that signed the server's certificate (for IP 127.0.0.1). */
  caFile: string | undefined;
  /** SIGTERM, waits for the exit. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or an OOM kill looks to clients; waits for the exit. */
  kill(): Promise<void>;
  /** Starts a new, empty server on the same port (after stop or kill). */
  restart(): Promise<void>;
  /** SIGSTOP: the port still accepts connections, but nothing answers (a hung server, a partition). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  keys(pattern: string): Promise<string[]>;
  get(key: string): Promise<string | null>;
  /** Any command, through a short-lived connection. */
  command(...args: Array<string | number>): Promise<unknown>;
}

export interface SentinelSet {
  sentinelPort: number;
  masterName: 'mymaster';
  master: RedisServer;
  replica: RedisServer;
  /** Stops the sentinel, the replica and the master. */
  stopAll(): Promise<void>;
  /** Resolves once the sentinel names the replica as master and the replica has taken that role. */
  waitForFailover(timeoutMs: number): Promise<void>;
}

/** Three masters of one Redis Cluster (no replicas), each owning a third of the slots. */
export interface RedisClusterSet {
  nodes: RedisServer[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as REDIS_CLUSTER_NODES takes it. */
  seeds: string;
  /** CLUSTER KEYSLOT. */
  keySlot(key: string): Promise<number>;
  /** The node that owns `key`'s slot. */
  nodeFor(key: string): Promise<RedisServer>;
  /** KEYS on every node, together. */
  keys(pattern: string): Promise<string[]>;
  /** Resolves once every node says cluster_state:ok. */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  /** Stops every node. */
  stopAll(): Promise<void>;
}

const HOST = '127.0.0.1';
const execFileAsync = promisify(execFile);
const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 3000;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, HOST, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port assigned');
  return address.port;
}

/**
 * `password` turns on requirepass; `tls` serves TLS only, with a certificate from a fresh CA. The helpers
 * (keys, get, command) authenticate and speak TLS accordingly.
 */
export async function startRedis(
  opts: { password?: string; tls?: boolean; extraArgs?: Array<string | number> } = {},
): Promise<RedisServer> {
  const dir = temporaryDir('redis-');
  const tls = opts.tls ? issueCertificates(dir) : undefined;
  // Another test file may grab the free port between probe and bind; a fresh port fixes that.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint: Endpoint = { port, password: opts.password, caFile: tls?.caFile };
    const listen = tls
      ? [
          '--port',
          0,
          '--tls-port',
          port,
          '--tls-cert-file',
          tls.certFile,
          '--tls-key-file',
          tls.keyFile,
          '--tls-ca-cert-file',
          tls.caFile,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', port];
    const serverArgs = [
      ...listen,
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--loglevel',
      'warning',
      ...(opts.password === undefined ? [] : ['--requirepass', opts.password]),
      ...(opts.extraArgs ?? []),
    ].map(String);
    const send = (...args: Array<string | number>) => command(endpoint, ...args);
    try {
      let server = await startProcess('redis-server', serverArgs, endpoint, dir);
      return {
        port,
        url: `${tls ? 'rediss' : 'redis'}://${HOST}:${port}`,
        caFile: tls?.caFile,
        stop: () => server.stop('SIGTERM'),
        kill: () => server.stop('SIGKILL'),
        async restart() {
          await server.stop('SIGTERM');
          server = await startProcess('redis-server', serverArgs, endpoint, dir);
        },
        pause: () => server.signal('SIGSTOP'),
        resume: () => server.signal('SIGCONT'),
        keys: (pattern) => send('KEYS', pattern) as Promise<string[]>,
        get: (key) => send('GET', key) as Promise<string | null>,
        command: send,
      };
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** A throwaway CA and a server certificate for IP 127.0.0.1, made with the openssl CLI. */
function issueCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=kas-test-ca');
  openssl('req', ...ecKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  );
  return { caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key') };
}

/** A master, one replica and one sentinel (quorum 1) that fails over one second after the master goes quiet. */
export async function startSentinelSet(): Promise<SentinelSet> {
  const masterName = 'mymaster';
  // Diskless sync waits 5 s by default for more replicas to join; there is only one.
  const master = await startRedis({ extraArgs: ['--repl-diskless-sync-delay', 0] });
  const replica = await startRedis({ extraArgs: ['--replicaof', HOST, master.port] });
  const sentinelPort = await freePort();
  const dir = temporaryDir('sentinel-');
  const configFile = join(dir, 'sentinel.conf');
  // The sentinel rewrites this file as it learns; it must be writable.
  writeFileSync(
    configFile,
    [
      `port ${sentinelPort}`,
      `bind ${HOST}`,
      `dir ${dir}`,
      'daemonize no',
      'protected-mode no',
      'loglevel warning',
      'sentinel resolve-hostnames no',
      `sentinel monitor ${masterName} ${HOST} ${master.port} 1`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel = await startProcess('redis-sentinel', [configFile], { port: sentinelPort }, dir);
  const stopAll = () => Promise.all([sentinel.stop('SIGTERM'), replica.stop(), master.stop()]).then(() => undefined);
  try {
    // A failover needs a replica in sync and known to the sentinel.
    await until(async () => /master_link_status:up/.test(String(await replica.command('INFO', 'replication'))), 'the replica syncs');
    await until(
      async () => ((await command({ port: sentinelPort }, 'SENTINEL', 'REPLICAS', masterName)) as unknown[]).length > 0,
      'the sentinel finds the replica',
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    sentinelPort,
    masterName,
    master,
    replica,
    stopAll,
    async waitForFailover(timeoutMs) {
      await until(
        async () => {
          const address = (await command({ port: sentinelPort }, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as
            [string, string] | null;
          if (Number(address?.[1]) !== replica.port) return false;
          return /role:master/.test(String(await replica.command('INFO', 'replication')));
        },
        'the sentinel promotes the replica',
        timeoutMs,
      );
    },
  };
}

/**
 * Three `redis-server --cluster-enabled yes`, joined with `redis-cli --cluster create`. Each node keeps
 * its cluster config in its own directory, so a node restarted after stop or kill rejoins with its slots
 * (and no data). A node is marked failed after one second of silence.
 */
export async function startRedisCluster(): Promise<RedisClusterSet> {
  const nodes: RedisServer[] = [];
  const stopAll = () => Promise.all(nodes.map((node) => node.stop())).then(() => undefined);
  const clusterInfoOk = async (node: RedisServer) => /cluster_state:ok/.test(String(await node.command('CLUSTER', 'INFO')));
  const waitUntilOk = (timeoutMs = 20_000) =>
    until(async () => (await Promise.all(nodes.map(clusterInfoOk))).every(Boolean), 'every node says cluster_state:ok', timeoutMs);
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startRedis({
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', 1000],
        }),
      );
    }
    const addresses = nodes.map((node) => `${HOST}:${node.port}`);
    await execFileAsync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 20_000,
    });
    await waitUntilOk();
  } catch (err) {
    await stopAll();
    throw err;
  }
  const keySlot = async (key: string) => Number(await nodes[0]!.command('CLUSTER', 'KEYSLOT', key));
  return {
    nodes,
    seeds: nodes.map((node) => `${HOST}:${node.port}`).join(','),
    keySlot,
    async nodeFor(key) {
      const slot = await keySlot(key);
      const ranges = (await nodes[0]!.command('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
      const owner = ranges.find(([first, last]) => slot >= first && slot <= last)?.[2][1];
      const node = nodes.find((candidate) => candidate.port === Number(owner));
      if (!node) throw new Error(`no node owns slot ${slot}`);
      return node;
    },
    keys: async (pattern) => (await Promise.all(nodes.map((node) => node.keys(pattern)))).flat(),
    waitUntilOk,
    stopAll,
  };
}

/** How the helpers reach a server. */
interface Endpoint {
  port: number;
  password?: string | undefined;
  /** Set when the server speaks TLS only. */
  caFile?: string | undefined;
}

/** Sends one command over a fresh connection; servers here come and go, so nothing is kept open. */
async function command(endpoint: Endpoint, ...args: Array<string | number>): Promise<unknown> {
  const client = new Redis({
    host: HOST,
    port: endpoint.port,
    password: endpoint.password,
    ...(endpoint.caFile === undefined ? {} : { tls: { ca: readFileSync(endpoint.caFile) } }),
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    commandTimeout: 2000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    client.disconnect();
  }
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---- processes that never outlive the test process ----

type Unrefable = { unref?: () => void };

interface OwnedProcess {
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  signal(signal: NodeJS.Signals): void;
}

const liveChildren = new Set<ChildProcess>();
const temporaryDirs: string[] = [];
let exitHooksInstalled = false;

function temporaryDir(prefix: string): string {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), `kas-${prefix}`));
  temporaryDirs.push(dir);
  return dir;
}

function killAllChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    killAllChildren();
    for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllChildren();
      // Keep the default outcome (the process ends) unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/**
 * Spawns `program` and resolves once it answers on `port`. A watchdog shell holds a pipe from this
 * process and SIGKILLs the server when the pipe closes, so even a SIGKILLed test run leaves nothing behind.
 */
async function startProcess(program: string, args: string[], endpoint: Endpoint, dir: string): Promise<OwnedProcess> {
  installExitHooks();
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keepTail = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  // A server a failed test never stopped must not keep the test process alive; the exit hook ends it.
  child.unref();
  (child.stdout as unknown as Unrefable | null)?.unref?.();
  (child.stderr as unknown as Unrefable | null)?.unref?.();
  liveChildren.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid, dir);
  void exited.then(() => {
    liveChildren.delete(child);
    if (watchdog) {
      liveChildren.delete(watchdog);
      watchdog.kill('SIGKILL');
    }
  });

  const stop = async (signal: 'SIGTERM' | 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    // A paused server only acts on SIGTERM once it runs again.
    child.kill('SIGCONT');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  try {
    await Promise.race([
      waitUntilServing(endpoint, child.pid ?? -1),
      spawnFailed,
      exited.then(() => Promise.reject(new Error(`${program} exited at start: ${output.trim()}`))),
    ]);
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  return { stop, signal: (signal) => void child.kill(signal) };
}

/** Waits for this process's end (EOF on its stdin), then kills `pid` and removes its directory. */
function startWatchdog(pid: number, dir: string): ChildProcess {
  // `read` is a shell builtin: killing the shell leaves no child behind.
  const script = 'while read -r _; do :; done; kill -9 "$1" 2>/dev/null; rm -rf "$2"';
  const watchdog = spawn('/bin/sh', ['-c', script, 'watchdog', String(pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither the watchdog nor its pipe may keep this process alive.
  watchdog.unref();
  (watchdog.stdin as unknown as Unrefable | null)?.unref?.();
  watchdog.on('error', () => {});
  liveChildren.add(watchdog);
  return watchdog;
}

/** Polls until the server answers, and checks it is ours: the port may have been taken by someone else's. */
async function waitUntilServing(endpoint: Endpoint, pid: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const servingPid = await serverPid(endpoint);
    if (servingPid === pid) return;
    if (servingPid !== undefined) throw new Error(`${HOST}:${endpoint.port} is served by another process (pid ${servingPid})`);
    if (Date.now() > deadline) throw new Error(`nothing answered on ${HOST}:${endpoint.port} within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The process_id from INFO over raw RESP, or undefined while nothing answers. */
function serverPid(endpoint: Endpoint): Promise<number | undefined> {
  const resp = (...words: string[]) => `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
  return new Promise((resolve) => {
    const request = (endpoint.password === undefined ? '' : resp('AUTH', endpoint.password)) + resp('INFO', 'server');
    const socket: Socket =
      endpoint.caFile === undefined
        ? connectTcp({ host: HOST, port: endpoint.port }, () => socket.write(request))
        : connectTls({ host: HOST, port: endpoint.port, ca: readFileSync(endpoint.caFile) }, () => socket.write(request));
    let reply = '';
    const done = (pid: number | undefined) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(500, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const match = /process_id:(\d+)\r\n/.exec(reply);
      if (match) done(Number(match[1]));
      else if (/^-[A-Z]+[^\r]*\r\n/m.test(reply)) done(undefined); // LOADING, or an AUTH refused by someone else's server
    });
  });
}
