import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ALICE_SECRET, ISSUER_KONG_YML } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

describe('token-issuer and the Kong Admin API', () => {
  let kong: KongHarness;

  before(async () => {
    // A short TTL and no stale copies so each test sees the Admin API afresh, a breaker that never opens
    // (03-resilience covers it), one-item pages so lists always paginate.
    kong = await KongHarness.start({
      kongYml: ISSUER_KONG_YML,
      pageSize: 1,
      env: { CACHE_TTL_SECONDS: '1', STALE_DATA_TOLERANCE_MINUTES: '0', KONG_ADMIN_TIMEOUT_MS: '300', CIRCUIT_BREAKER_MIN_CALLS: '100000' },
    });
  });
  after(() => kong.stop());
  beforeEach(async () => {
    kong.adminApi.setFault(undefined);
    await new Promise((r) => setTimeout(r, 1100)); // let cached credentials expire
  });

  const issue = (apikey = 'alice-key') => kong.request({ path: '/tokens', headers: { apikey } });

  test('sends the configured Kong-Admin-Token and reads the consumer and its credentials', async () => {
    const before = kong.adminApi.requests.length;
    assert.equal((await issue()).status, 200);
    const sent = kong.adminApi.requests.slice(before);
    assert.deepEqual(
      sent.map((request) => request.path.replace(/[0-9a-f-]{36}/, '{id}').replace(/\?.*$/, '')),
      ['/consumers/{id}', '/consumers/{id}/jwt'],
    );
    for (const request of sent) assert.equal(request.headers['kong-admin-token'], kong.adminToken);
  });

  test('Admin API down → 503 AUTH_004 with Retry-After, and the process keeps serving', async () => {
    kong.adminApi.setFault({ kind: 'down' });
    const res = await issue();
    assert.equal(res.status, 503);
    assert.equal(res.json().code, 'AUTH_004');
    assert.equal(res.json().title, 'Kong API Unavailable');
    assert.equal(res.headers['retry-after'], '5');
    kong.adminApi.setFault(undefined);
    assert.equal((await issue()).status, 200);
  });

  for (const status of [500, 502, 503, 429] as const) {
    test(`Admin API answering ${status} → 503 AUTH_004, never AUTH_002`, async () => {
      kong.adminApi.setFault({ kind: 'status', status });
      const res = await issue();
      assert.equal(res.status, 503);
      assert.equal(res.json().code, 'AUTH_004');
    });
  }

  test('a slow Admin API is cut off by KONG_ADMIN_TIMEOUT_MS → AUTH_004', async () => {
    kong.adminApi.setFault({ kind: 'slow', delayMs: 3000 });
    const res = await issue();
    assert.equal(res.status, 503);
    assert.equal(res.json().code, 'AUTH_004');
  });

  test('an Admin API that refuses our token is an outage (AUTH_004), not an unknown consumer', async () => {
    const wrongToken = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { KONG_ADMIN_TOKEN: 'wrong-token-0123456789' } });
    try {
      const res = await wrongToken.request({ path: '/tokens', headers: { apikey: 'alice-key' } });
      assert.equal(res.status, 503);
      assert.equal(res.json().code, 'AUTH_004');
    } finally {
      await wrongToken.stop();
    }
  });

  test('follows `next` across pages and signs with the oldest HS256 credential, skipping other algorithms', async () => {
    const dave = kong.store.addConsumer({ username: 'dave' });
    kong.store.addKeyAuthCredential(dave.id, { key: 'dave-key' });
    const rsa = '-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAK\n-----END PUBLIC KEY-----';
    kong.store.addJwtCredential(dave.id, { key: 'dave-rs', algorithm: 'RS256', rsa_public_key: rsa, created_at: 1_000 });
    kong.store.addJwtCredential(dave.id, { key: 'dave-new', secret: 'dave-newer-secret-0123456789abcdef', created_at: 3_000 });
    kong.store.addJwtCredential(dave.id, {
      key: 'dave-old-b',
      secret: 'dave-older-secret-b-0123456789abcdef',
      created_at: 2_000,
      id: 'bbbbbbbb-0000-4000-8000-000000000000',
    });
    kong.store.addJwtCredential(dave.id, {
      key: 'dave-old-a',
      secret: 'dave-older-secret-a-0123456789abcdef',
      created_at: 2_000,
      id: 'aaaaaaaa-0000-4000-8000-000000000000',
    });
    const before = kong.adminApi.requests.length;
    const res = await issue('dave-key');
    assert.equal(res.status, 200);
    const { claims } = verifyHs256(res.json<{ access_token: string }>().access_token, 'dave-older-secret-a-0123456789abcdef');
    assert.equal(claims.key, 'dave-old-a');
    const pages = kong.adminApi.requests.slice(before).filter((r) => r.method === 'GET' && r.path.includes('/jwt'));
    assert.equal(pages.length, 4, 'one request per one-item page');
  });

  test('the credential is cached: a second token within the TTL makes no Admin API call', async () => {
    assert.equal((await issue()).status, 200);
    const before = kong.adminApi.requests.length;
    const res = await issue();
    assert.equal(res.status, 200);
    verifyHs256(res.json<{ access_token: string }>().access_token, ALICE_SECRET);
    assert.equal(kong.adminApi.requests.length, before);
  });
});
