import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, aliceClaims, BOB_SECRET, VALIDATOR_KONG_YML } from '../support/fixtures.js';
import { forgeJwt, nonCanonicalSpellings } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const now = () => Math.floor(Date.now() / 1000);
const claims = (overrides: Record<string, unknown> = {}) => aliceClaims({ jti: 'jti-gate-1', ...overrides });

describe('token-validator, gate mode', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: VALIDATOR_KONG_YML });
  });
  after(() => kong.stop());

  test('passes to the upstream with the consumer headers set in ONE set_headers call, client-sent copies removed, Kong told the consumer', async () => {
    const token = forgeJwt(HS256, claims({ scope: 'orders:read orders:write' }), ALICE_SECRET);
    const before = kong.rpcCalls.length;
    const res = await kong.request({
      path: '/orders/42',
      headers: {
        authorization: `Bearer ${token}`,
        'x-consumer-id': 'spoofed-id',
        'x-consumer-username': 'admin',
        'x-anonymous-consumer': 'true',
        'x-consumer-custom-id': 'spoofed',
      },
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.source, 'upstream');
    const alice = kong.store.consumerByIdOrUsername('alice')!;
    const upstream = res.upstreamHeaders!;
    assert.deepEqual(upstream['x-consumer-id'], [alice.id]);
    assert.deepEqual(upstream['x-consumer-username'], ['alice']);
    assert.deepEqual(upstream['x-token-id'], ['jti-gate-1']);
    assert.deepEqual(upstream['x-token-scopes'], ['orders:read orders:write']);
    assert.equal(upstream['x-anonymous-consumer'], undefined);
    assert.equal(upstream['x-consumer-custom-id'], undefined);
    assert.equal(upstream['x-request-id']?.length, 1, 'a request id passes upstream when the client sent none');
    assert.equal(res.authenticatedConsumer?.id, alice.id, 'kong.client.authenticate ran');
    const calls = kong.rpcCalls.slice(before);
    assert.equal(calls.filter((c) => c === 'plugin.HandleEvent').length, 1);
    assert.equal(res.authenticatedCredential?.kong_auth_sidecar_gate, true, 'the credential Kong holds is marked for the backstop');
    // get_headers (HandleEvent's answer), set_headers (ours set, client copies cleared), then authenticate (the mark, last), ret.
    assert.deepEqual(
      calls.filter((c) => c !== 'plugin.StartInstance'),
      ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.Step', 'plugin.StepCredential'],
    );
  });

  test('a consumer with a custom_id and no scope claim: no X-Token-Scopes, a client copy of it removed', async () => {
    const token = forgeJwt(HS256, claims({ sub: 'bob', key: 'bob-jwt-key' }), BOB_SECRET);
    const res = await kong.request({
      path: '/orders/1',
      headers: { authorization: `Bearer ${token}`, 'x-token-scopes': 'admin', 'x-request-id': 'client-req-1' },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.upstreamHeaders!['x-consumer-username'], ['bob']);
    assert.equal(res.upstreamHeaders!['x-token-scopes'], undefined);
    assert.deepEqual(res.upstreamHeaders!['x-request-id'], ['client-req-1']);
  });

  test('refusals never reach the upstream: missing token, bad signature, key nobody has, expired', async () => {
    const cases: Array<[Record<string, string>, number, string, string | undefined]> = [
      [{}, 400, 'AUTH_012', undefined],
      [{ authorization: `Bearer ${forgeJwt(HS256, claims(), 'wrong-secret-0123456789')}` }, 400, 'AUTH_011', 'signature'],
      [
        { authorization: `Bearer ${forgeJwt(HS256, claims({ key: 'nobody-has-this-key' }), ALICE_SECRET)}` },
        400,
        'AUTH_011',
        'key_mismatch',
      ],
      [{ authorization: `Bearer ${forgeJwt(HS256, claims({ exp: now() - 5 }), ALICE_SECRET)}` }, 401, 'AUTH_010', undefined],
      [{ authorization: `Bearer ${forgeJwt({ alg: 'none' }, claims(), '')}` }, 400, 'AUTH_011', 'algorithm'],
    ];
    for (const [headers, status, code, reason] of cases) {
      const res = await kong.request({ path: '/orders/1', headers });
      assert.equal(res.status, status, `${code}: ${res.body}`);
      assert.equal(res.source, 'exit');
      assert.equal(res.json().code, code);
      if (reason) assert.equal((res.json().extensions as { reason: string }).reason, reason);
      assert.ok(res.headers['www-authenticate']?.startsWith('Bearer realm="kong"'));
    }
  });

  test('required_scopes: all of them, or any with scopes_match any, from scope or an scp array; else 403 with the exact challenge', async () => {
    const gate = (path: string, scopes: Record<string, unknown>) =>
      kong.request({
        path,
        headers: { authorization: `Bearer ${forgeJwt(HS256, claims({ iss: undefined, aud: undefined, ...scopes }), ALICE_SECRET)}` },
      });
    assert.equal((await gate('/scoped/all/1', { scope: 'orders:write orders:read' })).source, 'upstream');
    assert.equal((await gate('/scoped/all/1', { scp: ['orders:read', 'orders:write'] })).source, 'upstream');
    assert.equal((await gate('/scoped/any/1', { scp: 'orders:admin' })).source, 'upstream');
    assert.equal((await gate('/scoped/any/1', { scope: 'orders:read' })).source, 'upstream');
    for (const [path, scopes, required, match] of [
      ['/scoped/all/1', { scope: 'orders:read' }, 'orders:read orders:write', 'all'],
      ['/scoped/all/1', {}, 'orders:read orders:write', 'all'],
      ['/scoped/any/1', { scp: ['orders:write'] }, 'orders:read orders:admin', 'any'],
    ] as const) {
      const res = await gate(path, scopes);
      assert.equal(res.status, 403, `${path} ${JSON.stringify(scopes)}: ${res.body}`);
      assert.equal(res.source, 'exit');
      assert.equal(res.upstreamHeaders, undefined);
      assert.equal(res.json().code, 'AUTH_013');
      assert.deepEqual(res.json().extensions, { requiredScopes: required.split(' '), scopesMatch: match });
      assert.equal(res.headers['www-authenticate'], `Bearer realm="kong", error="insufficient_scope", scope="${required}"`);
    }
  });

  test('identity headers in underscore and mixed spellings never reach the upstream', async () => {
    const token = forgeJwt(HS256, claims({ scope: 'orders:read' }), ALICE_SECRET);
    const res = await kong.request({
      path: '/orders/1',
      headers: {
        authorization: `Bearer ${token}`,
        x_token_scopes: 'admin orders:delete',
        'x_consumer-custom_id': 'root',
        x_credential_identifier: 'forged',
        'x-anonymous_consumer': 'false',
        x_consumer_username: 'admin',
      },
    });
    assert.equal(res.status, 200, res.body);
    const names = Object.keys(res.upstreamHeaders!).filter((name) => /consumer|credential|token/.test(name));
    assert.deepEqual(names.sort(), ['x-consumer-id', 'x-consumer-username', 'x-token-id', 'x-token-scopes']);
    assert.deepEqual(res.upstreamHeaders!['x-token-scopes'], ['orders:read']);
  });

  test("a request at Kong's 100-header limit is refused before anything is decided on a partial view", async () => {
    const token = forgeJwt(HS256, claims(), ALICE_SECRET);
    const filler = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-filler-${i}`, String(i)]));
    const res = await kong.request({
      path: '/orders/1',
      headers: { authorization: `Bearer ${token}`, ...filler, 'x-token-scopes': 'admin', 'x-consumer-custom-id': 'root' },
    });
    assert.equal(res.status, 400, res.body);
    assert.equal(res.source, 'exit');
    assert.equal(res.upstreamHeaders, undefined);
    assert.deepEqual(res.json().extensions, { reason: 'too_many_headers' });
  });

  test('as in endpoint mode: a time claim no date can hold is AUTH_011 malformed, the year 9999 is not', async () => {
    for (const overrides of [{ exp: 1e308 }, { exp: 253402300800 }, { iat: 1e20 }, { nbf: -1 }]) {
      const res = await kong.request({
        path: '/orders/1',
        headers: { authorization: `Bearer ${forgeJwt(HS256, claims(overrides), ALICE_SECRET)}` },
      });
      assert.equal(res.status, 400, `${JSON.stringify(overrides)}: ${res.body}`);
      assert.deepEqual([res.json().code, res.json().extensions], ['AUTH_011', { reason: 'malformed' }]);
    }
    const lastSecond = await kong.request({
      path: '/orders/1',
      headers: { authorization: `Bearer ${forgeJwt(HS256, claims({ exp: 253402300799 }), ALICE_SECRET)}` },
    });
    assert.equal(lastSecond.status, 200, lastSecond.body);
  });

  test('as in endpoint mode: only canonical base64url, so "=" padding or a respelled last character is AUTH_011 malformed', async () => {
    const token = forgeJwt(HS256, claims(), ALICE_SECRET);
    assert.equal((await kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } })).status, 200);
    for (const spelling of [...nonCanonicalSpellings(token), `${token}=`]) {
      const res = await kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${spelling}` } });
      assert.equal(res.status, 400, `${spelling}: ${res.body}`);
      assert.equal(res.source, 'exit');
      assert.deepEqual([res.json().code, res.json().extensions], ['AUTH_011', { reason: 'malformed' }]);
    }
  });

  test('the token can come from a query parameter or a cookie (WebSocket clients)', async () => {
    const token = forgeJwt(HS256, claims({ iss: undefined, aud: undefined }), ALICE_SECRET);
    const byQuery = await kong.request({ path: `/ws/stream?jwt=${token}` });
    assert.equal(byQuery.status, 200, byQuery.body);
    const byCookie = await kong.request({ path: '/ws/stream', headers: { cookie: `theme=dark; session_token=${token}` } });
    assert.equal(byCookie.status, 200, byCookie.body);
    const byHeader = await kong.request({ path: '/ws/stream', headers: { 'x-token': `Bearer ${token}` } });
    assert.equal(byHeader.status, 200);
    assert.equal(
      (await kong.request({ path: '/ws/stream', headers: { authorization: `Bearer ${token}` } })).json().code,
      'AUTH_012',
      'only the configured places',
    );
  });

  test('run_on_preflight false lets OPTIONS through without a token, and without client identity headers', async () => {
    const res = await kong.request({
      method: 'OPTIONS',
      path: '/cors/x',
      headers: { 'x-consumer-username': 'admin', x_token_scopes: 'admin' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.source, 'upstream');
    assert.equal(res.upstreamHeaders!['x-consumer-username'], undefined);
    assert.equal(res.upstreamHeaders!['x_token_scopes'], undefined);
    assert.equal((await kong.request({ method: 'GET', path: '/cors/x' })).json().code, 'AUTH_012');
  });

  test('rotation in gate mode: the new secret works on the first token', async () => {
    const bobToken = (secret: string) => forgeJwt(HS256, claims({ sub: 'bob', key: 'bob-jwt-key' }), secret);
    assert.equal((await kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${bobToken(BOB_SECRET)}` } })).status, 200);
    const [credential] = kong.store.jwtCredentialsOf(kong.store.consumerByIdOrUsername('bob')!.id);
    kong.store.rotateJwtSecret(credential!.id, 'bob-gate-rotated-secret-012345');
    kong.secretsAlsoToHide.push('bob-gate-rotated-secret-012345');
    const res = await kong.request({
      path: '/orders/1',
      headers: { authorization: `Bearer ${bobToken('bob-gate-rotated-secret-012345')}` },
    });
    assert.equal(res.status, 200, res.body);
  });

  test('fail closed: with the plugin server killed, the backstop answers 503 and the upstream is never reached', async () => {
    const token = forgeJwt(HS256, claims(), ALICE_SECRET);
    assert.equal((await kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } })).status, 200);
    await kong.server.crash();
    const res = await kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 503);
    assert.equal(res.source, 'exit');
    assert.equal(res.upstreamHeaders, undefined);
    assert.deepEqual(res.json(), { message: 'authentication gate unavailable' });
    assert.ok(
      res.kongLog.some((l) => l.level === 'err'),
      'Kong logged the failed call and went on (fail open)',
    );
    await kong.server.start();
  });
});
