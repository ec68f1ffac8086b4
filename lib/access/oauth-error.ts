import type { AuthCode, AuthError } from '../errors.js';

/** RFC 6749 §5.2 error codes (RFC 7009 §2.2.1 adds unsupported_token_type), by our code. */
const OAUTH_ERRORS: Partial<Record<AuthCode, string>> = {
  AUTH_001: 'invalid_client',
  AUTH_009: 'invalid_client',
  AUTH_002: 'unauthorized_client',
  AUTH_007: 'invalid_request',
  AUTH_015: 'invalid_request',
  AUTH_014: 'invalid_scope',
  AUTH_016: 'unsupported_grant_type',
  AUTH_017: 'unsupported_token_type',
};

export interface OAuthErrorAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** The OAuth error `error` value for a refusal: the client errors of §5.2, else by the status class. */
export function oauthErrorCode(err: AuthError): string {
  const mapped = OAUTH_ERRORS[err.code];
  if (mapped) return mapped;
  return err.status === 429 || err.status === 503 ? 'temporarily_unavailable' : 'server_error';
}

/**
 * An RFC 6749 §5.2 answer: exactly `{"error","error_description"}`, 400 for a client error and 401 with
 * a challenge for invalid_client; 429/5xx keep their status and Retry-After. Our code travels in
 * X-Auth-Error-Code, so logs, metrics and support still see which refusal it was.
 */
export function oauthErrorAnswer(err: AuthError, requestId: string): OAuthErrorAnswer {
  const error = oauthErrorCode(err);
  const clientError = OAUTH_ERRORS[err.code] !== undefined;
  const status = error === 'invalid_client' ? 401 : clientError ? 400 : err.status;
  const headers: Record<string, string> = {
    ...err.headers,
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Request-Id': requestId,
    'X-Auth-Error-Code': err.code,
  };
  if (error === 'invalid_client') headers['WWW-Authenticate'] = 'Basic realm="kong"';
  if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterSeconds)));
  return { status, body: JSON.stringify({ error, error_description: err.detail }), headers };
}
