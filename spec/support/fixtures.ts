import type { KongHarness } from '../../kong/stand-in/kong-harness.js';
import type { GatewayResult } from '../../kong/stand-in/gateway.js';
import { BACKSTOP_LUA } from '../../kong/stand-in/backstop-lua.js';

/** Declarative configs the specs start Kong with; credentials are test values. */
export const ALICE_SECRET = 'alice-test-secret-0123456789abcdef';
export const CAROL_SECRET = 'carol-test-secret-0123456789abcdef';

/** The start every spec file shares: a dead-end token service whose /tokens route issues with `issuerConfig`. */
function tokenService(issuerConfig: string): string {
  return `
_format_version: "3.0"
services:
  - name: token-service
    url: http://127.0.0.1:9
    plugins:
      - name: request-termination
        config: { status_code: 503, message: token service unavailable }
    routes:
      - name: tokens
        paths: [/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: ${issuerConfig}`;
}

export const ISSUER_KONG_YML = `${tokenService('{ issuer: https://issuer.test, audience: [api-a], unique_name_prefix: "corp#" }')}
      - name: multi-audience
        paths: [/multi/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { ttl_seconds: 60, audience: [api-a, api-b], key_claim_name: kid_key }
      - name: no-auth-plugin
        paths: [/open/tokens]
        plugins:
          - name: token-issuer
      - name: headers-trusted
        paths: [/trusting/tokens]
        plugins:
          - name: token-issuer
            config: { verify_consumer: false }
      - name: no-provisioning
        paths: [/strict/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { provision_credentials: false }
      - name: anonymous-allowed
        paths: [/anon/tokens]
        plugins:
          - name: key-auth
            config: { anonymous: anonymous }
          - name: token-issuer
      - name: rate-limited
        paths: [/limited/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { rate_limit_per_minute: 2 }
      - name: kong-request-id
        paths: [/kong-id/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { request_id_source: kong }
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
  - username: bob
    keyauth_credentials: [{ key: bob-key }]
  - custom_id: carol-custom
    keyauth_credentials: [{ key: carol-key }]
    jwt_secrets: [{ key: carol-jwt-key, secret: ${CAROL_SECRET} }]
  - username: anonymous
`;

export const BOB_SECRET = 'bob-test-secret-0123456789abcdef01';

/** The one-line backstop earlier releases documented: it knows only the `kong_auth_sidecar_gate` mark. */
export const ONE_LINE_BACKSTOP = `local credential = kong.client.get_credential() if not (credential and credential.kong_auth_sidecar_gate or kong.ctx.shared.kong_auth_sidecar_gate) then return kong.response.exit(503, { message = "authentication gate unavailable" }) end`;

/** kong/backstop.lua as a YAML literal block, an item of a post-function's `access` list indented by `indent`. */
const backstopItem = (indent: string) => `${indent}- |\n${BACKSTOP_LUA.trimEnd().replace(/^/gm, `${indent}  `)}`;

/** A service, its fail-closed backstop and the start of its routes list. */
const serviceBehind = (name: string, access: string) => `  - name: ${name}
    url: http://${name}-upstream:8080
    plugins:
      - name: post-function
        config:
          access:
${access}
    routes:`;

/** The orders service, its fail-closed backstop (kong/backstop.lua) and the start of its routes list. */
export const ORDERS_SERVICE_BEHIND_BACKSTOP = serviceBehind('orders', backstopItem('            '));

