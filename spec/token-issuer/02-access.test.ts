import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, CAROL_SECRET, ISSUER_KONG_YML } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

/** `count` distinct headers a client may add to push others out of kong.request.get_headers' view. */
const fillerHeaders = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-filler-${i}`, String(i)]));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Token ids are UUIDv7: the issue time in milliseconds first. */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('token-issuer access phase', () => {
  let kong: KongHarness;
  const idOf = (name: string) => {
    const consumer = kong.store.consumerByIdOrUsername(name);
    assert.ok(consumer, `consumer ${name} is seeded`);
    return consumer.id;
  };
  const problem = (res: { json(): Record<string, unknown> }) => res.json();

  before(async () => {
    kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML });
  });
  after(() => kong.stop());

  test('issues a token with the documented body, headers and claims, verifiable with node:crypto HMAC', async () => {
    const res = await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', 'x-request-id': 'req-123' } });
    assert.equal(res.status, 200);
    assert.equal(res.source, 'exit');
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['pragma'], 'no-cache');
    assert.equal(res.headers['x-request-id'], 'req-123');
    const body = res.json<{ access_token: string; token_type: string; expires_in: number }>();
    assert.deepEqual(Object.keys(body), ['access_token', 'token_type', 'expires_in']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 900);

    const { header, claims } = verifyHs256(body.access_token, ALICE_SECRET);
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
    const now = Math.floor(Date.now() / 1000);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.name, 'alice');
    assert.equal(claims.key, 'alice-jwt-key');
    assert.match(String(claims.jti), UUID_V7);
    assert.ok(Math.abs(Number(claims.iat) - now) <= 2);
    assert.equal(claims.nbf, claims.iat);
    assert.equal(Number(claims.exp) - Number(claims.iat), 900);
    assert.equal(claims.iss, 'https://issuer.test');
    assert.equal(claims.aud, 'api-a');
    assert.equal(claims.unique_name, 'corp#alice');
    assert.deepEqual(Object.keys(claims), ['sub', 'name', 'key', 'jti', 'iat', 'nbf', 'exp', 'iss', 'aud', 'unique_name']);
  });

  test('two tokens differ in jti', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })));
    const jti = (res: typeof a) => verifyHs256(res!.json<{ access_token: string }>().access_token, ALICE_SECRET).claims.jti;
    assert.notEqual(jti(a), jti(b));
  });

  test('exp - iat equals ttl_seconds; several audiences become an array; key_claim_name names the key claim', async () => {
    const res = await kong.request({ path: '/multi/tokens', headers: { apikey: 'alice-key' } });
    assert.equal(res.status, 200);
    const body = res.json<{ access_token: string; expires_in: number }>();
    const { claims } = verifyHs256(body.access_token, ALICE_SECRET);
    assert.equal(body.expires_in, 60);
    assert.equal(Number(claims.exp) - Number(claims.iat), 60);
    assert.deepEqual(claims.aud, ['api-a', 'api-b']);
    assert.equal(claims.kid_key, 'alice-jwt-key');
    assert.equal(claims.key, undefined);
    assert.equal(claims.iss, undefined);
    assert.equal(claims.unique_name, undefined);
  });

  test('a consumer renamed in Kong gets its new name at once: the cached copy that names it otherwise is re-read', async () => {
    const erin = kong.store.addConsumer({ username: 'erin-before' });
    kong.store.addKeyAuthCredential(erin.id, { key: 'erin-key' });
    const secret = 'erin-test-secret-0123456789abcdef01';
    kong.store.addJwtCredential(erin.id, { key: 'erin-jwt-key', secret });
    const subjectOf = async () => {
      const res = await kong.request({ path: '/tokens', headers: { apikey: 'erin-key' } });
      assert.equal(res.status, 200, res.body);
      return verifyHs256(res.json<{ access_token: string }>().access_token, secret).claims.sub;
    };
    assert.equal(await subjectOf(), 'erin-before');
    const reads = () => kong.adminApi.requests.filter((r) => r.path === `/consumers/${erin.id}`).length;
    const before = reads();
    kong.store.updateConsumer(erin.id, { username: 'erin-after' });
    assert.equal(await subjectOf(), 'erin-after');
    assert.equal(await subjectOf(), 'erin-after');
    assert.equal(reads(), before + 1, 'one re-read, then the new copy is cached');
  });

  test('a consumer without a username is named by its custom_id', async () => {
    const res = await kong.request({ path: '/tokens', headers: { apikey: 'carol-key' } });
    assert.equal(res.status, 200);
    const { claims } = verifyHs256(res.json<{ access_token: string }>().access_token, CAROL_SECRET);
    assert.equal(claims.sub, 'carol-custom');
    assert.equal(claims.name, 'carol-custom');
  });

  test('reads all headers with ONE get_headers round trip, then the credential Kong authenticated, which names its consumer', async () => {
    const before = kong.rpcCalls.length;
    await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } });
    const calls = kong.rpcCalls.slice(before);
    assert.deepEqual(calls, ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.StepCredential']);
  });

  test('AUTH_001 with the documented problem shape when no consumer headers reach the plugin', async () => {
    const res = await kong.request({ path: '/open/tokens', headers: { 'x-request-id': 'req-001' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal(res.headers['x-request-id'], 'req-001');
    const body = problem(res);
    assert.deepEqual(Object.keys(body), ['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId', 'timestamp', 'extensions']);
    assert.equal(body.type, 'urn:problem-type:auth-service/auth-001');
    assert.equal(body.title, 'Missing Consumer Headers');
    assert.equal(body.status, 401);
    assert.equal(body.code, 'AUTH_001');
    assert.equal(body.instance, '/open/tokens');
    assert.equal(body.requestId, 'req-001');
    assert.ok(!Number.isNaN(Date.parse(String(body.timestamp))));
  });

  test('AUTH_001 when X-Consumer-ID is spoofed on a route without an auth plugin', async () => {
    const res = await kong.request({ path: '/open/tokens', headers: { 'x-consumer-id': idOf('alice'), 'x-consumer-username': 'alice' } });
    assert.equal(res.status, 401);
    assert.equal(problem(res).code, 'AUTH_001');
    assert.deepEqual(problem(res).extensions, { reason: 'consumer_mismatch' });
  });

  test('AUTH_007 when a consumer header exceeds 256 characters; exactly 256 is accepted', async () => {
    const id = idOf('alice');
    const long = await kong.request({ path: '/trusting/tokens', headers: { 'x-consumer-id': id, 'x-consumer-username': 'a'.repeat(257) } });
    assert.equal(long.status, 400);
    assert.equal(problem(long).code, 'AUTH_007');
    assert.equal(problem(long).title, 'Invalid Request Format');
    const edge = await kong.request({ path: '/trusting/tokens', headers: { 'x-consumer-id': id, 'x-consumer-username': 'a'.repeat(256) } });
    assert.equal(edge.status, 200);
  });

  test('AUTH_007 for control characters in a consumer header', async () => {
    const res = await kong.request({
      path: '/trusting/tokens',
      headers: { 'x-consumer-id': idOf('alice'), 'x-consumer-username': 'ali\tce' },
    });
    assert.equal(res.status, 400);
    assert.equal(problem(res).code, 'AUTH_007');
  });

  test('AUTH_007 for a consumer header sent several times, and for a bad value among several', async () => {
    const twice = await kong.request({
      path: '/trusting/tokens',
      headers: { 'x-consumer-id': [idOf('alice'), idOf('bob')], 'x-consumer-username': 'alice' },
    });
    assert.equal(problem(twice).code, 'AUTH_007');
    const badSecond = await kong.request({
      path: '/trusting/tokens',
      headers: { 'x-consumer-id': idOf('alice'), 'x-consumer-username': ['alice', 'x\u0001'] },
    });
    assert.equal(problem(badSecond).code, 'AUTH_007');
  });

  test('AUTH_009 for the anonymous consumer', async () => {
    const res = await kong.request({ path: '/anon/tokens' });
    assert.equal(res.status, 401);
    assert.equal(problem(res).code, 'AUTH_009');
    assert.equal(problem(res).title, 'Anonymous Consumer');
  });

  test("no token for the anonymous consumer whose X-Anonymous-Consumer header a client pushed out of get_headers' view", async () => {
    // Kong sets X-Consumer-ID/-Username in place and appends X-Anonymous-Consumer after the 100th header.
    const before = kong.adminApi.requests.length;
    const res = await kong.request({
      path: '/anon/tokens',
      headers: { 'x-consumer-id': 'x', 'x-consumer-username': 'x', ...fillerHeaders(100) },
    });
    assert.equal(res.status, 400, res.body);
    assert.equal(problem(res).code, 'AUTH_007');
    assert.deepEqual(kong.adminApi.requests.slice(before), [], 'no credential read or provisioned');
    assert.equal(kong.store.jwtCredentialsOf(idOf('anonymous')).length, 0);
  });

  test("AUTH_007 when the header map reaches Kong's 100-header limit: nothing is decided on a partial view", async () => {
    const full = await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', ...fillerHeaders(98) } });
    assert.equal(full.status, 400, full.body);
    assert.equal(problem(full).code, 'AUTH_007');
    assert.deepEqual(problem(full).extensions, { reason: 'too_many_headers' });
    const fits = await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', ...fillerHeaders(90) } });
    assert.equal(fits.status, 200, fits.body);
  });

  test('AUTH_002 for a consumer Kong does not know (headers trusted)', async () => {
    const res = await kong.request({
      path: '/trusting/tokens',
      headers: { 'x-consumer-id': '00000000-0000-4000-8000-000000000000', 'x-consumer-username': 'ghost' },
    });
    assert.equal(res.status, 401);
    assert.equal(problem(res).code, 'AUTH_002');
  });

  test('AUTH_007 when an unverified X-Consumer-ID is not a consumer id (a username, ".", ".."): nothing reaches the Admin API', async () => {
    const before = kong.adminApi.requests.length;
    for (const id of ['alice', '.', '..', '../jwts', `${idOf('alice')}/jwt`]) {
      const res = await kong.request({ path: '/trusting/tokens', headers: { 'x-consumer-id': id, 'x-consumer-username': 'alice' } });
      assert.equal(res.status, 400, id);
      assert.equal(problem(res).code, 'AUTH_007', id);
      assert.deepEqual(problem(res).extensions, { reason: 'malformed_consumer_id', header: 'x-consumer-id' });
    }
    assert.deepEqual(kong.adminApi.requests.slice(before), []);
  });

  test('an unverified X-Consumer-ID never provisions a credential, even with provision_credentials on', async () => {
    const bob = idOf('bob');
    const res = await kong.request({ path: '/trusting/tokens', headers: { 'x-consumer-id': bob, 'x-consumer-username': 'bob' } });
    assert.equal(res.status, 401);
    assert.equal(problem(res).code, 'AUTH_002');
    assert.equal(kong.store.jwtCredentialsOf(bob).length, 0);
    assert.ok(!kong.adminApi.requests.some((r) => r.method === 'POST'), 'no credential was created');
  });

  test('AUTH_002 when the consumer has no HS256 credential and provisioning is off', async () => {
    const res = await kong.request({ path: '/strict/tokens', headers: { apikey: 'bob-key' } });
    assert.equal(res.status, 401);
    assert.equal(problem(res).code, 'AUTH_002');
    assert.equal(kong.store.jwtCredentialsOf(idOf('bob')).length, 0);
  });

  test('provisions an HS256 credential for a consumer without one and signs with it', async () => {
    const res = await kong.request({ path: '/tokens', headers: { apikey: 'bob-key' } });
    assert.equal(res.status, 200);
    const [created] = kong.store.jwtCredentialsOf(idOf('bob'));
    assert.ok(created);
    assert.equal(created.algorithm, 'HS256');
    assert.match(created.key, /^[0-9a-f]{32}$/);
    assert.match(created.secret, /^[0-9a-f]{64}$/);
    const { claims } = verifyHs256(res.json<{ access_token: string }>().access_token, created.secret);
    assert.equal(claims.key, created.key);
  });

  test("request_id_source kong answers with Kong's own request id", async () => {
    const res = await kong.request({ path: '/kong-id/tokens', headers: { apikey: 'alice-key', 'x-request-id': 'ignored' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-request-id'], res.headers['x-kong-request-id']);
  });

  test('a new UUID request id when the caller sent none, or one unsafe to echo', async () => {
    const none = await kong.request({ path: '/open/tokens' });
    assert.match(String(problem(none).requestId), UUID);
    assert.equal(none.headers['x-request-id'], problem(none).requestId);
    const unsafe = await kong.request({ path: '/open/tokens', headers: { 'x-request-id': 'a b' } });
    assert.match(String(problem(unsafe).requestId), UUID);
  });

  test('AUTH_006 with Retry-After and RateLimit headers on the request past the per-minute limit', async () => {
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await kong.request({ path: '/limited/tokens', headers: { apikey: 'carol-key' } }));
    const [first, second, third] = answers;
    assert.equal(first!.status, 200);
    assert.equal(first!.headers['ratelimit-limit'], '2');
    assert.equal(first!.headers['ratelimit-remaining'], '1');
    assert.equal(second!.status, 200);
    assert.equal(third!.status, 429);
    assert.equal(problem(third!).code, 'AUTH_006');
    assert.equal(third!.headers['ratelimit-remaining'], '0');
    const retryAfter = Number(third!.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal(third!.headers['ratelimit-reset'], third!.headers['retry-after']);
  });

  test('a PDK call that fails inside the handler still answers AUTH_008, never lets the request through', async () => {
    const res = await kong.request({
      path: '/tokens',
      headers: { apikey: 'alice-key' },
      pdkFaults: { 'kong.client.get_credential': 'injected failure' },
    });
    assert.equal(res.status, 500);
    assert.equal(res.source, 'exit');
    assert.equal(problem(res).code, 'AUTH_008');
    assert.equal(problem(res).detail, 'An unexpected internal server error occurred');
    assert.ok(!res.body.includes('injected failure'));
  });
});
