import { existsSync, readFileSync } from 'node:fs';
import { type BreakerConfig, type KongMode } from './credentials/admin-client.js';
import type { RedisConfig } from './credentials/redis-connection.js';
import { parseEncryptionKey } from './credentials/secret-cipher.js';
import { LOG_LEVELS, type LogLevel } from './ops/logger.js';
import { SAMPLERS, TELEMETRY_MODES, type TelemetryConfig } from './ops/telemetry.js';

/** Process-wide settings, read from the environment once at start (docs/configuration.md). */
export interface Config {
  /** API_GATEWAY: a Kong Admin API with Kong-Admin-Token; KONNECT: a control plane's URL with a Bearer token. */
  kongMode: KongMode;
  kongAdminUrl: string;
  /** Sent as Kong-Admin-Token (or the Konnect Bearer token); never logged. */
  kongAdminToken: string | undefined;
  /** Per attempt. */
  kongAdminTimeoutMs: number;
  /** Retries after the first attempt, for GETs only. */
  kongAdminRetries: number;
  /** First retry delay; doubles each retry. */
  kongAdminRetryDelayMs: number;
  breaker: BreakerConfig;
  cacheTtlSeconds: number;
  cacheMaxMemoryEntries: number;
  /** How long a stale copy may stand in for the Admin API when it fails; 0 disables stale serving. */
  staleToleranceSeconds: number;
  redis: RedisConfig | undefined;
  /** AES-256-GCM key for secrets stored in Redis. */
  cacheEncryptionKey: Buffer | undefined;
  logLevel: LogLevel;
  /** Level of the one line per issued / validated / refused event. */
  eventLogLevel: LogLevel;
  telemetry: TelemetryConfig;
  /** Instances Kong has not used for this long are forgotten; Kong restarts them on "no plugin instance". */
  pluginInstanceTtlSeconds: number;
  /** An event Kong stopped stepping (client gone, Kong worker killed) is dropped after this long. */
  eventTtlSeconds: number;
  /** Past this many live instances StartInstance is refused (Kong starts one per plugin entity and worker). */
  pluginMaxInstances: number;
  /** Mode bits of the plugin socket: the owner reads and writes, Kong's user through the group, others never write. */
  socketMode: number;
  /** The group the plugin socket is given; unset: the process's group, or the directory's when it is setgid. */
  socketGroup: number | undefined;
  /** When set, the plugin-info files for Kong's `cat` query_cmd are written here at start (a volume shared with Kong). */
  pluginInfoDir: string | undefined;
  statusHost: string;
  /** 0 picks a free port (tests); the chosen one is logged. */
  statusPort: number;
  /** Dependency probes behind /health are reused this long, so a scrape storm never multiplies Admin API or Redis traffic. */
  healthProbeCacheMs: number;
  /** How long SIGTERM waits for in-flight events before giving up with exit 1. */
  shutdownTimeoutMs: number;
  nodeEnv: string;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, readonly allowed: string, value: string) {
    super(`invalid ${variable}=${JSON.stringify(value)}: ${allowed}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function present(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `one of ${allowed.join(', ')}`, raw);
  return raw as T;
}

function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = present(env, name) ?? fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'an http:// or https:// URL', raw);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(name, 'an http:// or https:// URL', raw);
  return raw.replace(/\/+$/, '');
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || value < min || value > max) throw new ConfigError(name, `a number from ${min} to ${max}`, raw);
  return value;
}

function ratio(env: Env, name: string, fallback: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value >= 1) throw new ConfigError(name, 'a number between 0 and 1 (exclusive)', raw);
  return value;
}

function redisUrl(env: Env, name: string): string | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  let protocol: string;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    throw new ConfigError(name, 'a redis:// or rediss:// URL', raw);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigError(name, 'a redis:// or rediss:// URL', raw);
  return raw;
}

function hostPorts(env: Env, name: string): Array<{ host: string; port: number }> {
  const raw = present(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((item) => {
    const match = /^\s*(\[[^\]]+\]|[^:\s]+):(\d{1,5})\s*$/.exec(item);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw new ConfigError(name, 'a comma-separated list of host:port', raw);
    return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
  });
}

function existingFile(env: Env, name: string): string | undefined {
  const raw = present(env, name);
  if (raw !== undefined && !existsSync(raw)) throw new ConfigError(name, 'the path of a readable file', raw);
  return raw;
}

const SOCKET_MODE_ALLOWED = 'an octal mode giving the owner read-write and others no write, e.g. 0660';

/** Connecting to a Unix socket takes write permission: world-writable would let any local user speak to us as Kong. */
function socketMode(env: Env, name: string, fallback: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const mode = /^0?[0-7]{3}$/.test(raw) ? parseInt(raw, 8) : 0;
  if ((mode & 0o600) !== 0o600 || (mode & 0o002) !== 0) throw new ConfigError(name, SOCKET_MODE_ALLOWED, raw);
  return mode;
}

/** A numeric gid, or a group name looked up in /etc/group. */
function groupId(env: Env, name: string): number | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  if (/^\d{1,10}$/.test(raw) && Number(raw) < 2 ** 32 - 1) return Number(raw);
  let groups = '';
  try {
    groups = readFileSync('/etc/group', 'utf8');
  } catch {
    // No group file: only numeric gids can be given.
  }
  const gid = groups.split('\n').map((line) => line.split(':')).find(([group]) => group === raw)?.[2];
  if (gid === undefined || !/^\d+$/.test(gid)) throw new ConfigError(name, 'a numeric gid or a group name from /etc/group', raw);
  return Number(gid);
}

function encryptionKey(env: Env, name: string): Buffer | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  try {
    return parseEncryptionKey(raw);
  } catch (err) {
    // The key itself never goes into the message.
    throw new ConfigError(name, (err as Error).message, '<redacted>');
  }
}

/** OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value, values percent-encoded. */
function keyValues(env: Env, name: string): Record<string, string> {
  const raw = present(env, name);
  if (raw === undefined) return {};
  const out: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const at = pair.indexOf('=');
    if (at < 1) throw new ConfigError(name, 'comma-separated key=value pairs', raw);
    out[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

function loadTelemetryConfig(env: Env): TelemetryConfig {
  const endpoint = present(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const base = endpoint === undefined ? undefined : httpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', endpoint);
  const tracesEndpoint = present(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
    ? httpUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', '')
    : `${base ?? 'http://localhost:4318'}/v1/traces`;
  const sampler = oneOf(env, 'OTEL_TRACES_SAMPLER', SAMPLERS, 'parentbased_always_on');
  return {
    mode: oneOf(env, 'TELEMETRY_MODE', TELEMETRY_MODES, 'off'),
    serviceName: present(env, 'OTEL_SERVICE_NAME') ?? 'kong-auth-sidecar',
    resourceAttributes: keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES'),
    tracesEndpoint,
    exportTimeoutMs: integer(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000, 100, 120_000),
    maxQueueSize: integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 100_000),
    scheduleDelayMs: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 10, 600_000),
    sampler,
    samplerArg: sampler.endsWith('traceidratio') ? ratioOrOne(env, 'OTEL_TRACES_SAMPLER_ARG') : 1,
  };
}

function ratioOrOne(env: Env, name: string): number {
  const raw = present(env, name);
  if (raw === undefined) return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new ConfigError(name, 'a number from 0 to 1', raw);
  return value;
}

function loadRedisConfig(env: Env): RedisConfig | undefined {
  const url = redisUrl(env, 'REDIS_URL');
  const sentinels = hostPorts(env, 'REDIS_SENTINELS');
  if (url === undefined && sentinels.length === 0) return undefined;
  return {
    url,
    sentinels,
    sentinelMaster: present(env, 'REDIS_SENTINEL_MASTER') ?? 'mymaster',
    sentinelPassword: present(env, 'REDIS_SENTINEL_PASSWORD'),
    tlsCaFile: existingFile(env, 'REDIS_TLS_CA_FILE'),
    keyPrefix: present(env, 'REDIS_KEY_PREFIX') ?? 'kong-auth-sidecar:',
    commandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 250, 10, 10_000),
  };
}

/** Throws ConfigError naming the first invalid variable. */
export function loadConfig(env: Env = process.env): Config {
  const kongMode = oneOf(env, 'KONG_MODE', ['API_GATEWAY', 'KONNECT'] as const, 'API_GATEWAY');
  const kongAdminToken = present(env, 'KONG_ADMIN_TOKEN');
  if (kongMode === 'KONNECT' && kongAdminToken === undefined) throw new ConfigError('KONG_ADMIN_TOKEN', 'a Konnect personal or system access token (required with KONG_MODE=KONNECT)', '');
  return {
    kongMode,
    kongAdminUrl: httpUrl(env, 'KONG_ADMIN_URL', 'http://127.0.0.1:8001'),
    kongAdminToken,
    kongAdminTimeoutMs: integer(env, 'KONG_ADMIN_TIMEOUT_MS', 3000, 50, 60_000),
    kongAdminRetries: integer(env, 'KONG_ADMIN_RETRIES', 2, 0, 10),
    kongAdminRetryDelayMs: integer(env, 'KONG_ADMIN_RETRY_DELAY_MS', 100, 1, 10_000),
    breaker: {
      failureRatio: ratio(env, 'CIRCUIT_BREAKER_FAILURE_RATIO', 0.5),
      windowMs: integer(env, 'CIRCUIT_BREAKER_WINDOW_MS', 10_000, 1000, 600_000),
      minCalls: integer(env, 'CIRCUIT_BREAKER_MIN_CALLS', 5, 1, 100_000),
      halfOpenAfterMs: integer(env, 'CIRCUIT_BREAKER_HALF_OPEN_AFTER_MS', 30_000, 100, 3_600_000),
    },
    cacheTtlSeconds: integer(env, 'CACHE_TTL_SECONDS', 300, 1, 86_400),
    cacheMaxMemoryEntries: integer(env, 'CACHE_MAX_MEMORY_ENTRIES', 10_000, 1, 10_000_000),
    staleToleranceSeconds: decimal(env, 'STALE_DATA_TOLERANCE_MINUTES', 30, 0, 10_080) * 60,
    redis: loadRedisConfig(env),
    cacheEncryptionKey: encryptionKey(env, 'CACHE_ENCRYPTION_KEY'),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    eventLogLevel: oneOf(env, 'EVENT_LOG_LEVEL', LOG_LEVELS, 'info'),
    telemetry: loadTelemetryConfig(env),
    pluginInstanceTtlSeconds: integer(env, 'PLUGIN_INSTANCE_TTL_SECONDS', 3600, 1, 604_800),
    eventTtlSeconds: integer(env, 'EVENT_TTL_SECONDS', 60, 1, 3600),
    pluginMaxInstances: integer(env, 'PLUGIN_MAX_INSTANCES', 10_000, 1, 1_000_000),
    socketMode: socketMode(env, 'SOCKET_MODE', 0o660),
    socketGroup: groupId(env, 'SOCKET_GROUP'),
    pluginInfoDir: present(env, 'PLUGIN_INFO_DIR'),
    statusHost: present(env, 'STATUS_HOST') ?? '0.0.0.0',
    statusPort: integer(env, 'STATUS_PORT', 3000, 0, 65_535),
    healthProbeCacheMs: integer(env, 'HEALTH_PROBE_CACHE_MS', 5000, 0, 600_000),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    nodeEnv: present(env, 'NODE_ENV') ?? 'production',
  };
}

/** Variable names loadConfig reads; deployment manifests are checked against this list. */
export const CONFIG_VARIABLES = [
  'KONG_MODE', 'KONG_ADMIN_URL', 'KONG_ADMIN_TOKEN', 'KONG_ADMIN_TIMEOUT_MS', 'KONG_ADMIN_RETRIES', 'KONG_ADMIN_RETRY_DELAY_MS',
  'CIRCUIT_BREAKER_FAILURE_RATIO', 'CIRCUIT_BREAKER_WINDOW_MS', 'CIRCUIT_BREAKER_MIN_CALLS', 'CIRCUIT_BREAKER_HALF_OPEN_AFTER_MS',
  'CACHE_TTL_SECONDS', 'CACHE_MAX_MEMORY_ENTRIES', 'STALE_DATA_TOLERANCE_MINUTES', 'CACHE_ENCRYPTION_KEY',
  'REDIS_URL', 'REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD', 'REDIS_TLS_CA_FILE', 'REDIS_KEY_PREFIX', 'REDIS_COMMAND_TIMEOUT_MS',
  'LOG_LEVEL', 'PLUGIN_INSTANCE_TTL_SECONDS', 'EVENT_TTL_SECONDS', 'STATUS_HOST', 'STATUS_PORT', 'HEALTH_PROBE_CACHE_MS',
  'SHUTDOWN_TIMEOUT_MS', 'NODE_ENV', 'PLUGIN_INFO_DIR', 'KONG_PREFIX', 'EVENT_LOG_LEVEL', 'TELEMETRY_MODE', 'OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_SCHEDULE_DELAY', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG',
  'PLUGIN_MAX_INSTANCES', 'SOCKET_MODE', 'SOCKET_GROUP',
] as const;
