import { KONG_MODES, type BreakerConfig, type KongMode } from './credentials/admin-client.js';
import type { RedisConfig } from './credentials/redis-connection.js';
import { LOG_LEVELS, type LogLevel } from './ops/logger.js';
import { SAMPLERS, TELEMETRY_MODES, type TelemetryConfig } from './ops/telemetry.js';
import {
  decimal,
  encryptionKey,
  existingDirectory,
  existingFile,
  fraction,
  groupId,
  hostPorts,
  httpUrl,
  integer,
  keyValues,
  oneOf,
  type Parser,
  redisUrl,
  socketMode,
  text,
} from './config-parsers.js';

/** One environment variable: how it is read, and its row of docs/configuration.md. */
export interface Variable<T> {
  readonly parser: Parser<T>;
  /** Used when the variable is unset or blank, and parsed as a given value is; none: the setting is unset. */
  readonly default?: string;
  /** An invalid value is shown as <redacted>, never as itself. */
  readonly secret?: true;
  /** What it does, with its unit; docs/configuration.md shows it after the parser's `allowed`. */
  readonly meaning: string;
}

/** Every variable the process reads, in the order docs/configuration.md lists them. */
export const VARIABLES = {
  KONG_MODE: {
    parser: oneOf(KONG_MODES),
    default: 'API_GATEWAY',
    meaning:
      '`API_GATEWAY`: a Kong Admin API, authenticated with the `Kong-Admin-Token` header. `KONNECT`: a Konnect control plane (paths under `/core-entities/`, `Authorization: Bearer`).',
  },
  KONG_ADMIN_URL: {
    parser: httpUrl,
    default: 'http://127.0.0.1:8001',
    meaning: 'The Admin API, or `https://<region>.api.konghq.com/v2/control-planes/<id>` with `KONNECT`. A trailing `/` is dropped.',
  },
  KONG_ADMIN_TOKEN: {
    parser: text,
    secret: true,
    meaning:
      'Sent as `Kong-Admin-Token`, or as the Konnect Bearer token. Required with `KONNECT`. It is never logged, and `/metrics?view=config` only says whether it is set.',
  },
  KONG_ADMIN_TIMEOUT_MS: { parser: integer(50, 60_000), default: '3000', meaning: 'Timeout of one Admin API attempt, in ms.' },
  KONG_ADMIN_RETRIES: {
    parser: integer(0, 10),
    default: '2',
    meaning: 'Retries of a GET after a network error, a timeout, a 5xx or a 429. A POST (credential provisioning) is never retried.',
  },
  KONG_ADMIN_RETRY_DELAY_MS: {
    parser: integer(1, 10_000),
    default: '100',
    meaning: 'Delay before the first retry, in ms; it doubles with each retry.',
  },
  CIRCUIT_BREAKER_FAILURE_RATIO: {
    parser: fraction('exclusive'),
    default: '0.5',
    meaning: 'Share of failed Admin API attempts in the window that opens the breaker.',
  },
  CIRCUIT_BREAKER_WINDOW_MS: { parser: integer(1000, 600_000), default: '10000', meaning: "The breaker's sampling window, in ms." },
  CIRCUIT_BREAKER_MIN_CALLS: {
    parser: integer(1, 100_000),
    default: '5',
    meaning: 'Attempts needed in the window before the ratio counts. Every attempt counts, retries included.',
  },
  CIRCUIT_BREAKER_HALF_OPEN_AFTER_MS: {
    parser: integer(100, 3_600_000),
    default: '30000',
    meaning: 'How long, in ms, the breaker stays open before it lets a trial call through (half-open).',
  },
  CACHE_TTL_SECONDS: {
    parser: integer(1, 86_400),
    default: '300',
    meaning: 'Lifetime of a fresh copy of a credential or consumer, in memory and in Redis, in seconds.',
  },
  CACHE_MAX_MEMORY_ENTRIES: {
    parser: integer(1, 10_000_000),
    default: '10000',
    meaning:
      'Entries held in memory per cache layer (LRU). It also bounds the per-process rate-limit table and the table of keys Kong said it does not know.',
  },
  STALE_DATA_TOLERANCE_MINUTES: {
    parser: decimal(0, 10_080),
    default: '30',
    meaning: 'How long, in minutes, a stale copy may stand in while the Admin API fails. 0: never.',
  },
  CACHE_ENCRYPTION_KEY: {
    parser: encryptionKey,
    secret: true,
    meaning:
      'Credentials stored in Redis are sealed with AES-256-GCM under it. Unset: they are stored as plain JSON and a warning is logged at start (see [deploying.md](deploying.md#redis-and-cache_encryption_key)).',
  },
  REDIS_URL: {
    // It may carry Redis's password.
    parser: redisUrl,
    secret: true,
    meaning:
      '`rediss://` is TLS. Turns on the shared Redis cache layers and the shared rate limit. With `REDIS_SENTINELS`, only its credentials, database and scheme are used; with `REDIS_CLUSTER_NODES`, only its credentials and scheme, and its database must be 0.',
  },
  REDIS_SENTINELS: { parser: hostPorts, meaning: 'Use Redis Sentinel instead of one server.' },
  REDIS_SENTINEL_MASTER: { parser: text, default: 'mymaster', meaning: 'Name of the master the sentinels monitor.' },
  REDIS_SENTINEL_PASSWORD: { parser: text, secret: true, meaning: 'Password of the sentinels themselves.' },
  REDIS_CLUSTER_NODES: {
    parser: hostPorts,
    meaning:
      'Use Redis Cluster instead of one server: some of its nodes, from which the others are found. Not together with `REDIS_SENTINELS`.',
  },
  REDIS_TLS_CA_FILE: { parser: existingFile, meaning: 'A CA file for `rediss://`.' },
  REDIS_KEY_PREFIX: {
    parser: text,
    default: 'kong-auth-sidecar:',
    meaning: 'Prepended to every Redis key. Sidecars that share copies must use the same prefix.',
  },
  REDIS_COMMAND_TIMEOUT_MS: {
    parser: integer(10, 10_000),
    default: '250',
    meaning: 'The most one Redis call can add to a request, in ms.',
  },
  SIGNING_KEYS_DIR: {
    parser: existingDirectory,
    meaning:
      'The signing key directory (ES256, EdDSA, RS256): a `keys.json` manifest and its key files, e.g. a Kubernetes Secret mount shared by every sidecar. Read again every 5 s; an invalid content keeps the last good set (see [keys.md](keys.md)).',
  },
  LOG_LEVEL: { parser: oneOf(LOG_LEVELS), default: 'info', meaning: 'Level of the NDJSON log on stdout.' },
  EVENT_LOG_LEVEL: {
    parser: oneOf(LOG_LEVELS),
    default: 'info',
    meaning: 'Level of the one line logged per issued, validated or refused token; `debug` hides them under `LOG_LEVEL=info`.',
  },
  TELEMETRY_MODE: {
    parser: oneOf(TELEMETRY_MODES),
    default: 'off',
    meaning: '`console`: spans as JSON log lines. `otlp`: OTLP/HTTP protobuf. `both`: the two.',
  },
  OTEL_SERVICE_NAME: { parser: text, default: 'kong-auth-sidecar', meaning: '`service.name` of the exported spans.' },
  OTEL_RESOURCE_ATTRIBUTES: { parser: keyValues, meaning: 'Values are percent-encoded. Added to the trace resource.' },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    parser: httpUrl,
    default: 'http://localhost:4318',
    meaning: 'Base URL of the OTLP receiver; `/v1/traces` is appended.',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    parser: httpUrl,
    meaning: 'Full traces URL, used as it is. It wins over `OTEL_EXPORTER_OTLP_ENDPOINT`.',
  },
  OTEL_EXPORTER_OTLP_TIMEOUT: { parser: integer(100, 120_000), default: '10000', meaning: 'Timeout of one export, in ms.' },
  OTEL_BSP_MAX_QUEUE_SIZE: {
    parser: integer(1, 100_000),
    default: '2048',
    meaning: 'Spans waiting for export. Past this, spans are dropped and counted.',
  },
  OTEL_BSP_SCHEDULE_DELAY: { parser: integer(10, 600_000), default: '5000', meaning: 'Export interval, in ms.' },
  OTEL_TRACES_SAMPLER: {
    parser: oneOf(SAMPLERS),
    default: 'parentbased_always_on',
    meaning: "The default follows Kong's sampling decision (the sampled flag of the request's `traceparent`).",
  },
  OTEL_TRACES_SAMPLER_ARG: {
    parser: fraction('inclusive'),
    default: '1',
    meaning: 'Sampling ratio for the two `traceidratio` samplers; the others ignore it.',
  },
  KONG_PREFIX: {
    parser: text,
    default: '/usr/local/kong',
    meaning: 'Default of `--kong-prefix`, the directory of the plugin socket. Kong sets it for a plugin server it starts.',
  },
  SOCKET_MODE: {
    parser: socketMode,
    default: '0660',
    meaning:
      "The plugin socket's mode, which it has from the moment it appears at its path. Kong's user connects through the group (see [deploying.md](deploying.md#who-may-connect-to-the-socket)).",
  },
  SOCKET_GROUP: {
    parser: groupId,
    meaning:
      "The plugin socket's group; the process must be a member. Unset: the process's group, or the directory's group when the directory is setgid.",
  },
  PLUGIN_INFO_DIR: {
    parser: text,
    meaning: "A directory. At start the process writes `<plugin>.json` plugin-info files there, for Kong's `cat` query command.",
  },
  PLUGIN_INSTANCE_TTL_SECONDS: {
    parser: integer(1, 604_800),
    default: '3600',
    meaning: 'Plugin instances Kong has not used for this many seconds are forgotten. Kong restarts them transparently.',
  },
  EVENT_TTL_SECONDS: {
    parser: integer(1, 3600),
    default: '60',
    meaning: 'An event Kong stopped stepping (the client went away, a Kong worker was killed) is dropped after this many seconds.',
  },
  PLUGIN_MAX_INSTANCES: {
    parser: integer(1, 1_000_000),
    default: '10000',
    meaning:
      'Live plugin instances. Kong starts one per plugin entity and Kong worker. Past the limit `StartInstance` is refused, and Kong answers that request with a 500.',
  },
  STATUS_HOST: { parser: text, default: '0.0.0.0', meaning: 'Address of the status port.' },
  STATUS_PORT: { parser: integer(0, 65_535), default: '3000', meaning: 'The status port. 0 picks any free port and logs it at start.' },
  HEALTH_PROBE_CACHE_MS: {
    parser: integer(0, 600_000),
    default: '5000',
    meaning: 'How long, in ms, `/health` reuses its Admin API and Redis probes, so that a scrape storm adds no load on them.',
  },
  SHUTDOWN_TIMEOUT_MS: {
    parser: integer(100, 600_000),
    default: '10000',
    meaning: 'How long, in ms, SIGTERM waits for in-flight events before the process exits 1.',
  },
  NODE_ENV: { parser: text, default: 'production', meaning: 'Any value. `/debug/info` is served only when this is not `production`.' },
} as const satisfies Record<string, Variable<unknown>>;