export const VALIDATOR_KONG_YML = `${tokenService('{ ttl_seconds: 60, issuer: https://issuer.test, audience: [api-a] }')}
      - name: validate
        paths: [/tokens/validate]
        plugins:
          - name: key-auth
          - name: token-validator
            config: { issuer: https://issuer.test, audience: [api-a] }
      - name: validate-lenient
        paths: [/lenient/validate]
        plugins:
          - name: key-auth
          - name: token-validator
            config: { clock_skew_seconds: 30, max_token_age_seconds: 120 }
      - name: validate-no-auth
        paths: [/open/validate]
        plugins:
          - name: token-validator
      - name: validate-scoped
        paths: [/scoped/validate]
        plugins:
          - name: key-auth
          - name: token-validator
            config: { required_scopes: [orders:read] }
${ORDERS_SERVICE_BEHIND_BACKSTOP}
      - name: orders
        paths: [/orders]
        plugins:
          - name: token-validator
            config: { mode: gate, issuer: https://issuer.test, audience: [api-a] }
      - name: orders-websocket
        paths: [/ws]
        plugins:
          - name: token-validator
            config: { mode: gate, uri_param_names: [jwt], cookie_names: [session_token], header_names: [x-token] }
      - name: orders-preflight
        paths: [/cors]
        plugins:
          - name: token-validator
            config: { mode: gate, run_on_preflight: false }
      - name: orders-write
        paths: [/scoped/all]
        plugins:
          - name: token-validator
            config: { mode: gate, required_scopes: [orders:read, orders:write] }
      - name: orders-read
        paths: [/scoped/any]
        plugins:
          - name: token-validator
            config: { mode: gate, required_scopes: [orders:read, orders:admin], scopes_match: any }
      - name: orders-headers-by-backstop
        paths: [/backstop/orders]
        plugins:
          - name: token-validator
            config: { mode: gate, upstream_headers: backstop, issuer: https://issuer.test, audience: [api-a] }
      - name: orders-preflight-headers-by-backstop
        paths: [/backstop/cors]
        plugins:
          - name: token-validator
            config: { mode: gate, upstream_headers: backstop, run_on_preflight: false }
${serviceBehind('legacy', `            - '${ONE_LINE_BACKSTOP}'`)}
      - name: legacy-sidecar
        paths: [/legacy/sidecar]
        plugins:
          - name: token-validator
            config: { mode: gate }
      - name: legacy-headers-by-backstop
        paths: [/legacy/backstop]
        plugins:
          - name: token-validator
            config: { mode: gate, upstream_headers: backstop }
  - name: kong-jwt-protected
    url: http://api-upstream:8080
    routes:
      - name: api
        paths: [/api]
        plugins:
          - name: jwt
            config: { key_claim_name: key, claims_to_verify: [exp] }
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
  - username: bob
    custom_id: bob-custom
    keyauth_credentials: [{ key: bob-key }]
    jwt_secrets: [{ key: bob-jwt-key, secret: ${BOB_SECRET} }]
`;

/** Kong's acl plugin next to our gate (the same route) and next to key-auth; alice is an orders-reader, bob a partner. */
export const ACL_KONG_YML = `
_format_version: "3.0"
services:
${ORDERS_SERVICE_BEHIND_BACKSTOP}
      - name: gate-then-acl
        paths: [/orders]
        plugins:
          - name: token-validator
            config: { mode: gate }
          - name: acl
            config: { allow: [orders-readers] }
      - name: gate-then-acl-deny
        paths: [/deny/orders]
        plugins:
          - name: token-validator
            config: { mode: gate }
          - name: acl
            config: { deny: [partners], hide_groups_header: true }
  - name: reports
    url: http://reports-upstream:8080
    routes:
      - name: key-auth-then-acl
        paths: [/reports]
        plugins:
          - name: key-auth
          - name: acl
            config: { allow: [orders-readers] }
      - name: acl-alone
        paths: [/open/reports]
        plugins:
          - name: acl
            config: { allow: [orders-readers] }
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
    acls: [{ group: orders-readers }, { group: staff }]
  - username: bob
    keyauth_credentials: [{ key: bob-key }]
    jwt_secrets: [{ key: bob-jwt-key, secret: ${BOB_SECRET} }]
    acls: [{ group: partners }]
`;

export const DANA_SECRET = 'dana-test-secret-0123456789abcdef01';

