/** Process-wide settings, read from the environment once at start (SPEC §5, §7). */
export interface Config {
  kongAdminUrl: string;
  /** Sent as Kong-Admin-Token; never logged. */
  kongAdminToken: string | undefined;
  kongAdminTimeoutMs: number;
  cacheTtlSeconds: number;
  cacheMaxMemoryEntries: number;
  logLevel: LogLevel;
  /** Instances Kong has not used for this long are forgotten; Kong restarts them on "no plugin instance". */
  pluginInstanceTtlSeconds: number;
  /** An event Kong stopped stepping (client gone, Kong worker killed) is dropped after this long. */
  eventTtlSeconds: number;
  /** How long SIGTERM waits for in-flight events before giving up with exit 1. */
  shutdownTimeoutMs: number;
  nodeEnv: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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

/** Throws ConfigError naming the first invalid variable. */
export function loadConfig(env: Env = process.env): Config {
  return {
    kongAdminUrl: httpUrl(env, 'KONG_ADMIN_URL', 'http://127.0.0.1:8001'),
    kongAdminToken: present(env, 'KONG_ADMIN_TOKEN'),
    kongAdminTimeoutMs: integer(env, 'KONG_ADMIN_TIMEOUT_MS', 3000, 50, 60_000),
    cacheTtlSeconds: integer(env, 'CACHE_TTL_SECONDS', 300, 1, 86_400),
    cacheMaxMemoryEntries: integer(env, 'CACHE_MAX_MEMORY_ENTRIES', 10_000, 1, 10_000_000),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    pluginInstanceTtlSeconds: integer(env, 'PLUGIN_INSTANCE_TTL_SECONDS', 3600, 1, 604_800),
    eventTtlSeconds: integer(env, 'EVENT_TTL_SECONDS', 60, 1, 3600),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    nodeEnv: present(env, 'NODE_ENV') ?? 'production',
  };
}

/** Variable names loadConfig reads; deployment manifests are checked against this list. */
export const CONFIG_VARIABLES = [
  'KONG_ADMIN_URL', 'KONG_ADMIN_TOKEN', 'KONG_ADMIN_TIMEOUT_MS', 'CACHE_TTL_SECONDS', 'CACHE_MAX_MEMORY_ENTRIES',
  'LOG_LEVEL', 'PLUGIN_INSTANCE_TTL_SECONDS', 'EVENT_TTL_SECONDS', 'SHUTDOWN_TIMEOUT_MS', 'NODE_ENV',
] as const;
