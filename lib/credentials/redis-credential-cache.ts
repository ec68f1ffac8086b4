import type { SigningCredential } from '../tokens/signing-credential.js';
import type { Logger } from '../ops/logger.js';
import type { KongConsumer } from './admin-client.js';
import type { RedisConnection } from './redis-connection.js';
import { createSealedCopies, type CopyKind, type Layer, type SealedCopies, type SealedCopiesOptions } from './redis-sealed-copies.js';
import type { SecretCipher } from './secret-cipher.js';
import type { LayerCounts } from '../ops/metric-sources.js';

/**
 * The Redis layers of the credential cache, shared by every sidecar on one Redis: each consumer's
 * signing credential (keyed by consumer id), and the consumer entity itself (its tags are the issuer's
 * scopes), each as a fresh and a stale copy sealed as SealedCopies describes.
 */
export interface RedisCredentialCache extends SealedCopies<SigningCredential> {
  /** The consumer entities, in the same layers (`{consumer:<id>}` keys). */
  consumers: SealedCopies<KongConsumer>;
  /**
   * Per layer, credentials and consumers together. Every lookup is a hit or a miss; `errors` counts the
   * calls Redis could not serve (not connected, command failed or timed out, value unreadable), writes
   * and evictions included.
   */
  stats(): { fresh: LayerCounts; stale: LayerCounts };
}

export type RedisCredentialCacheOptions = SealedCopiesOptions;

/** A decoded JSON value's fields; none for anything but an object. */
function fieldsOf(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

const CREDENTIAL: CopyKind<SigningCredential> = {
  group: 'cred',
  noun: 'credential',
  idOf: (credential) => credential.consumerId,
  parse(value) {
    const { consumerId, key, secret } = fieldsOf(value);
    if (typeof consumerId !== 'string' || typeof key !== 'string' || typeof secret !== 'string' || secret === '') return undefined;
    return { consumerId, key, secret };
  },
};

const CONSUMER: CopyKind<KongConsumer> = {
  group: 'consumer',
  noun: 'consumer',
  idOf: (consumer) => consumer.id,
  parse(value) {
    const { id, username, custom_id, tags } = fieldsOf(value);
    const isNullableText = (field: unknown): field is string | null => field === null || typeof field === 'string';
    if (typeof id !== 'string' || !isNullableText(username) || !isNullableText(custom_id)) return undefined;
    if (tags !== null && !(Array.isArray(tags) && tags.every((tag) => typeof tag === 'string'))) return undefined;
    return { id, username, custom_id, tags };
  },
};

export function createRedisCredentialCache(
  deps: { connection: RedisConnection; cipher: SecretCipher; log: Logger },
  opts: RedisCredentialCacheOptions,
): RedisCredentialCache {
  const counts: Record<Layer, LayerCounts> = {
    fresh: { hits: 0, misses: 0, errors: 0 },
    stale: { hits: 0, misses: 0, errors: 0 },
  };
  if (!deps.cipher.encrypts) {
    deps.log.warn(
      { 'event.action': 'redis-cache-unencrypted' },
      'CACHE_ENCRYPTION_KEY is not set: credential secrets are stored in Redis in plain text; anyone who can read Redis can sign tokens ' +
        'for those consumers, and anyone who can write to it can put in a secret of their own that tokens are then signed with, ' +
        'or consumer tags that grant scopes. Set CACHE_ENCRYPTION_KEY (openssl rand -base64 32)',
    );
  }
  const shared = { ...deps, counts, reportedProblems: new Set<string>() };
  return {
    ...createSealedCopies(shared, opts, CREDENTIAL),
    consumers: createSealedCopies(shared, opts, CONSUMER),
    stats: () => ({ fresh: { ...counts.fresh }, stale: { ...counts.stale } }),
  };
}
