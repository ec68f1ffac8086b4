import type { PluginContext } from './access/plugin-context.js';
import { createAdminClient, type AdminClient } from './credentials/admin-client.js';
import type { Config } from './config.js';
import { createCredentialStore, type CredentialStore } from './credentials/credential-store.js';
import type { Logger } from './ops/logger.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { createLocalRateLimiter, createRedisRateLimiter, type RateLimiter } from './access/rate-limiter.js';
import type { RedisConnection } from './credentials/redis-connection.js';
import { createRedisCredentialCache, type RedisCredentialCache } from './credentials/redis-credential-cache.js';
import { createSecretCipher } from './credentials/secret-cipher.js';
import { createTelemetry, type Telemetry } from './ops/telemetry.js';
import { createTokenVerifier, type TokenVerifier } from './tokens/verifier.js';
import { createTokenService, type TokenService } from './tokens/signer.js';
import { createLocalRevocationStore, type RevocationStore } from './tokens/revocation-store.js';
import { createRedisRevocationStore, type RedisRevocationStore } from './credentials/redis-revocation-store.js';
import { openKeyDirectory } from './tokens/key-directory.js';
import { createRemoteJwksRegistry } from './credentials/remote-jwks.js';

/** How often SIGNING_KEYS_DIR is read again, in ms. */
const SIGNING_KEYS_POLL_MS = 5000;

/** The composition root: everything the process built from its configuration, the plugins' part included. */
export interface Context extends PluginContext {
  config: Config;
  admin: AdminClient;
  redis: { connection: RedisConnection; cache: RedisCredentialCache; revocations: RedisRevocationStore } | undefined;
  /** Releases what the context opened (Redis). */
  close(): Promise<void>;
}

export async function createContext(config: Config, log: Logger): Promise<Context> {
  const metrics = createMetrics();
  const telemetry = createTelemetry(config.telemetry, log);
  const tracer = telemetry.tracer;
  const admin = createAdminClient({
    mode: config.kongMode,
    baseUrl: config.kongAdminUrl,
    token: config.kongAdminToken,
    timeoutMs: config.kongAdminTimeoutMs,
    retries: config.kongAdminRetries,
    retryDelayMs: config.kongAdminRetryDelayMs,
    breaker: config.breaker,
    log,
    onAttempt: (outcome, seconds) => metrics.adminApiAttempt(outcome, seconds),
    tracer,
  });
  const localLimiter = createLocalRateLimiter({ nowMs: Date.now, maxKeys: config.cacheMaxMemoryEntries });
  let redis: Context['redis'];
  let rateLimiter: RateLimiter = localLimiter;
  // Without Redis, revocations are this process's own.
  let revocations: RevocationStore = createLocalRevocationStore({ nowMs: Date.now });
  if (config.redis) {
    // ioredis adds ~20 MB to the process: loaded only when Redis is configured.
    const { createRedisConnection } = await import('./credentials/redis-connection.js');
    const connection = createRedisConnection(config.redis, { log });
    const cache = createRedisCredentialCache(
      { connection, cipher: createSecretCipher(config.cacheEncryptionKey), log },
      { keyPrefix: config.redis.keyPrefix, ttlSeconds: config.cacheTtlSeconds, staleSeconds: config.staleToleranceSeconds },
    );
    // Its own connection (closed with the connection): a subscribed connection can send no other command.
    const sharedRevocations = createRedisRevocationStore(
      { client: connection.client, subscriber: connection.subscriber(), masters: () => connection.masters(), log, nowMs: Date.now },
      { keyPrefix: config.redis.keyPrefix },
    );
    revocations = sharedRevocations;
    redis = { connection, cache, revocations: sharedRevocations };
    rateLimiter = createRedisRateLimiter(
      { connection, fallback: localLimiter, log, nowMs: Date.now },
      { keyPrefix: config.redis.keyPrefix },
    );
  }
  const credentials = createCredentialStore(
    { admin, redis: redis?.cache, log, tracer },
    { ttlSeconds: config.cacheTtlSeconds, staleSeconds: config.staleToleranceSeconds, maxEntries: config.cacheMaxMemoryEntries },
  );
  const signingKeys =
    config.signingKeysDir === undefined
      ? undefined
      : await openKeyDirectory({ log, nowMs: Date.now }, { dir: config.signingKeysDir, pollMs: SIGNING_KEYS_POLL_MS });
  // Without a key directory, issuing and verifying with the key set are refused (AUTH_003, AUTH_011).
  const keys = signingKeys && (() => signingKeys.keys()?.set);
  const remoteJwks = createRemoteJwksRegistry({ log, nowMs: Date.now });
  return {
    config,
    log,
    metrics,
    telemetry,
    admin,
    credentials,
    tokens: createTokenService({ nowMs: Date.now, tracer, keys }),
    verifier: createTokenVerifier({ nowSeconds: () => Math.floor(Date.now() / 1000), tracer, keys }),
    rateLimiter,
    revocations,
    redis,
    signingKeys,
    remoteJwks,
    close: async () => {
      signingKeys?.close();
      remoteJwks.close();
      await telemetry.flush();
      await revocations.close();
      await redis?.connection.close();
    },
  };
}
