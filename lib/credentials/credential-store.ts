import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  AdminApiCircuitOpenError,
  AdminApiConflictError,
  AdminApiUnavailableError,
  type AdminClient,
  type JwtCredential,
  type KongConsumer,
} from './admin-client.js';
import { SpanKind, trace, type Context as TraceContext, type Tracer } from '@opentelemetry/api';
import { AuthError } from '../errors.js';
import { inSpan, inTraceContext } from '../ops/telemetry.js';
import type { Logger } from '../ops/logger.js';
import type { RedisCredentialCache } from './redis-credential-cache.js';
import type { SealedCopies } from './redis-sealed-copies.js';
import type { SigningCredential } from '../tokens/signing-credential.js';
import type { CredentialStats } from '../ops/metric-sources.js';

export interface CredentialStore {
  /**
   * The consumer's HS256 credential, read through memory, Redis, the Admin API and stale copies. Throws AuthError: AUTH_002 (Kong
   * does not know the consumer, or it has no credential and provisioning is off), AUTH_004 (Admin API
   * failed, no stale copy), AUTH_005 (breaker open, no stale copy). `traced`: the phase's trace context,
   * which a look-up beyond memory continues.
   */
  forConsumer(consumerId: string, opts: { provision: boolean; traced?: TraceContext }): Promise<SigningCredential>;
  /**
   * The HS256 credential whose key is `key` (a token's key claim), through memory and stale copies;
   * AUTH_011 key_mismatch when Kong has none (remembered for `missingKeySeconds`), AUTH_004/AUTH_005 as above.
   */
  forKey(key: string, traced?: TraceContext): Promise<SigningCredential>;
  /**
   * The consumer entity (for upstream headers, kong.client.authenticate and the issuer's scopes), cached like
   * credentials; AUTH_002 when Kong does not know it (remembered for `missingKeySeconds`).
   */
  consumer(consumerId: string, traced?: TraceContext): Promise<KongConsumer>;
  /**
   * The consumer re-read from the Admin API (a cached copy that no longer names it as Kong does), once per
   * consumer per `refreshIntervalSeconds`: the new copy, kept in memory and Redis; undefined when it was
   * re-read lately or the Admin API failed (the cached copy stands). AUTH_002 when Kong no longer knows it.
   */
  refreshConsumer(consumerId: string, traced?: TraceContext): Promise<KongConsumer | undefined>;
  /**
   * After a signature failure with `seen`: re-reads the credential from the Admin API once per consumer
   * per `refreshIntervalSeconds` and returns it when its secret differs, else undefined. Never throws.
   */
  refreshAfterSignatureFailure(
    seen: SigningCredential,
    foundBy: 'consumer' | 'key',
    traced?: TraceContext,
  ): Promise<SigningCredential | undefined>;
  stats(): CredentialStats;
}

export interface CredentialStoreOptions {
  ttlSeconds: number;
  staleSeconds: number;
  maxEntries: number;
  /** While the Admin API is failing, a stale copy is reused this long before the Admin API is tried again. */
  staleRetrySeconds?: number;
  refreshIntervalSeconds?: number;
  /** How long Kong's "no such key" is believed (10 s, never longer than ttlSeconds). */
  missingKeySeconds?: number;
}

type Cached = SigningCredential | KongConsumer;
/** Where in Redis one lookup's entity is shared. */
type RedisLayer<T> = { copies: SealedCopies<T>; id: string };
/** One lookup: its memory key, its Admin API read, its Redis layer, and its answer once Kong said the entity is gone. */
interface Lookup<T> {
  cacheKey: string;
  /** The lookup's span: `consumer lookup` for a consumer entity, `credential lookup` otherwise. */
  span?: 'consumer lookup';
  fetch: () => Promise<T>;
  redisLayer?: RedisLayer<T> | undefined;
  gone: () => AuthError;
}

