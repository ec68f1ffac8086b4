import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuthCode } from '../errors.js';
import type { BreakerState, CredentialStats, LayerCounts, RemoteJwksStats, RevocationStats, SigningKeyStats } from './metric-sources.js';
import { TallyHistogram, type HistogramSeries } from './tally-histogram.js';

/** Live numbers other modules own, read at scrape time. */
export interface MetricSources {
  credentials(): CredentialStats;
  redisLayers(): { fresh: LayerCounts; stale: LayerCounts } | undefined;
  redisConnection(): { connected: boolean; errors: number; reconnects: number } | undefined;
  droppedLogLines(): number;
  breakerState(): BreakerState;
  pluginServer(): { events: number; instances: number; connections: number };
  /** Absent without SIGNING_KEYS_DIR. */
  signingKeys(): SigningKeyStats | undefined;
  revocations(): RevocationStats;
  /** The remote JWKS gates verify with (token-validator `jwks_uri`). */
  remoteJwks(): RemoteJwksStats[];
}

export type ValidationResult = 'valid' | 'invalid' | 'expired' | 'revoked';

/** What one answered revocation request revoked: one token, every token of the caller, or nothing (not the caller's valid token). */
export type RevocationKind = 'token' | 'all' | 'nothing';

/**
 * Prometheus metrics (prom-client, own registry, `kong_auth_` prefix). No label carries a consumer,
 * a key or a secret: labels are plugin names, phases, HTTP statuses, AUTH codes and cache layers.
 */
export interface Metrics {
  readonly registry: Registry;
  /** One plugin phase answered: `status` is the HTTP status of its exit, or "continue". */
  event(plugin: string, phase: string, status: string, seconds: number): void;
  tokenIssued(): void;
  tokenValidated(result: ValidationResult): void;
  /** One introspection answered: whether the token was active. */
  tokenIntrospected(active: boolean): void;
  /** One revocation request answered 200, by what it revoked. */
  tokenRevocation(revoked: RevocationKind): void;
  /** One token let through unchecked for revocation, the list not known to be complete (revocation_unavailable: allow). */
  revocationUnchecked(): void;
  authError(code: AuthCode): void;
  adminApiAttempt(outcome: 'success' | 'failure', seconds: number): void;
  unhandled(kind: 'rejection' | 'exception'): void;
  watch(sources: MetricSources): void;
  /** Plain numbers for the JSON views. */
  counts(): MetricCounts;
}

export interface MetricCounts {
  tokensIntrospected: { true: number; false: number };
  tokensRevoked: Record<RevocationKind, number>;
  revocationUnchecked: number;
  tokensIssued: number;
  tokensValidated: Record<ValidationResult, number>;
  errorsByCode: Record<string, number>;
  eventsByStatus: Record<string, number>;
  unhandled: { rejection: number; exception: number };
  eventLatency: { count: number; avgMs: number; p95Ms: number | undefined };
}

