import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, aliceClaims, BOB_SECRET } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import type { GatewayResult } from '../../kong/stand-in/gateway.js';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** alice gets tokens; the orders service (a resource server) introspects them with its own key. */
const KONG_YML = `
_format_version: "3.0"
services:
  - name: token-service
    url: http://127.0.0.1:9
    routes:
      - name: tokens
        paths: [/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { ttl_seconds: 60, issuer: https://issuer.test, audience: [api-a] }
      - name: introspect
        paths: [/tokens/introspect]
        methods: [POST]
        plugins:
          - name: key-auth
          - name: token-validator
            config: { mode: introspection, issuer: https://issuer.test, audience: [api-a] }
      - name: revoke
        paths: [/tokens/revoke]
        methods: [POST]
        plugins:
          - name: key-auth
          - name: token-revocation
      - name: introspect-anonymous
        paths: [/anon/introspect]
        plugins:
          - name: key-auth
            config: { anonymous: anonymous }
          - name: token-validator
            config: { mode: introspection }
consumers:
  - username: alice
    tags: [scope:orders.read]
    keyauth_credentials: [{ key: alice-key }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
  - username: bob
    custom_id: bob-custom
    keyauth_credentials: [{ key: bob-key }]
    jwt_secrets: [{ key: bob-jwt-key, secret: ${BOB_SECRET} }]
  - username: orders-service
    keyauth_credentials: [{ key: orders-service-key }]
  - username: anonymous
`;

describe('token-validator, introspection mode (RFC 7662)', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: KONG_YML });
  });
  after(() => kong.stop());

  const introspect = (body: string, opts: { path?: string; apikey?: string; headers?: Record<string, string> } = {}) =>
    kong.request({
      method: 'POST',
      path: opts.path ?? '/tokens/introspect',
      headers: { ...FORM, apikey: opts.apikey ?? 'orders-service-key', ...opts.headers },
      body,
    });

  const tokenOf = async (apikey: string) =>
    (await kong.request({ path: '/tokens', headers: { apikey } })).json<{ access_token: string }>().access_token;

  function inactive(res: GatewayResult, what: string): void {
    assert.equal(res.status, 200, `${what}: ${res.body}`);
    assert.equal(res.body, '{"active":false}', what);
    assert.equal(res.headers['cache-control'], 'no-store', what);
    assert.equal(res.headers['content-type'], 'application/json', what);
  }

  function oauthError(res: GatewayResult, status: number, error: string, code: string): void {
    assert.equal(res.status, status, res.body);
    assert.deepEqual(Object.keys(res.json()), ['error', 'error_description']);
    assert.equal(res.json().error, error);
    assert.equal(res.headers['x-auth-error-code'], code);
  }

  test('an active token of the issuer: its claims, the consumer as client_id and username, the scopes; Cache-Control: no-store', async () => {
    const token = await tokenOf('alice-key');
    const res = await introspect(`token=${token}&token_type_hint=access_token`);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(body, {
      active: true,
      scope: 'orders.read',
      client_id: kong.store.consumerByIdOrUsername('alice')?.id,
      username: 'alice',
      token_type: 'Bearer',
      exp: claims.exp,
      iat: claims.iat,
      nbf: claims.nbf,
      sub: 'alice',
      aud: 'api-a',
      iss: 'https://issuer.test',
      jti: claims.jti,
    });
    assert.deepEqual(Object.keys(body), [
      'active',
      'scope',
      'client_id',
      'username',
      'token_type',
      'exp',
      'iat',
      'nbf',
      'sub',
      'aud',
      'iss',
      'jti',
    ]);
  });

  test('a token without scopes has no scope member', async () => {
    const body = (await introspect(`token=${await tokenOf('bob-key')}`)).json();
    assert.equal(body.active, true);
    assert.equal('scope' in body, false);
    assert.equal(body.username, 'bob');
  });

  test('every token that is not active is exactly {"active":false}: expired, not yet valid, wrong signature, issuer or audience, malformed, unknown key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Record<string, string> = {
      expired: forgeJwt(HS256, aliceClaims({ iat: now - 600, nbf: now - 600, exp: now - 300 }), ALICE_SECRET),
      'not yet valid': forgeJwt(HS256, aliceClaims({ nbf: now + 600 }), ALICE_SECRET),
      'wrong signature': forgeJwt(HS256, aliceClaims(), BOB_SECRET),
      'another issuer': forgeJwt(HS256, aliceClaims({ iss: 'https://elsewhere.test' }), ALICE_SECRET),
      'another audience': forgeJwt(HS256, aliceClaims({ aud: 'api-b' }), ALICE_SECRET),
      'unknown key': forgeJwt(HS256, aliceClaims({ key: 'no-such-key' }), ALICE_SECRET),
      'no key claim': forgeJwt(HS256, aliceClaims({ key: undefined }), ALICE_SECRET),
      'alg none': `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(aliceClaims())).toString('base64url')}.`,
      malformed: 'not-a-jwt',
      'control characters': '\u0000\u007f',
    };
    for (const [what, token] of Object.entries(cases)) inactive(await introspect(`token=${encodeURIComponent(token)}`), what);
  });

  test('a revoked token is {"active":false}; the caller\'s other tokens stay active', async () => {
    const revoked = await tokenOf('alice-key');
    const kept = await tokenOf('alice-key');
    const revocation = await kong.request({
      method: 'POST',
      path: '/tokens/revoke',
      headers: { ...FORM, apikey: 'alice-key' },
      body: `token=${revoked}`,
    });
    assert.equal(revocation.status, 200, revocation.body);
    inactive(await introspect(`token=${revoked}`), 'revoked');
    assert.equal((await introspect(`token=${kept}`)).json().active, true);
  });

  test('the request itself is checked: a missing or repeated token, a body that is not a form → invalid_request', async () => {
    oauthError(await introspect(''), 400, 'invalid_request', 'AUTH_015');
    oauthError(await introspect('token=a&token=b'), 400, 'invalid_request', 'AUTH_015');
    oauthError(await introspect('token=%zz'), 400, 'invalid_request', 'AUTH_015');
    oauthError(await introspect('{"token":"a"}', { headers: { 'content-type': 'application/json' } }), 400, 'invalid_request', 'AUTH_015');
  });

  test('only a caller Kong authenticated with a credential may introspect: the anonymous consumer is invalid_client', async () => {
    const res = await introspect(`token=${await tokenOf('alice-key')}`, { path: '/anon/introspect', apikey: 'no-such-key' });
    oauthError(res, 401, 'invalid_client', 'AUTH_009');
    assert.equal(res.headers['www-authenticate'], 'Basic realm="kong"');
  });

  test('an Admin API outage is not an answer about the token: 503 temporarily_unavailable, never active:false', async () => {
    const token = forgeJwt(HS256, aliceClaims({ key: 'bob-jwt-key-not-cached' }), BOB_SECRET);
    kong.adminApi.setFault({ kind: 'down' });
    try {
      const res = await introspect(`token=${token}`);
      oauthError(res, 503, 'temporarily_unavailable', res.headers['x-auth-error-code'] ?? '');
      assert.ok(Number(res.headers['retry-after']) >= 1);
    } finally {
      kong.adminApi.setFault(undefined);
    }
  });
});
