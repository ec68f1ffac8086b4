import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../ops/logger.js';

export interface RedisConfig {
  /**
   * redis:// or rediss:// (TLS); with sentinels, only its credentials, database and scheme are used; with
   * cluster nodes, only its credentials and scheme (a cluster has database 0 only).
   */
  url: string | undefined;
  sentinels: Array<{ host: string; port: number }>;
  /** Redis Cluster seed nodes; the other nodes are found from them. Empty: one server or Sentinel. */
  clusterNodes: Array<{ host: string; port: number }>;
  sentinelMaster: string;
  sentinelPassword: string | undefined;
  tlsCaFile: string | undefined;
  keyPrefix: string;
  commandTimeoutMs: number;
}

/** One server or Sentinel's master (Redis), or a Redis Cluster: the commands we send work on both. */
export type RedisClient = Redis | Cluster;

/** One shared Redis client that never holds a request hostage: while it is down, callers skip it. */
export interface RedisConnection {
  /** Commands on keys of one slot (see the key layout in docs/deploying.md) work on every topology. */
  client: RedisClient;
  /** True while commands can be sent; when false, callers skip Redis instead of waiting. */
  isReady(): boolean;
  /**
   * A new connection to the same Redis with the same options, for SUBSCRIBE (a connection that subscribes
   * can send nothing else). Like the client it queues nothing while disconnected: subscribe once it is
   * ready (its `ready` event, or `status === 'ready'`); after a reconnect it subscribes again by itself.
   * On a cluster, SUBSCRIBE goes to one node and PUBLISH reaches every node. close() closes it too.
   */
  subscriber(): RedisClient;
  /**
   * The connections to every master as the client knows them now: the client itself for one server or
   * Sentinel, each master of a cluster. For a command that must see every key of ours, such as SCAN.
   */
  masters(): Redis[];
  stats(): { errors: number; reconnects: number };
  /** Quits cleanly (pending replies arrive first), or drops the socket when Redis is unreachable. */
  close(): Promise<void>;
}

/** A TCP connect (TLS handshake included) that takes longer than this is abandoned and retried. */
const CONNECT_TIMEOUT_MS = 3000;
/** Reconnect delays: 100, 200, 400 ms … doubling up to this cap, forever. */
const MAX_RECONNECT_DELAY_MS = 2000;

function reconnectDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.max(attempt - 1, 0), MAX_RECONNECT_DELAY_MS);
}

export function createRedisConnection(config: RedisConfig, deps: { log: Logger }): RedisConnection {
  const target = describeTarget(config);
  const stats = { errors: 0, reconnects: 0 };
  let isDown = false;
  let isClosing = false;
  const client = createClient(config, () => isClosing);
  const subscribers = new Set<RedisClient>();

  // ioredis reports every failed reconnect attempt; one line when an outage starts and one when it
  // ends is what an operator needs.
  function markDown(err?: Error): void {
    if (isDown || isClosing) return;
    isDown = true;
    deps.log.warn(
      { 'event.action': 'redis-unavailable', ...target, ...(err ? { error: err } : {}) },
      'Redis unavailable; the Redis cache layers are skipped until it is back',
    );
  }

  client.on('error', (err: Error) => {
    stats.errors++;
    markDown(err);
  });
  client.on('close', () => markDown());
  client.on('reconnecting', () => {
    stats.reconnects++;
  });
  // A cluster node that fails only takes its slots away: the client stays ready and those calls fail fast.
  client.on('node error', () => {
    stats.errors++;
  });
  client.on('ready', () => {
    if (isDown) deps.log.info({ 'event.action': 'redis-restored', ...target }, 'Redis is back; the Redis cache layers are used again');
    else deps.log.info({ 'event.action': 'redis-connected', ...target }, 'connected to Redis');
    isDown = false;
  });

  return {
    client,
    isReady: () => client.status === 'ready',
    subscriber() {
      const subscriber = config.clusterNodes.length === 0 ? client.duplicate() : clusterSubscriber(config, () => isClosing);
      // Its outages are the client's too, and logged there.
      subscriber.on('error', () => {
        stats.errors++;
      });
      subscribers.add(subscriber);
      subscriber.once('end', () => subscribers.delete(subscriber));
      return subscriber;
    },
    masters: () => (client instanceof Cluster ? client.nodes('master') : [client]),
    stats: () => ({ ...stats }),
    async close() {
      isClosing = true;
      await Promise.all([client, ...subscribers].map(quit));
    },
  };
}

/** Quits cleanly, or drops the socket when Redis is unreachable. */
async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    // Not connected (quit is refused without an offline queue) or no reply in time.
    client.disconnect();
  }
}

function createClient(config: RedisConfig, isClosing: () => boolean): RedisClient {
  if (config.clusterNodes.length === 0) return new Redis(redisOptions(config, isClosing));
  return new Cluster(config.clusterNodes, clusterOptions(config, isClosing));
}

/**
 * The subscriber of a Redis Cluster: one plain connection to a node, moved to the next seed at each
 * reconnect. A classic PUBLISH reaches every node of a cluster, so one node hears every message.
 * ioredis's own cluster subscriber is not used: while the whole cluster is down it picks a new node
 * in a loop without delay, a core at 100 % for as long as the outage lasts.
 */