type Variables = typeof VARIABLES;
export type VariableName = keyof Variables;
/** A variable without a default may be unset. */
type ValueOf<N extends VariableName> =
  Variables[N] extends Variable<infer T> ? (Variables[N] extends { default: string } ? T : T | undefined) : never;

/** Variable names the process reads; deployment manifests are checked against this list. */
export const CONFIG_VARIABLES = Object.keys(VARIABLES) as readonly VariableName[];

/**
 * Process-wide settings, read from the environment once at start. What a field means is the entry in
 * VARIABLES of the variable loadConfig reads it from.
 */
export interface Config {
  kongMode: KongMode;
  kongAdminUrl: string;
  /** Never logged. */
  kongAdminToken: string | undefined;
  kongAdminTimeoutMs: number;
  kongAdminRetries: number;
  kongAdminRetryDelayMs: number;
  breaker: BreakerConfig;
  cacheTtlSeconds: number;
  cacheMaxMemoryEntries: number;
  /** STALE_DATA_TOLERANCE_MINUTES in seconds. */
  staleToleranceSeconds: number;
  redis: RedisConfig | undefined;
  cacheEncryptionKey: Buffer | undefined;
  logLevel: LogLevel;
  eventLogLevel: LogLevel;
  telemetry: TelemetryConfig;
  pluginInstanceTtlSeconds: number;
  eventTtlSeconds: number;
  pluginMaxInstances: number;
  socketMode: number;
  socketGroup: number | undefined;
  pluginInfoDir: string | undefined;
  signingKeysDir: string | undefined;
  statusHost: string;
  statusPort: number;
  healthProbeCacheMs: number;
  shutdownTimeoutMs: number;
  nodeEnv: string;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly allowed: string,
    value: string,
  ) {
    super(`invalid ${variable}=${JSON.stringify(value)}: ${allowed}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** One variable's value: its trimmed text, else its default, parsed. Throws ConfigError when the parser refuses it. */
export function readVariable<N extends VariableName>(env: Env, name: N): ValueOf<N> {
  const variable: Variable<unknown> = VARIABLES[name];
  const given = env[name]?.trim();
  const raw = given === undefined || given === '' ? variable.default : given;
  if (raw === undefined) return undefined as ValueOf<N>;
  const value = variable.parser.parse(raw);
  if (value === undefined)
    throw new ConfigError(name, variable.parser.allowed?.((literal) => literal) ?? '', variable.secret ? '<redacted>' : raw);
  return value as ValueOf<N>;
}

type Read = <N extends VariableName>(name: N) => ValueOf<N>;

function loadTelemetryConfig(read: Read): TelemetryConfig {
  const base = read('OTEL_EXPORTER_OTLP_ENDPOINT');
  const tracesEndpoint = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? `${base}/v1/traces`;
  const sampler = read('OTEL_TRACES_SAMPLER');
  return {
    mode: read('TELEMETRY_MODE'),
    serviceName: read('OTEL_SERVICE_NAME'),
    resourceAttributes: read('OTEL_RESOURCE_ATTRIBUTES') ?? {},
    tracesEndpoint,
    exportTimeoutMs: read('OTEL_EXPORTER_OTLP_TIMEOUT'),
    maxQueueSize: read('OTEL_BSP_MAX_QUEUE_SIZE'),
    scheduleDelayMs: read('OTEL_BSP_SCHEDULE_DELAY'),
    sampler,
    // The other samplers ignore the ratio, so a value they would not use is not checked either.
    samplerArg: sampler.endsWith('traceidratio') ? read('OTEL_TRACES_SAMPLER_ARG') : 1,
  };
}

/** Redis is used with REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES; its other variables are read only then. */
function loadRedisConfig(read: Read, env: Env): RedisConfig | undefined {
  const url = read('REDIS_URL');
  const sentinels = read('REDIS_SENTINELS') ?? [];
  const clusterNodes = read('REDIS_CLUSTER_NODES') ?? [];
  if (url === undefined && sentinels.length === 0 && clusterNodes.length === 0) return undefined;
  if (clusterNodes.length > 0 && sentinels.length > 0)
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      'unset while REDIS_SENTINELS is set (one topology at a time)',
      env.REDIS_CLUSTER_NODES ?? '',
    );
  // A cluster has database 0 only; ioredis would SELECT another on every node and fail on each connect.
  if (clusterNodes.length > 0 && url !== undefined && !/^\/?0?$/.test(new URL(url).pathname))
    throw new ConfigError('REDIS_URL', 'database 0 or none (Redis Cluster has database 0 only; REDIS_CLUSTER_NODES is set)', '<redacted>');
  return {
    url,
    sentinels,
    clusterNodes,
    sentinelMaster: read('REDIS_SENTINEL_MASTER'),
    sentinelPassword: read('REDIS_SENTINEL_PASSWORD'),
    tlsCaFile: read('REDIS_TLS_CA_FILE'),
    keyPrefix: read('REDIS_KEY_PREFIX'),
    commandTimeoutMs: read('REDIS_COMMAND_TIMEOUT_MS'),
  };
}

/** Throws ConfigError naming the first invalid variable. */
export function loadConfig(env: Env = process.env): Config {
  const read: Read = (name) => readVariable(env, name);
  const kongMode = read('KONG_MODE');
  const kongAdminToken = read('KONG_ADMIN_TOKEN');
  if (kongMode === 'KONNECT' && kongAdminToken === undefined)
    throw new ConfigError('KONG_ADMIN_TOKEN', 'a Konnect personal or system access token (required with KONG_MODE=KONNECT)', '');
  return {
    kongMode,
    kongAdminUrl: read('KONG_ADMIN_URL'),
    kongAdminToken,
    kongAdminTimeoutMs: read('KONG_ADMIN_TIMEOUT_MS'),
    kongAdminRetries: read('KONG_ADMIN_RETRIES'),
    kongAdminRetryDelayMs: read('KONG_ADMIN_RETRY_DELAY_MS'),
    breaker: {
      failureRatio: read('CIRCUIT_BREAKER_FAILURE_RATIO'),
      windowMs: read('CIRCUIT_BREAKER_WINDOW_MS'),
      minCalls: read('CIRCUIT_BREAKER_MIN_CALLS'),
      halfOpenAfterMs: read('CIRCUIT_BREAKER_HALF_OPEN_AFTER_MS'),
    },
    cacheTtlSeconds: read('CACHE_TTL_SECONDS'),
    cacheMaxMemoryEntries: read('CACHE_MAX_MEMORY_ENTRIES'),
    staleToleranceSeconds: read('STALE_DATA_TOLERANCE_MINUTES') * 60,
    redis: loadRedisConfig(read, env),
    cacheEncryptionKey: read('CACHE_ENCRYPTION_KEY'),
    logLevel: read('LOG_LEVEL'),
    eventLogLevel: read('EVENT_LOG_LEVEL'),
    telemetry: loadTelemetryConfig(read),
    pluginInstanceTtlSeconds: read('PLUGIN_INSTANCE_TTL_SECONDS'),
    eventTtlSeconds: read('EVENT_TTL_SECONDS'),
    pluginMaxInstances: read('PLUGIN_MAX_INSTANCES'),
    socketMode: read('SOCKET_MODE'),
    socketGroup: read('SOCKET_GROUP'),
    pluginInfoDir: read('PLUGIN_INFO_DIR'),
    signingKeysDir: read('SIGNING_KEYS_DIR'),
    statusHost: read('STATUS_HOST'),
    statusPort: read('STATUS_PORT'),
    healthProbeCacheMs: read('HEALTH_PROBE_CACHE_MS'),
    shutdownTimeoutMs: read('SHUTDOWN_TIMEOUT_MS'),
    nodeEnv: read('NODE_ENV'),
  };
}
