import type { KongConsumer } from './admin-client.js';
import type { AuthError } from './errors.js';
import { consumerName, type HeaderMap } from './request-headers.js';

/**
 * The mark a gate leaves on every request it let through: a field of the credential it passes to
 * kong.client.authenticate (a preflight it lets pass: a kong.ctx.shared key of this name). Kong skips a
 * plugin whose call fails (and all of ours when our process is down), so kong.yml's backstop
 * post-function answers 503 unless it finds the mark. Both live per request, out of clients' reach.
 */
export const GATE_MARK = 'kong_auth_sidecar_gate';

/** Headers that tell the upstream who the caller is: only the gate may set them. */
const IDENTITY_HEADERS = ['x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-anonymous-consumer', 'x-token-id', 'x-token-scopes'];

export interface GateHeaders {
  /** Set in ONE kong.service.request.set_headers call; replaces any client copy of these names. */
  set: Record<string, string>;
  /** Client-sent identity headers the set does not replace, to clear one by one (rare: usually none). */
  clear: string[];
}

function scopesOf(claims: Record<string, unknown>): string | undefined {
  const scopes = claims.scope ?? claims.scp;
  if (typeof scopes === 'string' && scopes !== '') return scopes;
  if (Array.isArray(scopes) && scopes.every((s) => typeof s === 'string') && scopes.length > 0) return scopes.join(' ');
  return undefined;
}

export function gateHeaders(incoming: HeaderMap, consumer: KongConsumer, claims: Record<string, unknown>, requestId: string): GateHeaders {
  const set: Record<string, string> = { 'X-Consumer-ID': consumer.id, 'X-Consumer-Username': consumerName(consumer) };
  if (typeof claims.jti === 'string') set['X-Token-Id'] = claims.jti;
  const scopes = scopesOf(claims);
  if (scopes !== undefined) set['X-Token-Scopes'] = scopes;
  if (incoming['x-request-id'] === undefined) set['X-Request-Id'] = requestId;
  const clear: string[] = [];
  for (const name of IDENTITY_HEADERS) if (incoming[name] !== undefined && !setsHeader(set, name)) clear.push(name);
  return { set, clear };
}

/** Whether `set` has the (lower-case) header `name` under any spelling. */
function setsHeader(set: Record<string, string>, name: string): boolean {
  for (const key in set) if (key.toLowerCase() === name) return true;
  return false;
}

/** RFC 6750 challenge for the validator's refusals. */
export function bearerChallenge(err: AuthError): Record<string, string> {
  if (err.code === 'AUTH_012') return { 'WWW-Authenticate': 'Bearer realm="kong"' };
  if (err.status !== 400 && err.status !== 401) return {};
  const error = err.code === 'AUTH_007' ? 'invalid_request' : 'invalid_token';
  return { 'WWW-Authenticate': `Bearer realm="kong", error="${error}", error_description="${err.detail.replace(/["\\]/g, '')}"` };
}
