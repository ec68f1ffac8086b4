import type { SigningCredential } from '../tokens/signing-credential.js';
import type { Logger } from '../ops/logger.js';
import type { RedisConnection } from './redis-connection.js';
import type { SecretCipher } from './secret-cipher.js';
import type { LayerCounts } from '../ops/metric-sources.js';

/**
 * The Redis layers of the credential cache, shared by every sidecar on one Redis. Each copy is sealed
 * together with the Redis key it is written under and the end of its lifetime, so a copy moved to another
 * key, or written back after its end, is refused.
 */
export interface RedisCredentialCache {
  /** Fresh copy (TTL = ttlSeconds); undefined on miss, on error, or when Redis is not ready. Never throws. */
  getFresh(consumerId: string): Promise<SigningCredential | undefined>;
  /** Stale copy (TTL = staleSeconds, written alongside the fresh one); undefined on miss/error. Never throws. */
  getStale(consumerId: string): Promise<SigningCredential | undefined>;
  /** Writes both copies (one MULTI). Never throws; errors are counted. */
  put(credential: SigningCredential): Promise<void>;
  /** Removes both copies (secret rotation). Never throws. */
  evict(consumerId: string): Promise<void>;
  /**
   * Per layer. Every lookup is a hit or a miss; `errors` counts the calls Redis could not serve
   * (not connected, command failed or timed out, value unreadable), writes and evictions included.
   */
  stats(): { fresh: LayerCounts; stale: LayerCounts };
}

export interface RedisCredentialCacheOptions {
  /** Prepended to every key, e.g. `kong-auth-sidecar:`. */
  keyPrefix: string;
  /** Lifetime of the fresh copy. */
  ttlSeconds: number;
  /** Lifetime of the stale copy, which stands in while the Admin API fails; 0 writes none. */
  staleSeconds: number;
}

type Layer = 'fresh' | 'stale';
type Decoded = { credential: SigningCredential } | { problem: string };

/** What one Redis value holds (sealed when CACHE_ENCRYPTION_KEY is set). */
interface StoredCredential extends SigningCredential {
  /** The full Redis key the copy was written under. */
  redisKey: string;
  /** The copy's end, in ms since the epoch; past it the copy is refused even if Redis still holds it. */
  expiresAtMs: number;
}

