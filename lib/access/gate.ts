import type { KongConsumer } from '../credentials/admin-client.js';
import type { AuthError } from '../errors.js';
import { scopesOf } from '../tokens/scopes.js';
import { consumerName, type HeaderMap } from './request-headers.js';

/**
 * The mark a gate leaves on every request it let through: a field of the credential it passes to
 * kong.client.authenticate (a preflight it lets pass: a kong.ctx.shared key of this name). Kong skips a
 * plugin whose call fails (and all of ours when our process is down), so kong.yml's backstop
 * post-function answers 503 unless it finds the mark. Both live per request, out of clients' reach.
 * The mark is always the gate's LAST call: a gate that dies before it leaves no marked request behind.
 */
export const GATE_MARK = 'kong_auth_sidecar_gate';

/**
 * upstream_headers: backstop — the credential field that carries the upstream headers instead of the
 * mark above: the backstop (kong/backstop.lua) clears every identity header the client sent and sets
 * these, in Kong's own Lua. A backstop that knows only the old mark finds none and answers 503.
 */
export const HEADERS_MARK = 'kong_auth_sidecar_headers';

/** Headers that tell the upstream who the caller is: only the gate may set them (kong/backstop.lua lists them too). */
export const IDENTITY_HEADERS = [
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-custom-id',
  'x-credential-identifier',
  'x-anonymous-consumer',
  'x-token-id',
  'x-token-scopes',
];
const IDENTITY_NAMES = new Set(IDENTITY_HEADERS);

/**
 * nginx passes `X_Token_Scopes` as a header of its own (underscores_in_headers on) and CGI/WSGI-style
 * upstreams read it as X-Token-Scopes: the underscore spellings are cleared with the dash ones.
 */
const UNDERSCORE_SPELLINGS = IDENTITY_HEADERS.map((name) => name.replace(/-/g, '_'));

/** An empty array in kong.service.request.set_headers removes the header (ngx.req.set_header with {}). */
const CLEARED: string[] = [];

/** A kong.service.request.set_headers table: a value sets a header, an empty array removes it. */
export type UpstreamHeaders = Record<string, string | string[]>;

/**
 * Every spelling of every identity header, cleared: unconditionally the dash and underscore spellings,
 * and any mixed spelling the client sent (the header map is complete: a truncated one is refused first).
 */
export function clearedIdentityHeaders(incoming: HeaderMap): UpstreamHeaders {
  const headers: UpstreamHeaders = {};
  for (const name of IDENTITY_HEADERS) headers[name] = CLEARED;
  for (const name of UNDERSCORE_SPELLINGS) headers[name] = CLEARED;
  for (const name in incoming) if (name.includes('_') && IDENTITY_NAMES.has(name.replace(/_/g, '-'))) headers[name] = CLEARED;
  return headers;
}

/** What every gated request carries upstream about its token: its id and scopes, and the request id when the client sent none. */
function tokenHeaders(incoming: HeaderMap, claims: Record<string, unknown>, requestId: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (typeof claims.jti === 'string') headers['x-token-id'] = claims.jti;
  const scopes = scopesOf(claims);
  if (scopes.length > 0) headers['x-token-scopes'] = scopes.join(' ');
  if (incoming['x-request-id'] === undefined) headers['x-request-id'] = requestId;
  return headers;
}

/** The headers a gated request carries upstream: who the caller is, its token, and the request id when the client sent none. */
export function identityHeaders(
  incoming: HeaderMap,
  consumer: KongConsumer,
  claims: Record<string, unknown>,
  requestId: string,
): Record<string, string> {
  return { 'x-consumer-id': consumer.id, 'x-consumer-username': consumerName(consumer), ...tokenHeaders(incoming, claims, requestId) };
}

/**
 * Controls and separators, which Kong's set_headers refuses by raising (a 500 for the request): a token
 * from another identity provider whose header-bound claims carry one is refused instead.
 */
const NOT_A_HEADER_VALUE = /[\p{Cc}\p{Zl}\p{Zp}]/u;
const MAX_HEADER_CLAIM_LENGTH = 1024;

/**
 * The claims of a remote identity provider's token that become upstream headers (`sub`, `jti`, the
 * scopes), or the name of the first one that cannot: `sub` must be a non-empty string; each must be
 * at most 1024 characters without controls or line separators.
 */
export function unfitHeaderClaim(claims: Record<string, unknown>): string | undefined {
  if (typeof claims.sub !== 'string' || claims.sub === '') return 'sub';
  const unfit = (value: string) => value.length > MAX_HEADER_CLAIM_LENGTH || NOT_A_HEADER_VALUE.test(value);
  if (unfit(claims.sub)) return 'sub';
  if (typeof claims.jti === 'string' && unfit(claims.jti)) return 'jti';
  if (unfit(scopesOf(claims).join(' '))) return 'scope';
  return undefined;
}

/**
 * The headers of a request a remote identity provider's token let through: no Kong consumer, so
 * `X-Credential-Identifier` carries the token's `sub` (checked by unfitHeaderClaim first).
 */
export function remoteIdentityHeaders(incoming: HeaderMap, claims: Record<string, unknown>, requestId: string): Record<string, string> {
  return { 'x-credential-identifier': claims.sub as string, ...tokenHeaders(incoming, claims, requestId) };
}

/** The one set_headers table of a gated request: ours set, every other identity header cleared. */
export function gateHeaders(incoming: HeaderMap, ours: Record<string, string>): UpstreamHeaders {
  return { ...clearedIdentityHeaders(incoming), ...ours };
}

/** A value inside an auth-param's quotes: no quote or backslash can end it early. */
const quotable = (text: string) => text.replace(/["\\]/g, '');

/** RFC 6750 challenge for the validator's refusals (§3: no error code when no token came; §3.1 for scopes). */
export function bearerChallenge(err: AuthError): Record<string, string> {
  if (err.code === 'AUTH_012') return { 'WWW-Authenticate': 'Bearer realm="kong"' };
  if (err.code === 'AUTH_013') {
    const required = (err.extensions?.requiredScopes as string[] | undefined) ?? [];
    return { 'WWW-Authenticate': `Bearer realm="kong", error="insufficient_scope", scope="${quotable(required.join(' '))}"` };
  }
  if (err.status !== 400 && err.status !== 401) return {};
  const error = err.code === 'AUTH_007' ? 'invalid_request' : 'invalid_token';
  return { 'WWW-Authenticate': `Bearer realm="kong", error="${error}", error_description="${quotable(err.detail)}"` };
}
