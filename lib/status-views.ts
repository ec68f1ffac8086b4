import type { Context } from './context.js';
import { cachedProbe, type ProbeResult } from './ops/health.js';
import type { RevocationStats } from './ops/metric-sources.js';
import type { StatusViews, View } from './ops/status-server.js';
import type { TelemetryStatus } from './ops/telemetry.js';
import { VERSION } from './version.js';

/** What the status port reports about the process itself. */
export interface ProcessState {
  startedAt: number;
  /** The plugin socket is listening. */
  isServing(): boolean;
  isDraining(): boolean;
  pluginServer(): { events: number; instances: number; connections: number };
  telemetry(): TelemetryStatus;
}

/** Userinfo and query strings can hold credentials; status output never shows them. */
export function safeUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    url.search = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '<unparseable>';
  }
}

/** The revocations this process knows, and whether that is all of them. */
export function revocationStats(ctx: Context): RevocationStats {
  return { ...ctx.revocations.size(), current: ctx.revocations.isCurrent(), sync: ctx.redis?.revocations.stats() };
}

export function createStatusViews(ctx: Context, state: ProcessState): StatusViews {
  const kongProbe = cachedProbe(() => ctx.admin.probe(), ctx.config.healthProbeCacheMs);
  const redisProbe = cachedProbe(async (): Promise<ProbeResult> => {
    const connection = ctx.redis?.connection;
    if (!connection?.isReady()) return { healthy: false, responseTimeMs: 0, error: 'not connected' };
    const startedAt = performance.now();
    await connection.client.ping();
    return { healthy: true, responseTimeMs: Math.round(performance.now() - startedAt) };
  }, ctx.config.healthProbeCacheMs);

  function revocationReport() {
    const stats = revocationStats(ctx);
    return { type: ctx.redis ? 'redis' : 'memory', ...stats, sync: stats.sync ?? null };
  }

  const uptimeSeconds = () => Math.round((Date.now() - state.startedAt) / 1000);

  function cacheReport(redis: ProbeResult | undefined) {
    const stats = ctx.credentials.stats();
    const redisLayers = ctx.redis?.cache.stats();
    const hits = stats.memory.hits + (redisLayers?.fresh.hits ?? 0);
    const lookups = stats.memory.hits + stats.memory.misses;
    return {
      type: ctx.redis ? 'redis' : 'memory',
      connection: { connected: redis ? redis.healthy : true, responseTime: redis?.responseTimeMs ?? 0 },
      entries: {
        primary: stats.entries.memory,
        stale: stats.entries.memoryStale,
        staleCacheAvailable: ctx.config.staleToleranceSeconds > 0,
      },
      performance: { hitRate: lookups ? round(hits / lookups) : 0, avgLatencyMs: ctx.metrics.counts().eventLatency.avgMs },
    };
  }

  return {
    /** 503 only when the plugin socket is not serving; degraded when a dependency is unhealthy. */
    async health(): Promise<{ status: number; body: Record<string, unknown> }> {
      const [kong, redis] = await Promise.all([kongProbe(), ctx.redis ? redisProbe() : Promise.resolve(undefined)]);
      const telemetry = state.telemetry();
      const serving = state.isServing();
      const revocationsCurrent = ctx.revocations.isCurrent();
      const degraded = !kong.healthy || (redis !== undefined && !redis.healthy) || !telemetry.healthy || !revocationsCurrent;
      return {
        status: serving ? 200 : 503,
        body: {
          status: !serving ? 'unhealthy' : degraded ? 'degraded' : 'healthy',
          timestamp: new Date().toISOString(),
          version: VERSION,
          uptime: uptimeSeconds(),
          circuitBreakerState: ctx.admin.breakerState(),
          dependencies: {
            kong: {
              status: kong.healthy ? 'healthy' : 'unhealthy',
              responseTime: kong.responseTimeMs,
              details: {
                adminUrl: safeUrl(ctx.config.kongAdminUrl),
                mode: ctx.config.kongMode,
                ...(kong.error ? { error: kong.error } : {}),
              },
            },
            cache: cacheReport(redis),
            telemetry: { status: telemetry.healthy ? 'healthy' : 'unhealthy', mode: telemetry.mode },
            revocations: {
              status: revocationsCurrent ? 'healthy' : 'unhealthy',
              type: ctx.redis ? 'redis' : 'memory',
              current: revocationsCurrent,
            },
          },
        },
      };
    },

    ready(): { status: number; body: Record<string, unknown> } {
      const ready = state.isServing() && !state.isDraining();
      return {
        status: ready ? 200 : 503,
        body: { ready, draining: state.isDraining(), serving: state.isServing(), timestamp: new Date().toISOString() },
      };
    },

    telemetry() {
      const telemetry = state.telemetry();
      return {
        healthy: telemetry.healthy,
        telemetry: { mode: telemetry.mode, initialized: telemetry.initialized, exporter: telemetry.exporter, exports: telemetry.exports },
      };
    },

    view(view: View): Record<string, unknown> {
      const counts = ctx.metrics.counts();
      const admin = ctx.admin.stats();
      const credentials = ctx.credentials.stats();
      const operational = () => ({
        uptime: uptimeSeconds(),
        events: { byStatus: counts.eventsByStatus, inFlight: state.pluginServer().events },
        tokens: { issued: counts.tokensIssued, validated: counts.tokensValidated },
        errors: { byCode: counts.errorsByCode },
        latency: { events: counts.eventLatency },
        circuitBreaker: {
          state: ctx.admin.breakerState(),
          adminApi: admin,
          settings: ctx.config.breaker,
        },
        cache: {
          memory: credentials.memory,
          memoryStale: credentials.memoryStale,
          redis: ctx.redis?.cache.stats() ?? null,
          adminLookups: credentials.admin,
        },
        revocations: revocationReport(),
      });
      const infrastructure = () => ({
        memory: process.memoryUsage(),
        cpu: process.cpuUsage(),
        pluginServer: state.pluginServer(),
        redis: ctx.redis ? { connected: ctx.redis.connection.isReady(), ...ctx.redis.connection.stats() } : null,
        unhandled: counts.unhandled,
      });
      const config = () => ({
        kongMode: ctx.config.kongMode,
        kongAdminUrl: safeUrl(ctx.config.kongAdminUrl),
        kongAdminTokenSet: ctx.config.kongAdminToken !== undefined,
        kongAdminTimeoutMs: ctx.config.kongAdminTimeoutMs,
        kongAdminRetries: ctx.config.kongAdminRetries,
        breaker: ctx.config.breaker,
        cacheTtlSeconds: ctx.config.cacheTtlSeconds,
        cacheMaxMemoryEntries: ctx.config.cacheMaxMemoryEntries,
        staleToleranceSeconds: ctx.config.staleToleranceSeconds,
        redis: ctx.config.redis
          ? {
              url: safeUrl(ctx.config.redis.url),
              sentinels: ctx.config.redis.sentinels.length,
              clusterNodes: ctx.config.redis.clusterNodes.length,
              keyPrefix: ctx.config.redis.keyPrefix,
              commandTimeoutMs: ctx.config.redis.commandTimeoutMs,
            }
          : null,
        cacheEncryption: ctx.config.cacheEncryptionKey !== undefined,
        logLevel: ctx.config.logLevel,
        shutdownTimeoutMs: ctx.config.shutdownTimeoutMs,
      });
      const telemetry = () => this.telemetry().telemetry;
      const exports = () => ({ exports: state.telemetry().exports });
      const base = { timestamp: new Date().toISOString(), version: VERSION, view };
      switch (view) {
        case 'operational':
          return { ...base, ...operational() };
        case 'infrastructure':
          return { ...base, ...infrastructure() };
        case 'telemetry':
          return { ...base, telemetry: telemetry() };
        case 'exports':
          return { ...base, ...exports() };
        case 'config':
          return { ...base, config: config() };
        case 'full':
          return {
            ...base,
            ...operational(),
            ...infrastructure(),
            telemetry: telemetry(),
            ...exports(),
            config: config(),
            process: { pid: process.pid, node: process.version, uptime: process.uptime() },
          };
      }
    },

    debugInfo(): Record<string, unknown> {
      return {
        version: VERSION,
        node: process.version,
        pid: process.pid,
        uptime: uptimeSeconds(),
        pluginServer: state.pluginServer(),
        nodeEnv: ctx.config.nodeEnv,
      };
    },
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