function clusterSubscriber(config: RedisConfig, isClosing: () => boolean): Redis {
  const url = config.url === undefined ? undefined : new URL(config.url);
  const tls = url?.protocol === 'rediss:' ? tlsOptions(config) : undefined;
  let seed = 0;
  const node = () => config.clusterNodes[seed % config.clusterNodes.length] as { host: string; port: number };
  const subscriber: Redis = new Redis({
    ...perNodeOptions(config, url),
    ...(tls ? { tls } : {}),
    ...node(),
    enableOfflineQueue: false,
    retryStrategy(attempt) {
      if (isClosing()) return null;
      seed++;
      // The connector reads host and port from these options at each connect.
      Object.assign(subscriber.options, node());
      return reconnectDelayMs(attempt);
    },
  });
  return subscriber;
}

/** Per node of a cluster and for one server alike: no command outlives the timeout, none is resent. */
function perNodeOptions(config: RedisConfig, url: URL | undefined): ClusterOptions['redisOptions'] & RedisOptions {
  return {
    // Commands in flight when the connection drops are rejected, not resent after the reconnect.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: config.commandTimeoutMs,
    // A server that accepts commands but never answers (hung, partitioned) is dropped and reconnected,
    // so isReady() turns false and callers stop waiting on it.
    socketTimeout: Math.max(1000, 2 * config.commandTimeoutMs),
    connectTimeout: CONNECT_TIMEOUT_MS,
    // CLIENT SETINFO costs two round trips per connect and fails on Redis < 7.2.
    disableClientInfo: true,
    username: url?.username ? percentDecoded(url.username) : undefined,
    password: url?.password ? percentDecoded(url.password) : undefined,
  };
}

function clusterOptions(config: RedisConfig, isClosing: () => boolean): ClusterOptions {
  const url = config.url === undefined ? undefined : new URL(config.url);
  const tls = url?.protocol === 'rediss:' ? tlsOptions(config) : undefined;
  return {
    lazyConnect: false,
    // A command sent while no node is connected is rejected at once instead of queued.
    enableOfflineQueue: false,
    // Ready once CLUSTER INFO says cluster_state:ok.
    enableReadyCheck: true,
    scaleReads: 'master',
    clusterRetryStrategy: (attempt) => (isClosing() ? null : reconnectDelayMs(attempt)),
    // ioredis would retry a command whose node is gone, or that a failing cluster refuses (CLUSTERDOWN),
    // every 100 ms up to 16 times: 0 rejects it at once, so the caller skips Redis. MOVED and ASK after a
    // resharding are still followed, a few times.
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 50,
    maxRedirections: 3,
    slotsRefreshTimeout: Math.max(config.commandTimeoutMs, 1000),
    redisOptions: { ...perNodeOptions(config, url), ...(tls ? { tls } : {}) },
    // With TLS the certificate names the host we were given, not the address it resolves to.
    ...(tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
}

function redisOptions(config: RedisConfig, isClosing: () => boolean): RedisOptions {
  const url = config.url === undefined ? undefined : new URL(config.url);
  const tls = url?.protocol === 'rediss:' ? tlsOptions(config) : undefined;
  const failFast: RedisOptions = {
    ...perNodeOptions(config, url),
    lazyConnect: false,
    // A command sent while disconnected is rejected at once instead of queued until Redis returns.
    enableOfflineQueue: false,
    retryStrategy: reconnectDelayMs,
    // After a failover, a client still talking to the demoted master gets READONLY: find the new one.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    db: databaseOf(url),
  };
  if (config.sentinels.length > 0) {
    return {
      ...failFast,
      sentinels: config.sentinels,
      name: config.sentinelMaster,
      sentinelPassword: config.sentinelPassword,
      sentinelCommandTimeout: config.commandTimeoutMs,
      // While no sentinel answers, ioredis retries inside one connect attempt, which close() cannot cancel.
      sentinelRetryStrategy: (attempt) => (isClosing() ? null : reconnectDelayMs(attempt)),
      // rediss:// means the whole deployment speaks TLS: the sentinels and the master they name.
      ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
    };
  }
  return {
    ...failFast,
    host: url ? url.hostname.replace(/^\[|\]$/g, '') || 'localhost' : 'localhost',
    port: url?.port ? Number(url.port) : 6379,
    ...(tls ? { tls } : {}),
  };
}

function tlsOptions(config: RedisConfig): ConnectionOptions {
  return config.tlsCaFile === undefined ? {} : { ca: readFileSync(config.tlsCaFile) };
}

/** URL userinfo is percent-encoded; a stray % is taken literally rather than failing the start. */
function percentDecoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** redis://host:6379/2 → 2. */
function databaseOf(url: URL | undefined): number {
  const db = Number(url?.pathname.replace(/^\//, '') || 0);
  return Number.isSafeInteger(db) && db >= 0 ? db : 0;
}

/** Where we connect, for log lines: host and port only, never the credentials in the URL. */
function describeTarget(config: RedisConfig): Record<string, string> {
  if (config.clusterNodes.length > 0) {
    return { 'server.address': config.clusterNodes.map((node) => `${node.host}:${node.port}`).join(','), 'redis.topology': 'cluster' };
  }
  if (config.sentinels.length > 0) {
    return {
      'server.address': config.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      'redis.sentinel.master': config.sentinelMaster,
    };
  }
  const url = config.url === undefined ? undefined : new URL(config.url);
  return { 'server.address': `${url?.hostname || 'localhost'}:${url?.port || 6379}` };
}