/** A consumer whose tags allow scopes (and one without any), behind routes with each scope setting. */
export const SCOPES_KONG_YML = `${tokenService('{}')}
      - name: default-scopes
        paths: [/defaults/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { default_scopes: [orders.read, admin, orders.read] }
      - name: no-scope-parameter
        paths: [/fixed/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { default_scopes: [orders.read], scope_query_parameter: false }
      - name: other-prefix
        paths: [/prefixed/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { scope_tag_prefix: "perm/" }
      - name: headers-trusted
        paths: [/trusting/tokens]
        plugins:
          - name: token-issuer
            config: { verify_consumer: false }
consumers:
  - username: dana
    tags: [scope:orders.read, scope:orders.write, team-a, scope:billing.read, perm/reports]
    keyauth_credentials: [{ key: dana-key }]
    jwt_secrets: [{ key: dana-jwt-key, secret: ${DANA_SECRET} }]
  - username: alice
    tags: [team-a]
    keyauth_credentials: [{ key: alice-key }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
`;

/**
 * A token request for `scope` on SCOPES_KONG_YML's route with verify_consumer off, naming dana in the
 * consumer headers: the tags then come from the consumer entity the store reads, not from Kong's request.
 */
export function danaTrustingRequest(kong: KongHarness, scope: string): Promise<GatewayResult> {
  const dana = kong.store.consumerByIdOrUsername('dana');
  if (!dana) throw new Error('SCOPES_KONG_YML seeds dana');
  return kong.request({ path: `/trusting/tokens?scope=${scope}`, headers: { 'x-consumer-id': dana.id, 'x-consumer-username': 'dana' } });
}

/** The claims of a valid token of alice's credential under the validator fixtures' issuer and audience, signed now, valid 300 s. */
export function aliceClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return { sub: 'alice', key: 'alice-jwt-key', iat, nbf: iat, exp: iat + 300, iss: 'https://issuer.test', aud: 'api-a', ...overrides };
}

/**
 * The validator's routes plus /tokens/revoke as in kong.yml (the longer path under /tokens), revoke-all
 * and anonymous variants, a gate without the revocation check, one that denies while the revocation list
 * may be incomplete, and carol.
 */
export const REVOCATION_KONG_YML =
  VALIDATOR_KONG_YML.replace(
    '      - name: validate\n',
    `      - name: revoke
        paths: [/tokens/revoke]
        methods: [POST]
        plugins:
          - name: key-auth
          - name: token-revocation
      - name: revoke-all
        paths: [/all/revoke]
        methods: [POST]
        plugins:
          - name: key-auth
          - name: token-revocation
            config: { allow_revoke_all: true }
      - name: revoke-anonymous
        paths: [/anon/revoke]
        plugins:
          - name: key-auth
            config: { anonymous: anonymous }
          - name: token-revocation
      - name: validate\n`,
  ).replace(
    '      - name: orders-websocket\n',
    `      - name: orders-unchecked
        paths: [/unchecked/orders]
        plugins:
          - name: token-validator
            config: { mode: gate, check_revocation: false }
      - name: orders-deny
        paths: [/deny/orders]
        plugins:
          - name: token-validator
            config: { mode: gate, revocation_unavailable: deny }
      - name: orders-websocket\n`,
  ) +
  `  - username: carol
    keyauth_credentials: [{ key: carol-key }]
    jwt_secrets: [{ key: carol-jwt-key, secret: ${CAROL_SECRET} }]
  - username: anonymous
`;

export const DANA_CLIENT_SECRET = 'dana-client-secret-0123456789abcdef';
export const ALICE_CLIENT_SECRET = 'alice-client-secret-0123456789abcdef';

