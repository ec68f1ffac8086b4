'use strict';
// What every baseline gate and issuer shares: the bench consumer, its HS256 secret, and the one
// kong.service.request.set_headers table ours sends for a gated request (lib/access/gate.ts): every
// dash and underscore spelling of the identity headers cleared, then ours set. A yardstick, not production code.
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const KEY = 'bench-key';
const CONSUMER = { id: '11111111-1111-4111-8111-111111111111', username: 'bench-consumer', custom_id: 'bench-custom' };
/** The credential a gate hands to kong.client.authenticate, with the backstop's mark, as ours does. */
const CREDENTIAL = { id: 'bench-credential-id', key: KEY, consumer: { id: CONSUMER.id }, kong_auth_sidecar_gate: true };

const IDENTITY_HEADERS = [
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-custom-id',
  'x-credential-identifier',
  'x-anonymous-consumer',
  'x-token-id',
  'x-token-scopes',
];

/** The headers a request the gate let through carries upstream: the consumer's, the token id, a request id. */
function identityHeaders(incoming, claims) {
  const headers = { 'x-consumer-id': CONSUMER.id, 'x-consumer-username': CONSUMER.username };
  if (typeof claims.jti === 'string') headers['x-token-id'] = claims.jti;
  if (incoming['x-request-id'] === undefined) headers['x-request-id'] = claims.jti;
  return headers;
}

/** The set_headers table of a gated request: cleared identity headers, then ours. */
function gateHeaders(incoming, claims) {
  const headers = {};
  for (const name of IDENTITY_HEADERS) headers[name] = [];
  for (const name of IDENTITY_HEADERS) headers[name.replace(/-/g, '_')] = [];
  return Object.assign(headers, identityHeaders(incoming, claims));
}

/** upstream_headers: backstop — the credential carries ours for kong/backstop.lua instead of the mark. */
function backstopCredential(incoming, claims) {
  const { kong_auth_sidecar_gate: _, ...credential } = CREDENTIAL;
  return { ...credential, kong_auth_sidecar_headers: identityHeaders(incoming, claims) };
}

module.exports = { SECRET, KEY, CONSUMER, CREDENTIAL, gateHeaders, backstopCredential };
