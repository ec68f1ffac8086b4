import type { Logger } from '../ops/logger.js';
import type { LayerCounts } from '../ops/metric-sources.js';
import type { RedisConnection } from './redis-connection.js';
import type { SecretCipher } from './secret-cipher.js';

/**
 * One kind of entity kept in Redis as a fresh and a stale copy. Each copy is sealed together with the
 * Redis key it is written under and the end of its lifetime, so a copy moved to another key, or written
 * back after its end, is refused.
 */
export interface SealedCopies<T> {
  /** Fresh copy (TTL = ttlSeconds); undefined on miss, on error, or when Redis is not ready. Never throws. */
  getFresh(id: string): Promise<T | undefined>;
  /** Stale copy (TTL = staleSeconds, written alongside the fresh one); undefined on miss/error. Never throws. */
  getStale(id: string): Promise<T | undefined>;
  /** Writes both copies and lifts a tombstone (one MULTI). Never throws; errors are counted. */
  put(value: T): Promise<void>;
  /**
   * Kong answered that the entity does not exist: removes both copies and leaves a tombstone for the stale
   * copy's lifetime (one MULTI), so no sidecar on this Redis serves a copy of it. Never throws.
   */
  bury(id: string): Promise<void>;
  /** True while the entity's tombstone stands; false on miss, on error, or when Redis is not ready. Never throws. */
  isBuried(id: string): Promise<boolean>;
}

/** What the sealing code needs to know of one kind of entity. */
export interface CopyKind<T> {
  /**
   * The key group: the copies of one entity are `<prefix>{<group>:<id>}` (fresh) and
   * `<prefix>{<group>:<id>}:stale`, its tombstone `<prefix>{<group>:<id>}:gone`. The braces are a Redis
   * Cluster hash tag: all three live in one slot, so the MULTIs that write and remove them work on a cluster.
   */
  group: string;
  /** What the entity is called in a refusal's reason: `not a <noun>`. */
  noun: string;
  idOf(value: T): string;
  /** The entity's own fields from a decoded value, or undefined when it is not one. */
  parse(value: unknown): T | undefined;
}

export type Layer = 'fresh' | 'stale';
type KeyKind = Layer | 'gone';

/** What every kind kept on one Redis shares: the connection, the cipher, the counts per layer, the log. */
export interface SealedCopiesDeps {
  connection: RedisConnection;
  cipher: SecretCipher;
  log: Logger;
  counts: Record<Layer, LayerCounts>;
  /** Reasons a refusal was already logged as a warning, in this process. */
  reportedProblems: Set<string>;
}

export interface SealedCopiesOptions {
  /** Prepended to every key, e.g. `kong-auth-sidecar:`. */
  keyPrefix: string;
  /** Lifetime of the fresh copy. */
  ttlSeconds: number;
  /** Lifetime of the stale copy, which stands in while the Admin API fails; 0 writes none. */
  staleSeconds: number;
}

/** The binding sealed with every copy, next to the entity's own fields. */
interface Binding {
  /** The full Redis key the copy was written under. */
  redisKey: string;
  /** The copy's end, in ms since the epoch; past it the copy is refused even if Redis still holds it. */
  expiresAtMs: number;
}

type Decoded<T> = { value: T } | { problem: string };

/** The sealed content of a tombstone, next to its binding. */
const TOMBSTONE = { gone: true } as const;
const parseTombstone = (value: unknown): true | undefined => ((value as { gone?: unknown }).gone === true ? true : undefined);

