import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, aliceClaims, VALIDATOR_KONG_YML } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const token = () => forgeJwt(HS256, aliceClaims({ jti: 'jti-backstop-1', scope: 'orders:read' }), ALICE_SECRET);

/** Client-sent identity headers in dash, underscore and mixed spellings. */
const SPOOFED = {
  'X-Consumer-ID': 'spoofed-id',
  'x-consumer-username': 'admin',
  X_Token_Scopes: 'admin',
  'X-Consumer_Custom-ID': 'root',
  'x_CREDENTIAL-identifier': 'forged',
  'X-Anonymous-Consumer': 'false',
  'x-token-id': 'forged',
};
const IDENTITY = /^x[-_](consumer|credential|anonymous|token)[-_]/i;

describe('token-validator gate, upstream_headers: backstop (kong/backstop.lua sets the headers)', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: VALIDATOR_KONG_YML });
  });
  after(() => kong.stop());

  test("the backstop clears every spelling the client sent and sets the gate's headers: one call fewer", async () => {
    const before = kong.rpcCalls.length;
    const res = await kong.request({ path: '/backstop/orders/1', headers: { authorization: `Bearer ${token()}`, ...SPOOFED } });
    assert.equal(res.status, 200, res.body);
    const alice = kong.store.consumerByIdOrUsername('alice')!;
    const upstream = res.upstreamHeaders!;
    assert.deepEqual(
      Object.keys(upstream)
        .filter((name) => IDENTITY.test(name))
        .sort(),
      ['x-consumer-id', 'x-consumer-username', 'x-token-id', 'x-token-scopes'],
    );
    assert.deepEqual(upstream['x-consumer-id'], [alice.id]);
    assert.deepEqual(upstream['x-consumer-username'], ['alice']);
    assert.deepEqual(upstream['x-token-id'], ['jti-backstop-1']);
    assert.deepEqual(upstream['x-token-scopes'], ['orders:read']);
    assert.equal(upstream['x-request-id']?.length, 1);
    assert.equal(res.authenticatedConsumer?.id, alice.id);
    assert.equal(res.authenticatedCredential?.kong_auth_sidecar_gate, undefined, 'not the mark an older backstop accepts');
    // get_headers (HandleEvent's answer), then authenticate with the headers (StepCredential), ret: no set_headers.
    const calls = kong.rpcCalls.slice(before).filter((c) => c !== 'plugin.StartInstance');
    assert.deepEqual(calls, ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.StepCredential']);
  });

  test('refusals are unchanged: the gate answers, the upstream is never reached', async () => {
    const missing = await kong.request({ path: '/backstop/orders/1', headers: SPOOFED });
    assert.equal(missing.status, 400);
    assert.equal(missing.json().code, 'AUTH_012');
    const bad = await kong.request({
      path: '/backstop/orders/1',
      headers: { authorization: `Bearer ${forgeJwt(HS256, aliceClaims(), 'wrong-secret-0123456789')}` },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().code, 'AUTH_011');
    assert.equal(bad.upstreamHeaders, undefined);
  });

  test('a preflight let through unchecked still carries no client identity headers', async () => {
    const res = await kong.request({ method: 'OPTIONS', path: '/backstop/cors/x', headers: SPOOFED });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(
      Object.keys(res.upstreamHeaders!).filter((name) => IDENTITY.test(name)),
      [],
    );
  });

  test('behind the one-line backstop, a backstop-mode gate fails closed: 503, never the client headers', async () => {
    const res = await kong.request({ path: '/legacy/backstop/1', headers: { authorization: `Bearer ${token()}`, ...SPOOFED } });
    assert.equal(res.status, 503, res.body);
    assert.deepEqual(res.json(), { message: 'authentication gate unavailable' });
    assert.equal(res.upstreamHeaders, undefined);
  });

  test('the one-line backstop still admits a sidecar-mode gate', async () => {
    const res = await kong.request({ path: '/legacy/sidecar/1', headers: { authorization: `Bearer ${token()}`, ...SPOOFED } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.upstreamHeaders!['x-consumer-username'], ['alice']);
    assert.equal(res.upstreamHeaders!['x_token_scopes'], undefined);
  });

  test('with the plugin server killed, the backstop answers 503 and the upstream is never reached', async () => {
    await kong.server.crash();
    const res = await kong.request({ path: '/backstop/orders/1', headers: { authorization: `Bearer ${token()}`, ...SPOOFED } });
    assert.equal(res.status, 503);
    assert.deepEqual(res.json(), { message: 'authentication gate unavailable' });
    assert.equal(res.upstreamHeaders, undefined);
    await kong.server.start();
  });
});
