import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, aliceClaims, BOB_SECRET, CAROL_SECRET, REVOCATION_KONG_YML } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import type { GatewayResult } from '../../kong/stand-in/gateway.js';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('token-revocation (RFC 7009)', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: REVOCATION_KONG_YML });
  });
  after(() => kong.stop());

  const tokenOf = async (apikey: string) =>
    (await kong.request({ path: '/tokens', headers: { apikey } })).json<{ access_token: string }>().access_token;
  const revoke = (body: string, opts: { apikey?: string; path?: string } = {}) =>
    kong.request({ method: 'POST', path: opts.path ?? '/tokens/revoke', headers: { ...FORM, apikey: opts.apikey ?? 'alice-key' }, body });
  const gate = (token: string, path = '/orders/1') => kong.request({ path, headers: { authorization: `Bearer ${token}` } });

  function revoked200(res: GatewayResult, what: string): void {
    assert.equal(res.status, 200, `${what}: ${res.body}`);
    assert.equal(res.source, 'exit', what);
    assert.equal(res.body, '{}', what);
    assert.equal(res.headers['cache-control'], 'no-store', what);
    assert.equal(res.headers['content-type'], 'application/json', what);
  }

  function oauthError(res: GatewayResult, status: number, body: { error: string; error_description: string }, code: string): void {
    assert.equal(res.status, status, res.body);
    assert.equal(res.body, JSON.stringify(body));
    assert.equal(res.headers['x-auth-error-code'], code);
    assert.equal(res.headers['cache-control'], 'no-store');
  }

  test('POST /tokens/revoke reaches the revocation route, not the /tokens issuer: the longest path wins', async () => {
    revoked200(await revoke('token=not-a-token'), 'routed');
    assert.equal((await kong.request({ method: 'POST', path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
  });

  test("the caller's own token revoked: the gate answers 401 AUTH_011 revoked with the RFC 6750 challenge, the endpoint too", async () => {
    const token = await tokenOf('alice-key');
    assert.equal((await gate(token)).status, 200);
    revoked200(await revoke(`token=${token}&token_type_hint=access_token`), 'own token');
    const res = await gate(token);
    assert.equal(res.status, 401, res.body);
    assert.notEqual(res.source, 'upstream');
    assert.equal(
      res.headers['www-authenticate'],
      'Bearer realm="kong", error="invalid_token", error_description="The token has been revoked"',
    );
    const body = res.json();
    assert.deepEqual(
      { type: body.type, title: body.title, status: body.status, detail: body.detail, code: body.code, extensions: body.extensions },
      {
        type: 'urn:problem-type:auth-service/auth-011',
        title: 'Invalid Token',
        status: 401,
        detail: 'The token has been revoked',
        code: 'AUTH_011',
        extensions: { reason: 'revoked' },
      },
    );
    const endpoint = await kong.request({ path: '/tokens/validate', headers: { apikey: 'alice-key', authorization: `Bearer ${token}` } });
    assert.equal(endpoint.status, 401, endpoint.body);
    assert.equal(endpoint.json().code, 'AUTH_011');
    assert.deepEqual(endpoint.json().extensions, { reason: 'revoked' });
    assert.equal(endpoint.headers['www-authenticate'], res.headers['www-authenticate']);
    assert.equal((await gate(await tokenOf('alice-key'))).status, 200, "alice's other tokens stay valid");
    assert.equal((await gate(token, '/unchecked/orders/1')).status, 200, 'check_revocation: false admits it');
  });

  test("someone else's token: 200 and nothing revoked, it stays valid on the gate", async () => {
    const bobs = await tokenOf('bob-key');
    revoked200(await revoke(`token=${bobs}`), "bob's token revoked by alice");
    assert.equal((await gate(bobs)).status, 200);
  });

  test('garbage, unknown-key, forged, expired and malformed tokens: the same 200 {}, nothing revoked', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Record<string, string> = {
      garbage: 'not-a-jwt',
      'unknown key': forgeJwt(HS256, aliceClaims({ key: 'no-such-key', jti: 'x-1' }), ALICE_SECRET),
      'wrong signature': forgeJwt(HS256, aliceClaims({ jti: 'x-2' }), BOB_SECRET),
      // Expired beyond the largest clock skew a validator allows: no validator admits it any more.
      expired: forgeJwt(HS256, aliceClaims({ iat: now - 900, nbf: now - 900, exp: now - 301, jti: 'x-3' }), ALICE_SECRET),
      'alg none': forgeJwt({ alg: 'none' }, aliceClaims({ jti: 'x-4' }), ''),
    };
    for (const [what, token] of Object.entries(cases)) revoked200(await revoke(`token=${encodeURIComponent(token)}`), what);
  });

  test('exact RFC 6749 §5.2 answers: unsupported_token_type, a missing or repeated token, revoke=all where it is off', async () => {
    const token = await tokenOf('alice-key');
    oauthError(
      await revoke(`token=${token}&token_type_hint=refresh_token`),
      400,
      { error: 'unsupported_token_type', error_description: 'Only access tokens are issued here, and only they can be revoked' },
      'AUTH_017',
    );
    oauthError(await revoke(''), 400, { error: 'invalid_request', error_description: 'The token parameter is required' }, 'AUTH_015');
    oauthError(
      await revoke(`token=${token}&token=${token}`),
      400,
      { error: 'invalid_request', error_description: 'The parameter "token" must be sent once' },
      'AUTH_015',
    );
    oauthError(
      await revoke('revoke=all'),
      400,
      { error: 'invalid_request', error_description: 'revoke=all is not enabled on this route' },
      'AUTH_015',
    );
    assert.equal((await gate(token)).status, 200, 'no refused request revoked anything');
  });

  test('revoke=all: every earlier token of the caller refused, one issued right after in the same iat second valid, other consumers untouched', async () => {
    const alices = await tokenOf('alice-key');
    let sameSecond = 0;
    for (let attempt = 0; attempt < 5 && sameSecond < 2; attempt++) {
      const before = await tokenOf('carol-key');
      revoked200(await revoke('revoke=all', { apikey: 'carol-key', path: '/all/revoke' }), 'revoke=all');
      const afterwards = await tokenOf('carol-key');
      assert.equal((await gate(before)).status, 401, 'the token issued before is revoked');
      assert.deepEqual((await gate(before)).json().extensions, { reason: 'revoked' });
      assert.equal((await gate(afterwards)).status, 200, 'the token issued after the answer is valid');
      if (claimsOf(before).iat === claimsOf(afterwards).iat) sameSecond++;
    }
    assert.ok(sameSecond >= 1, 'at least one round had both tokens in the same iat second');
    assert.equal((await gate(alices)).status, 200, "alice's token is not carol's to revoke");
  });

  test('without a consumer Kong authenticated with a credential (the anonymous consumer): 401 invalid_client', async () => {
    const res = await revoke(`token=${await tokenOf('alice-key')}`, { apikey: 'no-such-key', path: '/anon/revoke' });
    oauthError(
      res,
      401,
      { error: 'invalid_client', error_description: 'Anonymous consumers are not allowed to request tokens' },
      'AUTH_009',
    );
    assert.equal(res.headers['www-authenticate'], 'Basic realm="kong"');
  });

  test('an Admin API outage while finding the credential: 503 temporarily_unavailable with Retry-After, never 200', async () => {
    // Signed with carol's secret under a key nobody has looked up: the look-up must reach the Admin API.
    const token = forgeJwt(HS256, aliceClaims({ key: 'carol-jwt-key-uncached', jti: 'x-5' }), CAROL_SECRET);
    kong.adminApi.setFault({ kind: 'down' });
    try {
      const res = await revoke(`token=${token}`, { apikey: 'carol-key' });
      assert.equal(res.status, 503, res.body);
      assert.equal(res.json().error, 'temporarily_unavailable');
      assert.ok(Number(res.headers['retry-after']) >= 1);
    } finally {
      kong.adminApi.setFault(undefined);
    }
  });

  test('revocations are counted by kind on /metrics; the log line names what was revoked, never the token', async () => {
    const token = await tokenOf('alice-key');
    revoked200(await revoke(`token=${token}`), 'own token');
    const metrics = await (await fetch(`${await kong.server.statusUrl()}/metrics/prometheus`)).text();
    assert.match(metrics, /^kong_auth_token_revocations_total\{revoked="token"\} [1-9]/m);
    assert.match(metrics, /^kong_auth_token_revocations_total\{revoked="nothing"\} [1-9]/m);
    assert.match(metrics, /^kong_auth_tokens_validated_total\{result="revoked"\} [1-9]/m);
    const jti = String(claimsOf(token).jti);
    const line = await kong.server.waitForLogLine((l) => l['event.action'] === 'token-revoke' && l['event.id'] === jti);
    assert.ok(line, 'one token-revoke line names the revoked jti');
    assert.equal(line['event.outcome'], 'success');
    assert.equal(line['revocation.revoked'], 'token');
    assert.equal(line['user.id'], kong.store.consumerByIdOrUsername('alice')?.id);
    assert.ok(!kong.server.capturedOutput.includes(token.split('.')[2] as string), 'the token is never logged');
  });
});