/** One plugin phase's events: their latencies, and how many ended with each status. */
interface PhaseTally {
  plugin: string;
  phase: string;
  seconds: HistogramSeries;
  byStatus: Map<string, number>;
}

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, open: 1, 'half-open': 2 };
// Events are sub-millisecond when cached, seconds when the Admin API is slow.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kong_auth_' });
  // eventsByStatus is summed from the phase tallies when asked for.
  const counts: Omit<MetricCounts, 'eventsByStatus'> = {
    tokensIssued: 0,
    tokensValidated: { valid: 0, invalid: 0, expired: 0, revoked: 0 },
    tokensIntrospected: { true: 0, false: 0 },
    tokensRevoked: { token: 0, all: 0, nothing: 0 },
    revocationUnchecked: 0,
    errorsByCode: {},
    unhandled: { rejection: 0, exception: 0 },
    eventLatency: { count: 0, avgMs: 0, p95Ms: undefined },
  };
  const latencies: number[] = [];
  let latencySumMs = 0;

  // The per-event metrics are plain tallies on the hot path (prom-client hashes labels on every inc or
  // observe, ~1 µs per event); the counters below read them when scraped.
  const eventSeconds = new TallyHistogram(
    'kong_auth_event_duration_seconds',
    'Time from HandleEvent to the answer, by plugin and phase.',
    ['plugin', 'phase'],
    LATENCY_BUCKETS,
    registry,
  );
  // Looked up by plugin, then phase: no key string is built per event.
  const byPlugin = new Map<string, Map<string, PhaseTally>>();
  const allTallies = (): PhaseTally[] => [...byPlugin.values()].flatMap((ofPlugin) => [...ofPlugin.values()]);
  const phaseTally = (plugin: string, phase: string): PhaseTally => {
    let ofPlugin = byPlugin.get(plugin);
    if (!ofPlugin) byPlugin.set(plugin, (ofPlugin = new Map()));
    let tally = ofPlugin.get(phase);
    if (!tally) {
      tally = { plugin, phase, seconds: eventSeconds.series(plugin, phase), byStatus: new Map() };
      ofPlugin.set(phase, tally);
    }
    return tally;
  };
  new Counter({
    name: 'kong_auth_events_total',
    help: 'Plugin phases handled, by plugin, phase and HTTP status of the answer ("continue" when the request went on).',
    labelNames: ['plugin', 'phase', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { plugin, phase, byStatus } of allTallies()) for (const [status, n] of byStatus) this.inc({ plugin, phase, status }, n);
    },
  });
  new Counter({
    name: 'kong_auth_tokens_issued_total',
    help: 'Tokens issued.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counts.tokensIssued);
    },
  });
  new Counter({
    name: 'kong_auth_tokens_validated_total',
    help: 'Tokens checked, by result.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [result, n] of Object.entries(counts.tokensValidated)) if (n > 0) this.inc({ result }, n);
    },
  });
  new Counter({
    name: 'kong_auth_tokens_introspected_total',
    help: 'Introspection answers (RFC 7662), by whether the token was active.',
    labelNames: ['active'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [active, n] of Object.entries(counts.tokensIntrospected)) if (n > 0) this.inc({ active }, n);
    },
  });
  new Counter({
    name: 'kong_auth_token_revocations_total',
    help: 'Revocation requests answered 200, by what they revoked: token, all (every token of the caller), nothing.',
    labelNames: ['revoked'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [revoked, n] of Object.entries(counts.tokensRevoked)) if (n > 0) this.inc({ revoked }, n);
    },
  });
  new Counter({
    name: 'kong_auth_revocation_unchecked_total',
    help: 'Tokens admitted while the revocation list was not known to be complete (revocation_unavailable: allow): not revoked as far as this process knew.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counts.revocationUnchecked);
    },
  });
  const errors = new Counter({
    name: 'kong_auth_errors_total',
    help: 'Error answers, by AUTH code.',
    labelNames: ['code'],
    registers: [registry],
  });
  const adminAttempts = new Counter({
    name: 'kong_auth_admin_api_requests_total',
    help: 'Kong Admin API attempts, retries included, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const adminSeconds = new Histogram({
    name: 'kong_auth_admin_api_request_duration_seconds',
    help: 'Kong Admin API attempt latency.',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const unhandled = new Counter({
    name: 'kong_auth_unhandled_errors_total',
    help: 'Unhandled promise rejections and uncaught exceptions.',
    labelNames: ['kind'],
    registers: [registry],
  });

  const watch = (sources: MetricSources) => {
    new Counter({
      name: 'kong_auth_cache_requests_total',
      help: 'Credential cache look-ups by layer (memory, redis, redis_stale, memory_stale) and result (hit, miss, error).',
      labelNames: ['layer', 'result'],
      registers: [registry],
      collect() {
        this.reset();
        const credentials = sources.credentials();
        const add = (layer: string, layerCounts: { hits: number; misses: number; errors?: number }) => {
          this.inc({ layer, result: 'hit' }, layerCounts.hits);
          this.inc({ layer, result: 'miss' }, layerCounts.misses);
          if (layerCounts.errors !== undefined) this.inc({ layer, result: 'error' }, layerCounts.errors);
        };
        add('memory', credentials.memory);
        add('memory_stale', credentials.memoryStale);
        const redisLayers = sources.redisLayers();
        if (redisLayers) {
          add('redis', redisLayers.fresh);
          add('redis_stale', redisLayers.stale);
        }
      },
    });
    new Gauge({
      name: 'kong_auth_cache_entries',
      help: 'Credentials held in process memory, by layer.',
      labelNames: ['layer'],
      registers: [registry],
      collect() {
        const { entries } = sources.credentials();
        this.set({ layer: 'memory' }, entries.memory);
        this.set({ layer: 'memory_stale' }, entries.memoryStale);
      },
    });
    new Gauge({
      name: 'kong_auth_circuit_breaker_state',
      help: 'Admin API circuit breaker: 0 closed, 1 open, 2 half-open.',
      registers: [registry],
      collect() {
        this.set(BREAKER_STATE_VALUE[sources.breakerState()]);
      },
    });
    new Gauge({
      name: 'kong_auth_redis_connected',
      help: '1 while the Redis connection is ready (absent without Redis).',
      registers: [registry],
      collect() {
        const redis = sources.redisConnection();
        if (redis) this.set(redis.connected ? 1 : 0);
      },
    });
    /** A count another module keeps, read when scraped; absent while `read` gives undefined. */
    const keptCounter = (name: string, help: string, read: () => number | undefined) =>
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          const count = read();
          if (count !== undefined) this.inc(count);
        },
      });
    keptCounter('kong_auth_redis_errors_total', 'Redis connection and command errors.', () => sources.redisConnection()?.errors);
    keptCounter('kong_auth_redis_reconnects_total', 'Redis reconnections.', () => sources.redisConnection()?.reconnects);
    new Gauge({
      name: 'kong_auth_revocations',
      help: 'Revocations this process knows, in memory: revoked token ids (kind "token") and revoke-all marks (kind "consumer").',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const { tokens, consumers } = sources.revocations();
        this.set({ kind: 'token' }, tokens);
        this.set({ kind: 'consumer' }, consumers);
      },
    });
    new Gauge({
      name: 'kong_auth_revocations_current',
      help: '1 while the revocation list is known complete: always without Redis; with Redis, while subscribed and re-read since.',
      registers: [registry],
      collect() {
        this.set(sources.revocations().current ? 1 : 0);
      },
    });
    new Counter({
      name: 'kong_auth_revocation_rereads_total',
      help: 'Full re-reads of the revocation set from Redis, by outcome (success, failure); absent without Redis.',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        const sync = sources.revocations().sync;
        this.reset();
        if (!sync) return;
        this.inc({ outcome: 'success' }, sync.rereads);
        this.inc({ outcome: 'failure' }, sync.rereadFailures);
      },
    });
    keptCounter(
      'kong_auth_revocation_subscriptions_lost_total',
      'Times the revocation subscription went down; absent without Redis.',
      () => sources.revocations().sync?.subscriptionsLost,
    );
    keptCounter(
      'kong_auth_revocation_messages_total',
      'Revocations received on the Redis channel; absent without Redis.',
      () => sources.revocations().sync?.messages,
    );
    keptCounter(
      'kong_auth_log_lines_dropped_total',
      'Log lines dropped because stdout refused them (full non-blocking pipe past 16 MB, or closed).',
      () => sources.droppedLogLines(),
    );
    new Gauge({
      name: 'kong_auth_signing_keys_invalid',
      help: '1 while the signing key directory holds no valid key set and the last good set (if any) is served (absent without SIGNING_KEYS_DIR).',
      registers: [registry],
      collect() {
        const keys = sources.signingKeys();
        if (keys) this.set(keys.valid ? 0 : 1);
      },
    });
    new Gauge({
      name: 'kong_auth_signing_keys',
      help: 'Signing keys in the served set, by state (next, current, retired).',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const keys = sources.signingKeys();
        if (keys) for (const [state, n] of Object.entries(keys.keys)) this.set({ state }, n);
      },
    });
    new Counter({
      name: 'kong_auth_signing_keys_reloads_total',
      help: 'Reads of the signing key directory that found a change, by result (loaded, invalid).',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        const keys = sources.signingKeys();
        this.reset();
        if (keys) for (const [result, n] of Object.entries(keys.reloads)) this.inc({ result }, n);
      },
    });
    new Counter({
      name: 'kong_auth_jwks_fetches_total',
      help: 'Fetches of a remote JWKS (token-validator jwks_uri, named without its query), by result: success, no_usable_key (a JWKS without a key we verify: it replaced the set), unavailable (network, timeout, not 200, breaker open), invalid (not JSON, too large, not a JWKS).',
      labelNames: ['jwks', 'result'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { jwks, fetches } of sources.remoteJwks())
          for (const [result, n] of Object.entries(fetches)) this.inc({ jwks, result }, n);
      },
    });
    new Gauge({
      name: 'kong_auth_jwks_keys',
      help: 'Usable keys in the set served of a remote JWKS (0 while none was fetched).',
      labelNames: ['jwks'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { jwks, keys } of sources.remoteJwks()) this.set({ jwks }, keys);
      },
    });
    new Gauge({
      name: 'kong_auth_jwks_stale',
      help: '1 while the last good set of a remote JWKS is past its cache lifetime because fetches fail (served for at most jwks_max_stale_seconds more).',
      labelNames: ['jwks'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { jwks, stale } of sources.remoteJwks()) this.set({ jwks }, stale ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kong_auth_in_flight_events',
      help: 'Events waiting on Kong or on us right now.',
      registers: [registry],
      collect() {
        this.set(sources.pluginServer().events);
      },
    });
    new Gauge({
      name: 'kong_auth_plugin_instances',
      help: 'Plugin instances Kong has started and not closed.',
      registers: [registry],
      collect() {
        this.set(sources.pluginServer().instances);
      },
    });
    new Gauge({
      name: 'kong_auth_plugin_socket_connections',
      help: 'Open connections from Kong on the plugin socket.',
      registers: [registry],
      collect() {
        this.set(sources.pluginServer().connections);
      },
    });
  };

  return {
    registry,
    event(plugin, phase, status, seconds) {
      const tally = phaseTally(plugin, phase);
      tally.byStatus.set(status, (tally.byStatus.get(status) ?? 0) + 1);
      tally.seconds.observe(seconds);
      const ms = seconds * 1000;
      latencySumMs += ms;
      counts.eventLatency.count++;
      // A ring of the last 1,000 latencies for the JSON views' p95.
      latencies[(counts.eventLatency.count - 1) % 1000] = ms;
    },
    tokenIssued() {
      counts.tokensIssued++;
    },
    tokenValidated(result) {
      counts.tokensValidated[result]++;
    },
    tokenIntrospected(active) {
      counts.tokensIntrospected[active ? 'true' : 'false']++;
    },
    tokenRevocation(revoked) {
      counts.tokensRevoked[revoked]++;
    },
    revocationUnchecked() {
      counts.revocationUnchecked++;
    },
    authError(code) {
      errors.inc({ code });
      counts.errorsByCode[code] = (counts.errorsByCode[code] ?? 0) + 1;
    },
    adminApiAttempt(outcome, seconds) {
      adminAttempts.inc({ outcome });
      adminSeconds.observe(seconds);
    },
    unhandled(kind) {
      unhandled.inc({ kind });
      counts.unhandled[kind]++;
    },
    watch,
    counts() {
      const sorted = [...latencies].sort((a, b) => a - b);
      const eventsByStatus: Record<string, number> = {};
      for (const { byStatus } of allTallies())
        for (const [status, n] of byStatus) eventsByStatus[status] = (eventsByStatus[status] ?? 0) + n;
      return {
        ...structuredClone(counts),
        eventsByStatus,
        eventLatency: {
          count: counts.eventLatency.count,
          avgMs: counts.eventLatency.count ? round(latencySumMs / counts.eventLatency.count) : 0,
          p95Ms: sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] as number) : undefined,
        },
      };
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