const PROVISION_ATTEMPTS = 3;
/** AUTH_004 happens before the breaker opens: the outage may be brief. */
const OUTAGE_RETRY_AFTER_SECONDS = 5;
/**
 * Kong's jwt plugin caches a miss until the credential's creation invalidates it (Kong's own cache
 * events); nothing tells us, so a miss is believed briefly: a key created meanwhile works within seconds,
 * and a token naming an unknown key, however often it is sent, costs one lookup per this many seconds.
 */
const MISSING_KEY_SECONDS = 10;

/** The part of the Admin API client the store reads credentials with. */
export type CredentialSource = Pick<AdminClient, 'listJwtCredentials' | 'createJwtCredential' | 'jwtCredentialByKey' | 'consumerById'>;

export function createCredentialStore(
  deps: { admin: CredentialSource; redis?: RedisCredentialCache; log: Logger; tracer?: Tracer },
  opts: CredentialStoreOptions,
): CredentialStore {
  // Keys are namespaced: `c:<consumer id>` and `k:<credential key>` hold credentials, `u:<consumer id>` consumers.
  const fresh = new LRUCache<string, Cached>({ max: opts.maxEntries, ttl: opts.ttlSeconds * 1000 });
  const stale = new LRUCache<string, Cached>({ max: opts.maxEntries, ttl: Math.max(opts.staleSeconds, 1) * 1000 });
  const inFlight = new Map<string, Promise<Cached>>();
  const lastRefresh = new LRUCache<string, number>({ max: opts.maxEntries, ttl: (opts.refreshIntervalSeconds ?? 10) * 1000 });
  // Kong's "no such key" (`k:<key>`) and "no such consumer" (`u:<id>`), apart from `fresh`, so a flood of
  // made-up keys or tokens of a deleted consumer pushes out only other misses, never a credential.
  const tracer = deps.tracer ?? trace.getTracer('kong-auth-sidecar');
  const redis = deps.redis;
  const inRedis = <T>(operation: string, fn: () => Promise<T>) =>
    inSpan(tracer, `redis ${operation}`, SpanKind.CLIENT, (span) => {
      span.setAttribute('db.system.name', 'redis');
      return fn();
    });
  const missing = new LRUCache<string, true>({
    max: opts.maxEntries,
    ttl: Math.min(opts.missingKeySeconds ?? MISSING_KEY_SECONDS, opts.ttlSeconds) * 1000,
  });
  // Kong's "not found" for an entity we held a copy of (same keys as `fresh`), kept as long as a stale copy
  // could live: while one stands, an outage answers with the not-found refusal and no copy is served.
  // A flood of unknown keys can push one out, but its copies were dropped with it, so none is served anyway.
  const tombstones = new LRUCache<string, true>({ max: opts.maxEntries, ttl: Math.max(opts.staleSeconds, 1) * 1000 });
  const stats = {
    memory: { hits: 0, misses: 0 },
    memoryStale: { hits: 0, misses: 0 },
    admin: { lookups: 0, notFound: 0, outages: 0 },
  };

  async function fromAdminApi(consumerId: string, provision: boolean): Promise<SigningCredential> {
    stats.admin.lookups++;
    const listed = await deps.admin.listJwtCredentials(consumerId);
    if (listed === undefined) throw notFound(consumerId, 'unknown consumer');
    const existing = oldestHs256(listed.filter((cred) => cred.consumer?.id === consumerId));
    if (existing) return toSigning(existing);
    if (!provision) throw notFound(consumerId, 'no HS256 credential');
    return toSigning(await provisionCredential(consumerId));
  }

  async function provisionCredential(consumerId: string): Promise<JwtCredential> {
    for (let attempt = 1; attempt <= PROVISION_ATTEMPTS; attempt++) {
      try {
        const created = await deps.admin.createJwtCredential(consumerId, {
          key: randomBytes(16).toString('hex'),
          secret: randomBytes(32).toString('hex'),
          algorithm: 'HS256',
        });
        if (created === undefined || created.consumer?.id !== consumerId) throw notFound(consumerId, 'unknown consumer');
        deps.log.info({ 'event.action': 'credential-provisioned', 'user.id': consumerId }, 'provisioned a jwt credential');
        return created;
      } catch (err) {
        if (!(err instanceof AdminApiConflictError)) throw err;
      }
    }
    throw new AdminApiUnavailableError(`credential key collided ${PROVISION_ATTEMPTS} times`);
  }

  function remember(cacheKey: string, value: Cached): void {
    tombstones.delete(cacheKey);
    fresh.set(cacheKey, value);
    if (opts.staleSeconds > 0) stale.set(cacheKey, value);
  }

  /**
   * Kong said the entity does not exist (deleted, or never there): its copies go, here and in Redis, and a
   * tombstone stays, so an outage refuses it instead of serving a copy made before it was deleted.
   */
  async function bury<T>(cacheKey: string, redisLayer: RedisLayer<T> | undefined): Promise<void> {
    fresh.delete(cacheKey);
    stale.delete(cacheKey);
    tombstones.set(cacheKey, true);
    if (redisLayer) await inRedis('DEL', () => redisLayer.copies.bury(redisLayer.id));
  }

  /** A tombstone here, or one another sidecar left in Redis. */
  async function isBuried<T>(cacheKey: string, redisLayer: RedisLayer<T> | undefined): Promise<boolean> {
    return tombstones.has(cacheKey) || ((await redisLayer?.copies.isBuried(redisLayer.id)) ?? false);
  }

  /** The Admin API failed: a stale copy stands in, briefly remembered so every request does not wait on the outage again. */
  async function staleOrOutage<T extends Cached>(
    { cacheKey, redisLayer, gone }: Lookup<T>,
    err: AdminApiUnavailableError | AdminApiCircuitOpenError,
  ): Promise<T> {
    stats.admin.outages++;
    if (opts.staleSeconds > 0 && (await isBuried(cacheKey, redisLayer))) {
      deps.log.info(
        { 'event.action': 'deleted-entity-refused', 'kong.cache_key': cacheKey.slice(0, 2), error: err },
        'Admin API unavailable; Kong said this entity does not exist, so no stale copy stands in',
      );
      throw gone();
    }
    const shared = await redisLayer?.copies.getStale(redisLayer.id);
    const copy = opts.staleSeconds > 0 ? (shared ?? (stale.get(cacheKey) as T | undefined)) : undefined;
    if (!shared) stats.memoryStale[copy ? 'hits' : 'misses']++;
    if (copy) {
      // Never past the stale copy's own end, so the tolerance is what operators configured.
      const staleLeftMs = stale.has(cacheKey) ? stale.getRemainingTTL(cacheKey) : Infinity;
      fresh.set(cacheKey, copy, { ttl: Math.max(1, Math.min((opts.staleRetrySeconds ?? 5) * 1000, staleLeftMs)) });
      deps.log.warn(
        { 'event.action': 'stale-copy-served', 'kong.cache_key': cacheKey.slice(0, 2), error: err },
        'Admin API unavailable; serving a stale copy',
      );
      return copy;
    }
    if (err instanceof AdminApiCircuitOpenError) {
      throw new AuthError('AUTH_005', 'The Kong Admin API circuit breaker is open; try again later', {
        retryAfterSeconds: err.retryAfterSeconds,
        cause: err,
      });
    }
    throw new AuthError('AUTH_004', 'The Kong Admin API is unavailable; try again shortly', {
      retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS,
      cause: err,
    });
  }

  /** memory → Redis (consumer-keyed credentials, consumers) → Admin API → stale copies → AUTH_004/AUTH_005. */
  function load<T extends Cached>(lookup: Lookup<T>): Promise<T> {
    const { cacheKey, fetch, redisLayer } = lookup;
    return inSpan(
      tracer,
      lookup.span ?? 'credential lookup',
      SpanKind.INTERNAL,
      async (span) => {
        const source = (layer: string) => span.setAttribute('kong_auth.cache.source', layer);
        const shared = redisLayer && (await inRedis('GET', () => redisLayer.copies.getFresh(redisLayer.id)));
        if (shared) {
          source('redis');
          remember(cacheKey, shared);
          return shared;
        }
        let value: T;
        try {
          value = await fetch();
        } catch (err) {
          if (err instanceof AdminApiUnavailableError || err instanceof AdminApiCircuitOpenError) {
            source('stale');
            return staleOrOutage(lookup, err);
          }
          if (isNotFound(err)) {
            stats.admin.notFound++;
            await bury(cacheKey, redisLayer);
          }
          throw err;
        }
        source('admin_api');
        remember(cacheKey, value);
        if (redisLayer) await inRedis('SET', () => redisLayer.copies.put(value));
        return value;
      },
      { withChildren: true },
    );
  }

  /**
   * A fresh memory copy, else Kong's recent "no such key or consumer", else one shared lookup per key however
   * many requests miss at once. The lookup is described only past a hit: a hit, nearly every request,
   * allocates none of it.
   */
  function cached<T extends Cached>(cacheKey: string, describe: () => Lookup<T>, traced: TraceContext | undefined): Promise<T> {
    const hit = fresh.get(cacheKey) as T | undefined;
    if (hit) {
      stats.memory.hits++;
      return Promise.resolve(hit);
    }
    const lookup = describe();
    if (missing.get(cacheKey)) {
      stats.memory.hits++;
      return Promise.reject(lookup.gone());
    }
    stats.memory.misses++;
    let pending = inFlight.get(cacheKey) as Promise<T> | undefined;
    if (!pending) {
      pending = inTraceContext(traced, () => load(lookup)).finally(() => inFlight.delete(cacheKey));
      inFlight.set(cacheKey, pending);
    }
    return pending;
  }

  /** Re-reads a credential after a signature failure; the new one when its secret changed. Never throws. */
  async function reread(seen: SigningCredential, foundBy: 'consumer' | 'key'): Promise<SigningCredential | undefined> {
    const byKey = foundBy === 'key';
    try {
      const current = byKey ? await fromAdminApiByKey(seen.key) : await fromAdminApi(seen.consumerId, false);
      if (current.secret === seen.secret && current.key === seen.key) return undefined;
      remember(byKey ? `k:${seen.key}` : `c:${seen.consumerId}`, current);
      if (!byKey) await deps.redis?.put(current);
      deps.log.info({ 'event.action': 'credential-rotated', 'user.id': seen.consumerId }, 'picked up a rotated jwt credential');
      return current;
    } catch (err) {
      if (isNotFound(err))
        await bury(byKey ? `k:${seen.key}` : `c:${seen.consumerId}`, byKey ? undefined : credentialLayer(seen.consumerId));
      deps.log.warn(
        { 'event.action': 'credential-refresh-failed', 'user.id': seen.consumerId, error: err },
        'could not re-read a credential after a signature failure',
      );
      return undefined;
    }
  }

  async function fromAdminApiByKey(key: string): Promise<SigningCredential> {
    stats.admin.lookups++;
    const found = await deps.admin.jwtCredentialByKey(key);
    // Kong reads a UUID-shaped value as an id: the answer must carry exactly this key.
    if (!found || found.key !== key || !found.consumer?.id || !isUsableHs256(found)) {
      missing.set(`k:${key}`, true);
      throw unknownKey();
    }
    return toSigning(found);
  }

  async function consumerFromAdminApi(consumerId: string): Promise<KongConsumer> {
    stats.admin.lookups++;
    const found = await deps.admin.consumerById(consumerId);
    if (!found || found.id !== consumerId) {
      missing.set(`u:${consumerId}`, true);
      // Kong deletes a consumer's credentials with it.
      await bury(`c:${consumerId}`, credentialLayer(consumerId));
      throw notFound(consumerId, 'unknown consumer');
    }
    const tags = Array.isArray(found.tags) ? found.tags.filter((tag): tag is string => typeof tag === 'string') : null;
    return { id: found.id, username: found.username ?? null, custom_id: found.custom_id ?? null, tags };
  }

  function credentialLayer(consumerId: string): RedisLayer<SigningCredential> | undefined {
    return redis && { copies: redis, id: consumerId };
  }

  function consumerLayer(consumerId: string): RedisLayer<KongConsumer> | undefined {
    return redis && { copies: redis.consumers, id: consumerId };
  }

  return {
    forConsumer(consumerId, { provision, traced }) {
      const cacheKey = `c:${consumerId}`;
      return cached(
        cacheKey,
        () => ({
          cacheKey,
          fetch: () => fromAdminApi(consumerId, provision),
          redisLayer: credentialLayer(consumerId),
          gone: () => notFound(consumerId, 'no HS256 credential (or no consumer) in Kong'),
        }),
        traced,
      );
    },

    forKey(key, traced) {
      const cacheKey = `k:${key}`;
      return cached(cacheKey, () => ({ cacheKey, fetch: () => fromAdminApiByKey(key), gone: unknownKey }), traced);
    },

    consumer(consumerId, traced) {
      const cacheKey = `u:${consumerId}`;
      return cached(
        cacheKey,
        () => ({
          cacheKey,
          span: 'consumer lookup',
          fetch: () => consumerFromAdminApi(consumerId),
          redisLayer: consumerLayer(consumerId),
          gone: () => notFound(consumerId, 'unknown consumer'),
        }),
        traced,
      );
    },

    refreshConsumer(consumerId, traced) {
      const refreshKey = `u:${consumerId}`;
      if (lastRefresh.has(refreshKey)) return Promise.resolve(undefined);
      lastRefresh.set(refreshKey, Date.now());
      return inTraceContext(traced, async () => {
        const layer = consumerLayer(consumerId);
        try {
          const current = await consumerFromAdminApi(consumerId);
          remember(refreshKey, current);
          if (layer) await inRedis('SET', () => layer.copies.put(current));
          return current;
        } catch (err) {
          if (isNotFound(err)) {
            await bury(refreshKey, layer);
            throw notFound(consumerId, 'unknown consumer');
          }
          deps.log.warn(
            { 'event.action': 'consumer-refresh-failed', 'user.id': consumerId, error: err },
            'could not re-read a consumer that Kong names otherwise',
          );
          return undefined;
        }
      });
    },

    refreshAfterSignatureFailure(seen, foundBy, traced) {
      if (lastRefresh.has(seen.consumerId)) return Promise.resolve(undefined);
      lastRefresh.set(seen.consumerId, Date.now());
      return inTraceContext(traced, () => reread(seen, foundBy));
    },

    stats: () => ({
      memory: { ...stats.memory },
      memoryStale: { ...stats.memoryStale },
      admin: { ...stats.admin },
      entries: { memory: fresh.size, memoryStale: stale.size },
    }),
  };
}

