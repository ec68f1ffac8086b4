import type { Cluster, Redis } from 'ioredis';
import { AUTH, AuthError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { RevocationSyncStats } from '../ops/metric-sources.js';
import {
  createRevocationList,
  REVOKED_BEFORE_TTL_SECONDS,
  REVOKED_TOKEN_LEEWAY_SECONDS,
  type RevocationList,
} from '../tokens/revocation-list.js';
import { afterMark, type RevocationStore } from '../tokens/revocation-store.js';
import { decodeRevocation, encodeRevocation, readRevocations, revocationKeys, type Revocation } from './redis-revocation-keys.js';

/** The revocation store every sidecar on one Redis shares; its counts feed the metrics. */
export interface RedisRevocationStore extends RevocationStore {
  stats(): RevocationSyncStats;
}

export interface RedisRevocationStoreDeps {
  /** Records revocations; fail-fast (no offline queue), as the shared Redis connection is. */
  client: Redis | Cluster;
  /** A connection of its own for SUBSCRIBE; the store subscribes on each of its `ready` events. Its owner closes it. */
  subscriber: Redis | Cluster;
  /** The nodes a re-read must SCAN: every master (the one client without Redis Cluster). */
  masters: () => Redis[];
  /** The in-memory list the gate checks; this store keeps it complete. */
  list?: RevocationList;
  log: Logger;
  nowMs: () => number;
}

/** What a caller of the revocation route is told to wait for while Redis is unavailable. */
const RETRY_AFTER_SECONDS = 5;
/** A failed SUBSCRIBE or re-read is retried after 250 ms, doubling up to 2 s, while the subscription is up. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 2000;
/** Failures in a row before a warning: about a second of them. */
const WARN_AFTER_ATTEMPTS = 2;
/**
 * A subscription receives nothing while no one revokes, so a hung or partitioned Redis would go unnoticed:
 * the subscriber is pinged each second. An unanswered ping trips the connection's socket timeout; a
 * connection without one is reconnected (and the set re-read) after two pings in a row fail.
 */
const HEARTBEAT_MS = 1000;
const MAX_MISSED_HEARTBEATS = 2;

// Keeps the later of the stored and the new mark, and restarts the key's lifetime: an earlier mark (a
// sidecar whose clock is behind) never shortens a revoke-all. Returns the mark kept.
const REVOKE_BEFORE_SCRIPT = `
local kept = redis.call('GET', KEYS[1])
if not kept or not tonumber(kept) or tonumber(kept) < tonumber(ARGV[1]) then kept = ARGV[1] end
redis.call('SET', KEYS[1], kept, 'EX', ARGV[2])
return kept
`;

type ScriptClient = { kongAuthRevokeBefore(key: string, markMs: string, ttlSeconds: number): Promise<string> };

/**
 * Revocations recorded in Redis (a key per revoked token id and per revoke-all, each expiring with the
 * tokens it covers) and published on a channel every sidecar subscribes to. After every (re)subscription
 * the full set is re-read, since pub/sub delivers at most once; until that read has completed the list
 * is not current. The gate's check (`isRevoked`) stays in memory: no Redis call per request.
 */
export function createRedisRevocationStore(deps: RedisRevocationStoreDeps, opts: { keyPrefix: string }): RedisRevocationStore {
  const { subscriber, log } = deps;
  const client = deps.client as (Redis | Cluster) & ScriptClient;
  client.defineCommand('kongAuthRevokeBefore', { numberOfKeys: 1, lua: REVOKE_BEFORE_SCRIPT });
  const keys = revocationKeys(opts.keyPrefix);
  const list = deps.list ?? createRevocationList(deps);
  const stats: RevocationSyncStats = { rereads: 0, rereadFailures: 0, subscriptionsLost: 0, messages: 0 };
  /** Bumped whenever the subscription comes up or goes: work started under an older one is void. */
  let generation = 0;
  let isSubscribed = false;
  let isCurrent = false;
  let hasBeenCurrent = false;
  let isClosed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let missedHeartbeats = 0;
  let isPinging = false;

  function apply(revocation: Revocation): void {
    if (revocation.kind === 'token') list.revokeToken(revocation.jti, revocation.exp + REVOKED_TOKEN_LEEWAY_SECONDS);
    else list.revokeConsumer(revocation.consumerId, revocation.beforeMs);
  }

  function retry(ofGeneration: number, attempt: number, step: (attempt: number) => void): void {
    if (ofGeneration !== generation || isClosed) return;
    const delayMs = Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS);
    retryTimer = setTimeout(() => ofGeneration === generation && step(attempt + 1), delayMs);
    retryTimer.unref();
  }

  function reportFailure(attempt: number, action: string, err: unknown): void {
    // After an outage the subscriber is often back before the command connection, so the first tries
    // may fail; one warning per subscription once it persists (the outage itself is the connection's to log).
    if (attempt === WARN_AFTER_ATTEMPTS)
      log.warn({ 'event.action': action, error: err }, 'revocations: Redis call keeps failing; retrying');
    else log.debug({ 'event.action': action, error: err }, 'revocations: Redis call failed; retrying');
  }

  function subscribe(ofGeneration: number, attempt = 0): void {
    subscriber.subscribe(keys.channel).then(
      () => {
        if (ofGeneration !== generation) return;
        isSubscribed = true;
        reread(ofGeneration);
      },
      (err: unknown) => {
        reportFailure(attempt, 'revocation-subscribe-failed', err);
        retry(ofGeneration, attempt, (next) => subscribe(ofGeneration, next));
      },
    );
  }

  function reread(ofGeneration: number, attempt = 0): void {
    readRevocations(deps.masters(), keys).then(
      (revocations) => {
        // Applying is safe whatever happened since: nothing in the list is ever un-revoked.
        for (const revocation of revocations) apply(revocation);
        stats.rereads++;
        if (ofGeneration !== generation || !isSubscribed) return;
        isCurrent = true;
        const counts = { 'revocation.tokens': 0, 'revocation.consumers': 0 };
        for (const { kind } of revocations) counts[kind === 'token' ? 'revocation.tokens' : 'revocation.consumers']++;
        const restored = hasBeenCurrent;
        hasBeenCurrent = true;
        log.info(
          { 'event.action': restored ? 'revocations-restored' : 'revocations-subscribed', ...counts },
          `${restored ? 'revocation subscription is back' : 'subscribed to revocations'}; re-read ${counts['revocation.tokens']} revoked token ids and ${counts['revocation.consumers']} revoke-all marks from Redis`,
        );
      },
      (err: unknown) => {
        stats.rereadFailures++;
        reportFailure(attempt, 'revocation-reread-failed', err);
        retry(ofGeneration, attempt, (next) => reread(ofGeneration, next));
      },
    );
  }

  function onReady(): void {
    if (isClosed) return;
    clearTimeout(retryTimer);
    subscribe(++generation);
  }

  function onDown(): void {
    if (isClosed) return;
    const wasCurrent = isCurrent;
    generation++;
    clearTimeout(retryTimer);
    isSubscribed = false;
    isCurrent = false;
    missedHeartbeats = 0;
    if (!wasCurrent) return;
    stats.subscriptionsLost++;
    log.warn(
      { 'event.action': 'revocations-lost', ...sizeFields() },
      'lost the revocation subscription; the gate checks what this process knows, and revocations made elsewhere are seen once it is back',
    );
  }

  function onMessage(channel: string, message: string): void {
    if (channel !== keys.channel) return;
    const revocation = decodeRevocation(message);
    if (!revocation) return;
    stats.messages++;
    apply(revocation);
  }

  function heartbeat(): void {
    if (!isSubscribed || isPinging) return;
    const ofGeneration = generation;
    isPinging = true;
    subscriber.ping().then(
      () => {
        isPinging = false;
        missedHeartbeats = 0;
      },
      () => {
        isPinging = false;
        if (ofGeneration !== generation || ++missedHeartbeats < MAX_MISSED_HEARTBEATS) return;
        missedHeartbeats = 0;
        subscriber.disconnect(true);
      },
    );
  }
  const heartbeatTimer = setInterval(heartbeat, HEARTBEAT_MS);
  heartbeatTimer.unref();

  const sizeFields = () => {
    const size = list.size();
    return { 'revocation.tokens': size.tokens, 'revocation.consumers': size.consumers };
  };

  // Errors are the connection's to log; without a listener ioredis would print them to the console.
  const ignoreError = () => {};
  subscriber.on('ready', onReady);
  subscriber.on('close', onDown);
  subscriber.on('message', onMessage);
  subscriber.on('error', ignoreError);
  if (subscriber.status === 'ready') onReady();

  function unavailable(cause?: unknown): AuthError {
    return new AuthError('AUTH_018', AUTH.AUTH_018.detail, { retryAfterSeconds: RETRY_AFTER_SECONDS, cause });
  }

  /** Writes a revocation's key, then publishes it; rejects with AUTH_018 unless both succeeded. */
  async function share<R extends Revocation>(write: () => Promise<R>): Promise<R> {
    if (client.status !== 'ready') throw unavailable();
    try {
      const revocation = await write();
      await client.publish(keys.channel, encodeRevocation(revocation));
      return revocation;
    } catch (err) {
      throw unavailable(err);
    }
  }

  return {
    isRevoked: (claims, consumerId) => list.isRevoked(claims, consumerId),
    isCurrent: () => isCurrent,

    async revokeToken(jti, expiresAtSeconds) {
      // Whole seconds, as every sidecar reads them back from Redis and from the channel.
      const exp = Math.ceil(expiresAtSeconds);
      list.revokeToken(jti, exp + REVOKED_TOKEN_LEEWAY_SECONDS);
      const ttlSeconds = Math.ceil(exp + REVOKED_TOKEN_LEEWAY_SECONDS - deps.nowMs() / 1000);
      // Past its end and the leeway, the token is refused everywhere anyway.
      if (ttlSeconds <= 0) return;
      await share(async () => {
        await client.set(keys.token(jti), String(exp), 'EX', ttlSeconds);
        return { kind: 'token' as const, jti, exp };
      });
    },

    async revokeConsumer(consumerId) {
      const markMs = deps.nowMs();
      list.revokeConsumer(consumerId, markMs);
      const shared = await share(async () => {
        const kept = Number(await client.kongAuthRevokeBefore(keys.consumer(consumerId), String(markMs), REVOKED_BEFORE_TTL_SECONDS));
        return { kind: 'consumer' as const, consumerId, beforeMs: Number.isSafeInteger(kept) ? kept : markMs };
      });
      apply(shared);
      await afterMark(markMs, deps.nowMs);
      return shared.beforeMs;
    },

    size: () => list.size(),
    stats: () => ({ ...stats }),

    async close() {
      isClosed = true;
      isCurrent = false;
      clearTimeout(retryTimer);
      clearInterval(heartbeatTimer);
      subscriber.off('ready', onReady);
      subscriber.off('close', onDown);
      subscriber.off('message', onMessage);
      // The error listener stays: the subscriber's owner closes it after this.
      if (subscriber.status === 'ready') await subscriber.unsubscribe(keys.channel).catch(() => undefined);
    },
  };
}
