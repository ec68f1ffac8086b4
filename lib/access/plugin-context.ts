import type { CredentialStore } from '../credentials/credential-store.js';
import type { Logger, LogLevel } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { Telemetry } from '../ops/telemetry.js';
import type { TokenService } from '../tokens/signer.js';
import type { RevocationStore } from '../tokens/revocation-store.js';
import type { TokenVerifier } from '../tokens/verifier.js';
import type { KeyDirectory } from '../tokens/key-directory.js';
import type { RemoteJwksRegistry } from '../credentials/remote-jwks.js';
import type { RateLimiter } from './rate-limiter.js';

/** What the plugins and their shared request path are given by the process (lib/context.ts builds it). */
export interface PluginContext {
  config: { eventLogLevel: LogLevel };
  log: Logger;
  metrics: Metrics;
  telemetry: Telemetry;
  credentials: CredentialStore;
  tokens: TokenService;
  verifier: TokenVerifier;
  rateLimiter: RateLimiter;
  revocations: RevocationStore;
  /** The sidecar's own signing keys, with SIGNING_KEYS_DIR. */
  signingKeys: KeyDirectory | undefined;
  /** The identity providers' key sets gates verify with (token-validator `jwks_uri`). */
  remoteJwks: RemoteJwksRegistry;
}