export function createSealedCopies<T>(deps: SealedCopiesDeps, opts: SealedCopiesOptions, kind: CopyKind<T>): SealedCopies<T> {
  const { connection, cipher, log, counts, reportedProblems } = deps;
  const keepsStale = opts.staleSeconds > 0;
  const layersWritten: Layer[] = keepsStale ? ['fresh', 'stale'] : ['fresh'];
  const lifetimeMs: Record<Layer, number> = { fresh: toMs(opts.ttlSeconds), stale: toMs(opts.staleSeconds) };

  const keyOf = (which: KeyKind, id: string) => `${opts.keyPrefix}{${kind.group}:${id}}${which === 'fresh' ? '' : `:${which}`}`;
  const sealedFor = (redisKey: string, value: object, lifetime: number) =>
    cipher.seal(JSON.stringify({ ...value, redisKey, expiresAtMs: Date.now() + lifetime } satisfies Binding));

  /** Runs one MULTI; a command's error or an aborted transaction throws. */
  async function transact(build: (transaction: ReturnType<RedisConnection['client']['multi']>) => void): Promise<void> {
    const transaction = connection.client.multi();
    build(transaction);
    const results = await transaction.exec();
    const commandError = results === null ? new Error('transaction aborted') : results.find(([err]) => err)?.[0];
    if (commandError) throw commandError;
  }

  function failed(layers: Layer[], action: string, id: string, err: unknown): void {
    for (const layer of layers) counts[layer].errors++;
    // Outages are logged once by the connection; per call, this is detail.
    log.debug({ 'event.action': action, 'user.id': id, 'redis.key_group': kind.group, error: err }, 'Redis cache call failed');
  }

  function decode<V>(sealed: string, redisKey: string, parse: (value: unknown) => V | undefined, noun: string): Decoded<V> {
    let json: string;
    try {
      json = cipher.open(sealed);
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
    const value = typeof parsed === 'object' && parsed !== null ? parse(parsed) : undefined;
    if (value === undefined) return { problem: `not a ${noun}` };
    if (!isBound(parsed)) return { problem: 'no Redis key and end sealed with it (written by an earlier version)' };
    // The key names the entity and the layer: a copy moved to another entity, or from the stale key
    // (a longer end) to the fresh one, is refused.
    if (parsed.redisKey !== redisKey) return { problem: 'sealed for another Redis key' };
    // Redis's TTL goes with the key, not the value: a copy written back with SET would otherwise outlive its entity.
    if (parsed.expiresAtMs <= Date.now()) return { problem: 'past the end it was written with' };
    return { value };
  }

  function reportUnreadable(layer: Layer, id: string, problem: string): void {
    counts[layer].misses++;
    counts[layer].errors++;
    const fields = { 'event.action': 'redis-credential-unreadable', 'user.id': id, 'redis.key_group': kind.group, reason: problem };
    // After a CACHE_ENCRYPTION_KEY change or an upgrade every entity hits this once, until its copy is
    // overwritten; clocks apart between sidecars end copies early. The first of each reason is a warning.
    if (reportedProblems.has(problem)) {
      log.debug(fields, 'ignored an unreadable copy in Redis');
    } else {
      reportedProblems.add(problem);
      log.warn(
        fields,
        'ignored an unreadable copy in Redis (changed CACHE_ENCRYPTION_KEY, earlier version, or a value written into Redis by someone else); such copies count as misses and are overwritten',
      );
    }
  }

  async function read(layer: Layer, id: string): Promise<T | undefined> {
    if (!connection.isReady()) {
      counts[layer].misses++;
      counts[layer].errors++;
      return undefined;
    }
    const redisKey = keyOf(layer, id);
    let sealed: string | null;
    try {
      sealed = await connection.client.get(redisKey);
    } catch (err) {
      counts[layer].misses++;
      failed([layer], 'redis-credential-read-failed', id, err);
      return undefined;
    }
    if (sealed === null) {
      counts[layer].misses++;
      return undefined;
    }
    const decoded = decode(sealed, redisKey, kind.parse, kind.noun);
    if ('problem' in decoded) {
      reportUnreadable(layer, id, decoded.problem);
      return undefined;
    }
    counts[layer].hits++;
    return decoded.value;
  }

  return {
    getFresh: (id) => read('fresh', id),

    async getStale(id) {
      if (!keepsStale) {
        counts.stale.misses++;
        return undefined;
      }
      return read('stale', id);
    },

    async put(value) {
      const id = kind.idOf(value);
      if (!connection.isReady()) {
        for (const layer of layersWritten) counts[layer].errors++;
        return;
      }
      try {
        await transact((transaction) => {
          for (const layer of layersWritten) {
            const redisKey = keyOf(layer, id);
            transaction.set(redisKey, sealedFor(redisKey, value as object, lifetimeMs[layer]), 'PX', lifetimeMs[layer]);
          }
          // Kong knows the entity again (a credential key re-created): its tombstone is lifted.
          transaction.del(keyOf('gone', id));
        });
      } catch (err) {
        failed(layersWritten, 'redis-credential-write-failed', id, err);
      }
    },

    async bury(id) {
      if (!connection.isReady()) {
        failed(['fresh', 'stale'], 'redis-credential-evict-failed', id, new Error('Redis is not connected'));
        return;
      }
      try {
        await transact((transaction) => {
          transaction.del(keyOf('fresh', id), keyOf('stale', id));
          if (!keepsStale) return;
          const redisKey = keyOf('gone', id);
          transaction.set(redisKey, sealedFor(redisKey, TOMBSTONE, lifetimeMs.stale), 'PX', lifetimeMs.stale);
        });
      } catch (err) {
        failed(['fresh', 'stale'], 'redis-credential-evict-failed', id, err);
      }
    },

    async isBuried(id) {
      if (!keepsStale || !connection.isReady()) return false;
      const redisKey = keyOf('gone', id);
      try {
        const sealed = await connection.client.get(redisKey);
        if (sealed === null) return false;
        const decoded = decode(sealed, redisKey, parseTombstone, 'tombstone');
        if ('value' in decoded) return true;
        reportUnreadable('stale', id, decoded.problem);
      } catch (err) {
        failed(['stale'], 'redis-credential-read-failed', id, err);
      }
      return false;
    },
  };
}

/** PX takes whole milliseconds ≥ 1; the stale tolerance may be a fraction of a second's worth of minutes. */
function toMs(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

function isBound(value: unknown): value is Binding {
  const { redisKey, expiresAtMs } = value as Partial<Binding>;
  return typeof redisKey === 'string' && typeof expiresAtMs === 'number' && Number.isFinite(expiresAtMs);
}
