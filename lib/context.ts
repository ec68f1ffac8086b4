import { createAdminClient } from './admin-client.js';
import type { Config } from './config.js';
import { createCredentialStore, type CredentialStore } from './credentials.js';
import type { Logger } from './logger.js';
import { createLocalRateLimiter, type RateLimiter } from './rate-limiter.js';
import { createTokenService, type TokenService } from './tokens.js';

/** The composition root: everything the plugins share, built once per process from the config. */
export interface Context {
  config: Config;
  log: Logger;
  credentials: CredentialStore;
  tokens: TokenService;
  rateLimiter: RateLimiter;
}

export function createContext(config: Config, log: Logger): Context {
  const admin = createAdminClient({ baseUrl: config.kongAdminUrl, adminToken: config.kongAdminToken, timeoutMs: config.kongAdminTimeoutMs, log });
  return {
    config,
    log,
    credentials: createCredentialStore({ admin, log }, { ttlSeconds: config.cacheTtlSeconds, maxEntries: config.cacheMaxMemoryEntries }),
    tokens: createTokenService({ nowSeconds: () => Math.floor(Date.now() / 1000) }),
    rateLimiter: createLocalRateLimiter({ nowMs: Date.now, maxKeys: config.cacheMaxMemoryEntries }),
  };
}