export function createRedisCredentialCache(
  deps: { connection: RedisConnection; cipher: SecretCipher; log: Logger },
  opts: RedisCredentialCacheOptions,
): RedisCredentialCache {
  const { connection, cipher, log } = deps;
  const counts: Record<Layer, LayerCounts> = {
    fresh: { hits: 0, misses: 0, errors: 0 },
    stale: { hits: 0, misses: 0, errors: 0 },
  };
  const keepsStale = opts.staleSeconds > 0;
  const layersWritten: Layer[] = keepsStale ? ['fresh', 'stale'] : ['fresh'];
  const lifetimeMs: Record<Layer, number> = { fresh: toMs(opts.ttlSeconds), stale: toMs(opts.staleSeconds) };
  const reportedProblems = new Set<string>();
  if (!cipher.encrypts) {
    log.warn(
      { 'event.action': 'redis-cache-unencrypted' },
      'CACHE_ENCRYPTION_KEY is not set: credential secrets are stored in Redis in plain text; anyone who can read Redis can sign tokens ' +
        'for those consumers, and anyone who can write to it can put in a secret of their own that tokens are then signed with. ' +
        'Set CACHE_ENCRYPTION_KEY (openssl rand -base64 32)',
    );
  }

  const keyOf = (layer: Layer, consumerId: string) => `${opts.keyPrefix}${layer === 'fresh' ? 'cred' : 'cred-stale'}:${consumerId}`;

  function failed(layers: Layer[], action: string, consumerId: string, err: unknown): void {
    for (const layer of layers) counts[layer].errors++;
    // Outages are logged once by the connection; per call, this is detail.
    log.debug({ 'event.action': action, 'user.id': consumerId, error: err }, 'Redis credential cache call failed');
  }

  function decode(value: string, redisKey: string): Decoded {
    let json: string;
    try {
      json = cipher.open(value);
    } catch {
      return { problem: 'not sealed with this CACHE_ENCRYPTION_KEY (or not at all)' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      // The parser's message may quote the value; it never reaches a log.
      return { problem: 'not JSON' };
    }
    if (!isSigningCredential(parsed)) return { problem: 'not a credential' };
    if (!isBound(parsed)) return { problem: 'no Redis key and end sealed with it (written by an earlier version)' };
    // The key names the consumer and the layer: a copy moved to another consumer, or from the stale key
    // (a longer end) to the fresh one, is refused.
    if (parsed.redisKey !== redisKey) return { problem: 'sealed for another Redis key' };
    // Redis's TTL goes with the key, not the value: a copy written back with SET would otherwise outlive its credential.
    if (parsed.expiresAtMs <= Date.now()) return { problem: 'past the end it was written with' };
    return { credential: { consumerId: parsed.consumerId, key: parsed.key, secret: parsed.secret } };
  }

  function reportUnreadable(layer: Layer, consumerId: string, problem: string): void {
    counts[layer].misses++;
    counts[layer].errors++;
    const fields = { 'event.action': 'redis-credential-unreadable', 'user.id': consumerId, reason: problem };
    // After a CACHE_ENCRYPTION_KEY change or an upgrade every consumer hits this once, until its copy is
    // overwritten; clocks apart between sidecars end copies early. The first of each reason is a warning.
    if (reportedProblems.has(problem)) {
      log.debug(fields, 'ignored an unreadable credential in Redis');
    } else {
      reportedProblems.add(problem);
      log.warn(
        fields,
        'ignored an unreadable credential in Redis (changed CACHE_ENCRYPTION_KEY, earlier version, or a value written into Redis by someone else); such copies count as misses and are overwritten',
      );
    }
  }

  async function read(layer: Layer, consumerId: string): Promise<SigningCredential | undefined> {
    if (!connection.isReady()) {
      counts[layer].misses++;
      counts[layer].errors++;
      return undefined;
    }
    const redisKey = keyOf(layer, consumerId);
    let value: string | null;
    try {
      value = await connection.client.get(redisKey);
    } catch (err) {
      counts[layer].misses++;
      failed([layer], 'redis-credential-read-failed', consumerId, err);
      return undefined;
    }
    if (value === null) {
      counts[layer].misses++;
      return undefined;
    }
    const decoded = decode(value, redisKey);
    if ('problem' in decoded) {
      reportUnreadable(layer, consumerId, decoded.problem);
      return undefined;
    }
    counts[layer].hits++;
    return decoded.credential;
  }

  return {
    getFresh: (consumerId) => read('fresh', consumerId),

    async getStale(consumerId) {
      if (!keepsStale) {
        counts.stale.misses++;
        return undefined;
      }
      return read('stale', consumerId);
    },

    async put(credential) {
      const { consumerId } = credential;
      if (!connection.isReady()) {
        for (const layer of layersWritten) counts[layer].errors++;
        return;
      }
      try {
        const transaction = connection.client.multi();
        const writtenAtMs = Date.now();
        for (const layer of layersWritten) {
          const redisKey = keyOf(layer, consumerId);
          const stored: StoredCredential = {
            consumerId,
            key: credential.key,
            secret: credential.secret,
            redisKey,
            expiresAtMs: writtenAtMs + lifetimeMs[layer],
          };
          transaction.set(redisKey, cipher.seal(JSON.stringify(stored)), 'PX', lifetimeMs[layer]);
        }
        const results = await transaction.exec();
        const commandError = results === null ? new Error('transaction aborted') : results.find(([err]) => err)?.[0];
        if (commandError) throw commandError;
      } catch (err) {
        failed(layersWritten, 'redis-credential-write-failed', consumerId, err);
      }
    },

    async evict(consumerId) {
      if (!connection.isReady()) {
        failed(['fresh', 'stale'], 'redis-credential-evict-failed', consumerId, new Error('Redis is not connected'));
        return;
      }
      try {
        await connection.client.del(keyOf('fresh', consumerId), keyOf('stale', consumerId));
      } catch (err) {
        failed(['fresh', 'stale'], 'redis-credential-evict-failed', consumerId, err);
      }
    },

    stats: () => ({ fresh: { ...counts.fresh }, stale: { ...counts.stale } }),
  };
}

/** PX takes whole milliseconds ≥ 1; the stale tolerance may be a fraction of a second's worth of minutes. */
function toMs(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

function isSigningCredential(value: unknown): value is SigningCredential {
  if (typeof value !== 'object' || value === null) return false;
  const { consumerId, key, secret } = value as Record<string, unknown>;
  return typeof consumerId === 'string' && typeof key === 'string' && typeof secret === 'string' && secret !== '';
}

function isBound(value: SigningCredential): value is StoredCredential {
  const { redisKey, expiresAtMs } = value as Partial<StoredCredential>;
  return typeof redisKey === 'string' && typeof expiresAtMs === 'number' && Number.isFinite(expiresAtMs);
}
