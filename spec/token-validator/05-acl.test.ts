import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACL_KONG_YML, ALICE_SECRET, BOB_SECRET } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const tokenOf = (sub: string, secret: string) => {
  const iat = Math.floor(Date.now() / 1000);
  return forgeJwt(HS256, { sub, key: `${sub}-jwt-key`, jti: `jti-acl-${sub}`, iat, nbf: iat, exp: iat + 300 }, secret);
};
const bearer = (sub: string, secret: string) => ({ authorization: `Bearer ${tokenOf(sub, secret)}` });

// Kong runs a request's plugins by descending priority: jwt 1450, key-auth 1250, token-validator 1000, acl 950.
describe("Kong's acl plugin (priority 950) after an auth plugin", () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: ACL_KONG_YML });
  });
  after(() => kong.stop());

  test('key-auth (1250) runs first: a consumer in an allowed group reaches the upstream with X-Consumer-Groups', async () => {
    const res = await kong.request({ path: '/reports', headers: { apikey: 'alice-key' } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.source, 'upstream');
    assert.deepEqual(res.upstreamHeaders!['x-consumer-groups'], ['orders-readers, staff']);
  });

  test('a consumer in no allowed group gets 403 "You cannot consume this service"', async () => {
    const res = await kong.request({ path: '/reports', headers: { apikey: 'bob-key' } });
    assert.equal(res.status, 403);
    assert.equal(res.json().message, 'You cannot consume this service');
    assert.equal(res.upstreamHeaders, undefined);
  });

  test('with no consumer in the context acl answers 401 "Unauthorized" with Kong\'s request id', async () => {
    const res = await kong.request({ path: '/open/reports' });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { message: 'Unauthorized', request_id: res.headers['x-kong-request-id'] });
  });
});

describe('token-validator gate (priority 1000, like an auth plugin) and acl (950) after it on the same route', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: ACL_KONG_YML });
  });
  after(() => kong.stop());

  test("the plugin info declares 1000 for the validator: below every auth plugin, above acl's 950 and rate-limiting's 910", () => {
    assert.equal(kong.infos['token-validator']?.Priority, 1000);
  });

  test('acl sees the consumer kong.client.authenticate set: an allowed group reaches the upstream with X-Consumer-Groups', async () => {
    const res = await kong.request({ path: '/orders/42', headers: bearer('alice', ALICE_SECRET) });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.source, 'upstream');
    const upstream = res.upstreamHeaders!;
    assert.deepEqual(upstream['x-consumer-username'], ['alice']);
    assert.deepEqual(upstream['x-consumer-groups'], ['orders-readers, staff']);
  });

  test('a consumer in no allowed group gets 403 "You cannot consume this service" and never reaches the upstream', async () => {
    const res = await kong.request({ path: '/orders/42', headers: bearer('bob', BOB_SECRET) });
    assert.equal(res.status, 403, res.body);
    assert.equal(res.json().message, 'You cannot consume this service');
    assert.equal(res.upstreamHeaders, undefined);
  });

  test('a deny list: a denied group gets 403, any other passes without X-Consumer-Groups (hide_groups_header)', async () => {
    const denied = await kong.request({ path: '/deny/orders/42', headers: bearer('bob', BOB_SECRET) });
    assert.equal(denied.status, 403, denied.body);
    const allowed = await kong.request({ path: '/deny/orders/42', headers: bearer('alice', ALICE_SECRET) });
    assert.equal(allowed.status, 200, allowed.body);
    assert.equal(allowed.upstreamHeaders!['x-consumer-groups'], undefined);
  });

  test('no token: the gate refuses before acl runs, with its own answer', async () => {
    const res = await kong.request({ path: '/orders/42' });
    assert.notEqual(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/problem+json');
  });
});