/** OAuth client credentials: clients authenticated by basic-auth (or key-auth, or as the anonymous consumer) on /oauth2/token. */
export const CLIENT_CREDENTIALS_KONG_YML = `${tokenService('{ issuer: https://issuer.test }')}
      - name: oauth-token
        paths: [/oauth2/token]
        methods: [POST]
        plugins:
          - name: basic-auth
            config: { hide_credentials: true }
          - name: token-issuer
            config: { ttl_seconds: 600, issuer: https://issuer.test, audience: [api-a], client_credentials_only: true }
      - name: oauth-token-keyauth
        paths: [/key/oauth2/token]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { issuer: https://issuer.test }
      - name: oauth-token-anonymous
        paths: [/open/oauth2/token]
        plugins:
          - name: basic-auth
            config: { anonymous: anonymous }
          - name: token-issuer
            config: {}
  - name: echo
    url: http://echo.test
    routes:
      - name: basic-echo
        paths: [/echo]
        plugins:
          - name: basic-auth
            config: { hide_credentials: true, realm: echo }
      - name: basic-echo-visible
        paths: [/visible/echo]
        plugins:
          - name: basic-auth
consumers:
  - username: dana
    tags: [scope:orders.read, scope:orders.write]
    keyauth_credentials: [{ key: dana-key }]
    basicauth_credentials: [{ username: dana-client, password: ${DANA_CLIENT_SECRET} }]
    jwt_secrets: [{ key: dana-jwt-key, secret: ${DANA_SECRET} }]
  - username: alice
    basicauth_credentials: [{ username: alice-client, password: ${ALICE_CLIENT_SECRET} }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
  - username: anonymous
`;

/** Every algorithm a validator may accept. */
const EVERY_ALGORITHM = '[HS256, ES256, EdDSA, RS256]';

/**
 * Issuers of each algorithm of the key set (SIGNING_KEYS_DIR), an RFC 9068 one, and the validator's three
 * modes accepting them; Kong's jwt plugin on /api finds its credential by the token's kid.
 */
export const KEY_SET_KONG_YML = `${tokenService('{ issuer: https://issuer.test, audience: [api-a] }')}
      - name: es256-tokens
        paths: [/es256/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { algorithm: ES256, issuer: https://issuer.test, audience: [api-a], scope_query_parameter: false }
      - name: eddsa-tokens
        paths: [/eddsa/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { algorithm: EdDSA, issuer: https://issuer.test, audience: [api-a] }
      - name: rs256-tokens
        paths: [/rs256/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { algorithm: RS256, issuer: https://issuer.test, audience: [api-a] }
      - name: rfc9068-tokens
        paths: [/rfc9068/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { algorithm: ES256, token_profile: rfc9068, issuer: https://issuer.test, audience: [api-a] }
      - name: validate
        paths: [/tokens/validate]
        plugins:
          - name: key-auth
          - name: token-validator
            config: { algorithms: ${EVERY_ALGORITHM}, issuer: https://issuer.test, audience: [api-a] }
      - name: introspect
        paths: [/tokens/introspect]
        plugins:
          - name: key-auth
          - name: token-validator
            config: { mode: introspection, algorithms: ${EVERY_ALGORITHM} }
${ORDERS_SERVICE_BEHIND_BACKSTOP}
      - name: orders
        paths: [/orders]
        plugins:
          - name: token-validator
            config: { mode: gate, algorithms: ${EVERY_ALGORITHM}, issuer: https://issuer.test, audience: [api-a] }
      - name: orders-hs256-only
        paths: [/hs256/orders]
        plugins:
          - name: token-validator
            config: { mode: gate }
  - name: kong-jwt-protected
    url: http://api-upstream:8080
    routes:
      - name: api
        paths: [/api]
        plugins:
          - name: jwt
            config: { key_claim_name: kid, claims_to_verify: [exp] }
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
  - username: bob
    keyauth_credentials: [{ key: bob-key }]
  - username: weak
    keyauth_credentials: [{ key: weak-key }]
    jwt_secrets: [{ key: weak-jwt-key, secret: only-twenty-bytes-ok }]
  - username: sidecar-tokens
`;
