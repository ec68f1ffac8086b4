/** The closed set of error codes every plugin response uses (docs/errors.md). */
export const AUTH = {
  AUTH_001: { status: 401, title: 'Missing Consumer Headers', detail: 'Required Kong consumer headers are missing from the request' },
  AUTH_002: { status: 401, title: 'Consumer Not Found', detail: 'The specified consumer was not found or has no JWT credentials' },
  AUTH_003: { status: 500, title: 'JWT Creation Failed', detail: 'Failed to create JWT token due to an internal error' },
  AUTH_004: { status: 503, title: 'Kong API Unavailable', detail: 'The Kong gateway API is temporarily unavailable' },
  AUTH_005: { status: 503, title: 'Circuit Breaker Open', detail: 'Service is temporarily unavailable due to circuit breaker protection' },
  AUTH_006: { status: 429, title: 'Rate Limit Exceeded', detail: 'Request rate limit has been exceeded' },
  AUTH_007: { status: 400, title: 'Invalid Request Format', detail: 'The request format is invalid or malformed' },
  AUTH_008: { status: 500, title: 'Internal Server Error', detail: 'An unexpected internal server error occurred' },
  AUTH_009: { status: 401, title: 'Anonymous Consumer', detail: 'Anonymous consumers are not allowed to request tokens' },
  AUTH_010: { status: 401, title: 'Token Expired', detail: 'The provided JWT token has expired' },
  AUTH_011: { status: 400, title: 'Invalid Token', detail: 'The provided JWT token is invalid or malformed' },
  AUTH_012: { status: 400, title: 'Missing Authorization', detail: 'Authorization header with Bearer token is required' },
  AUTH_013: { status: 403, title: 'Insufficient Scope', detail: 'The token does not carry the scopes this route requires' },
  AUTH_014: { status: 400, title: 'Invalid Scope', detail: 'The requested scope is malformed or not allowed for this consumer' },
  AUTH_015: { status: 400, title: 'Invalid Form Request', detail: 'The form parameters are missing, repeated, malformed or not allowed' },
  AUTH_016: { status: 400, title: 'Unsupported Grant Type', detail: 'The grant type is not supported by this token endpoint' },
  AUTH_017: {
    status: 400,
    title: 'Unsupported Token Type',
    detail: 'The token type hint names a token type this endpoint does not handle',
  },
  AUTH_018: { status: 503, title: 'Revocation Store Unavailable', detail: 'The revocation store is temporarily unavailable' },
  AUTH_019: { status: 503, title: 'Signing Keys Unavailable', detail: 'The signing key set is not available' },
} as const;

export type AuthCode = keyof typeof AUTH;

export interface AuthErrorOptions {
  /** Seconds the caller should wait before retrying; becomes the Retry-After header. */
  retryAfterSeconds?: number;
  extensions?: Record<string, unknown>;
  /** Extra response headers, e.g. RateLimit-*. */
  headers?: Record<string, string>;
  cause?: unknown;
  /** A status other than the code's own, where a standard asks for it (a revoked token: 401, RFC 6750 §3.1). */
  status?: number;
}

export class AuthError extends Error {
  readonly retryAfterSeconds: number | undefined;
  readonly extensions: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  private readonly statusOverride: number | undefined;

  constructor(
    readonly code: AuthCode,
    readonly detail: string = AUTH[code].detail,
    options: AuthErrorOptions = {},
  ) {
    super(`${code}: ${detail}`, { cause: options.cause });
    this.name = 'AuthError';
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.extensions = options.extensions;
    this.headers = options.headers;
    this.statusOverride = options.status;
  }

  get status(): number {
    return this.statusOverride ?? AUTH[this.code].status;
  }
}

/** Anything that is not already an AuthError becomes AUTH_008; its text stays out of the response. */
export function toAuthError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  return new AuthError('AUTH_008', AUTH.AUTH_008.detail, { cause: err });
}