/** Kong's own answer that the consumer or credential does not exist (as opposed to a failure to answer). */
function isNotFound(err: unknown): boolean {
  return err instanceof AuthError && (err.code === 'AUTH_002' || err.code === 'AUTH_011');
}

function unknownKey(): AuthError {
  return new AuthError('AUTH_011', 'The token names no HS256 credential known to Kong', { extensions: { reason: 'key_mismatch' } });
}

function notFound(consumerId: string, reason: string): AuthError {
  return new AuthError('AUTH_002', undefined, { extensions: { consumerId }, cause: new Error(reason) });
}

/** HS256 (Kong treats a missing algorithm as HS256) with a secret to sign and verify with. */
function isUsableHs256(cred: JwtCredential): boolean {
  return (cred.algorithm ?? 'HS256') === 'HS256' && typeof cred.secret === 'string' && cred.secret !== '';
}

/** Several usable credentials → the oldest, ties broken by id, so every node picks the same. */
export function oldestHs256(credentials: JwtCredential[]): JwtCredential | undefined {
  return credentials.filter(isUsableHs256).sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
}

function toSigning(cred: JwtCredential): SigningCredential {
  return { consumerId: cred.consumer?.id ?? '', key: cred.key, secret: cred.secret, credentialId: cred.id };
}
