import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { KongHarness, type HarnessOptions } from '../../kong/stand-in/kong-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function harness(t: { after(fn: () => Promise<void>): void }, env: Record<string, string>, extra: Partial<HarnessOptions> = {}) {
  const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { KONG_ADMIN_RETRY_DELAY_MS: '20', ...env }, ...extra });
  t.after(() => kong.stop());
  return kong;
}

const issue = (kong: KongHarness, apikey = 'alice-key') => kong.request({ path: '/tokens', headers: { apikey } });
const adminGets = (kong: KongHarness) => kong.adminApi.requests.filter((r) => r.method === 'GET').length;

describe('resilience against Kong Admin API failures', () => {
  test('a warm consumer keeps getting tokens while the Admin API is down, for as long as the stale tolerance', async (t) => {
    const kong = await harness(t, { CACHE_TTL_SECONDS: '1', STALE_DATA_TOLERANCE_MINUTES: '0.05' }); // 3 s
    assert.equal((await issue(kong)).status, 200);
    kong.adminApi.setFault({ kind: 'down' });
    await sleep(1200);
    const during = await issue(kong);
    assert.equal(during.status, 200, 'the stale copy stands in');
    await sleep(2500);
    const after = await issue(kong);
    assert.equal(after.status, 503, 'past the tolerance');
    assert.ok(['AUTH_004', 'AUTH_005'].includes(String(after.json().code)));
  });

  test('a cold consumer gets 503 AUTH_004 with Retry-After while the Admin API is down', async (t) => {
    const kong = await harness(t, {});
    kong.adminApi.setFault({ kind: 'down' });
    const res = await issue(kong);
    assert.equal(res.status, 503);
    assert.equal(res.json().code, 'AUTH_004');
    assert.equal(res.headers['retry-after'], '5');
  });

  test('the breaker opens at 5 failed calls in 10 s even at low traffic; then AUTH_005 with Retry-After until it half-opens', async (t) => {
    const kong = await harness(t, { KONG_ADMIN_RETRIES: '0', CIRCUIT_BREAKER_HALF_OPEN_AFTER_MS: '20000' });
    kong.adminApi.setFault({ kind: 'status', status: 500 });
    for (let call = 1; call <= 5; call++) {
      const res = await issue(kong, call % 2 ? 'alice-key' : 'carol-key');
      assert.equal(res.json().code, 'AUTH_004', `call ${call} reaches the Admin API`);
    }
    const before = adminGets(kong);
    const refused = await issue(kong, 'bob-key');
    assert.equal(refused.status, 503);
    assert.equal(refused.json().code, 'AUTH_005');
    assert.equal(refused.json().title, 'Circuit Breaker Open');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 20, `Retry-After ${retryAfter}`);
    assert.equal(adminGets(kong), before, 'an open breaker sends nothing to the Admin API');
    assert.equal(kong.adminApi.requests.filter((r) => r.method === 'POST').length, 0, 'no provisioning while the breaker is open');
  });

  test('the breaker half-opens after CIRCUIT_BREAKER_HALF_OPEN_AFTER_MS and closes again when the Admin API recovers', async (t) => {
    const kong = await harness(t, { KONG_ADMIN_RETRIES: '0', CIRCUIT_BREAKER_HALF_OPEN_AFTER_MS: '1000' });
    kong.adminApi.setFault({ kind: 'status', status: 503 });
    for (let call = 0; call < 5; call++) await issue(kong);
    assert.equal((await issue(kong)).json().code, 'AUTH_005');
    kong.adminApi.setFault(undefined);
    await sleep(1100);
    assert.equal((await issue(kong)).status, 200, 'the half-open trial call succeeds');
    assert.equal((await issue(kong, 'carol-key')).status, 200, 'closed again');
  });

  test('a slow Admin API is cut off per attempt: the answer comes after the timeout and retries, never hangs', async (t) => {
    const kong = await harness(t, { KONG_ADMIN_TIMEOUT_MS: '500', KONG_ADMIN_RETRIES: '2' });
    kong.adminApi.setFault({ kind: 'slow', delayMs: 5000 });
    const res = await issue(kong);
    assert.equal(res.status, 503);
    assert.equal(res.json().code, 'AUTH_004');
    assert.equal(adminGets(kong), 3, 'the first attempt and two retries');
  });

  test('20 concurrent requests for one cold consumer make exactly one Admin API call per entity: the consumer and its credentials', async (t) => {
    const kong = await harness(t, {});
    const answers = await Promise.all(Array.from({ length: 20 }, () => issue(kong)));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(20).fill(200),
    );
    const paths = kong.adminApi.requests.filter((r) => r.method === 'GET').map((r) => r.path.replace(/\?.*$/, ''));
    assert.deepEqual(paths.map((path) => path.replace(/[0-9a-f-]{36}/, '{id}')).sort(), ['/consumers/{id}', '/consumers/{id}/jwt']);
  });

  test('16 cold consumers at once, each its own Admin API calls in flight together: all answered, and no warning on stderr', async (t) => {
    const names = Array.from({ length: 16 }, (_, i) => `burst-${i}`);
    const kongYml =
      ISSUER_KONG_YML + names.map((name) => `  - username: ${name}\n    keyauth_credentials: [{ key: ${name}-key }]\n`).join('');
    const kong = await harness(t, {}, { kongYml });
    kong.adminApi.setFault({ kind: 'slow', delayMs: 300 }); // the look-ups overlap
    const answers = await Promise.all(names.map((name) => issue(kong, `${name}-key`)));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(16).fill(200),
    );
    // Node prints a MaxListenersExceededWarning when more than 10 calls share one parent AbortSignal.
    assert.doesNotMatch(kong.server.capturedOutput, /Warning/);
  });

  test('a POST is never retried: one failed provisioning attempt answers AUTH_004', async (t) => {
    const kong = await harness(t, { KONG_ADMIN_RETRIES: '2' });
    assert.equal((await issue(kong, 'bob-key')).status, 200, 'provisioning works');
    const dave = kong.store.addConsumer({ username: 'dave' });
    kong.store.addKeyAuthCredential(dave.id, { key: 'dave-key' });
    const before = kong.adminApi.requests.length;
    kong.adminApi.setFault({ kind: 'status', status: 502 });
    const res = await issue(kong, 'dave-key');
    assert.equal(res.json().code, 'AUTH_004');
    const sent = kong.adminApi.requests.slice(before).map((r) => r.method);
    assert.deepEqual(sent, ['GET', 'GET', 'GET'], 'the list is retried; nothing was posted since it never succeeded');
  });

  test('Konnect mode: control-plane /core-entities paths with a Bearer token, including provisioning', async (t) => {
    const kong = await harness(t, {}, { mode: 'KONNECT', adminToken: 'kpat_test_0123456789abcdef0123456789' });
    assert.equal((await issue(kong)).status, 200);
    assert.equal((await issue(kong, 'bob-key')).status, 200);
    for (const request of kong.adminApi.requests) {
      assert.match(request.path, /^\/v2\/control-planes\/[0-9a-f-]{36}\/core-entities\/consumers\/[0-9a-f-]{36}(\/jwt|$)/);
      assert.equal(request.headers.authorization, 'Bearer kpat_test_0123456789abcdef0123456789');
      assert.equal(request.headers['kong-admin-token'], undefined);
    }
    assert.ok(kong.adminApi.requests.some((r) => r.method === 'POST'));
  });

  test('Konnect mode follows offset pagination', async (t) => {
    const kong = await harness(t, {}, { mode: 'KONNECT', adminToken: 'kpat_test_0123456789abcdef0123456789', pageSize: 1 });
    const erin = kong.store.addConsumer({ username: 'erin' });
    kong.store.addKeyAuthCredential(erin.id, { key: 'erin-key' });
    // Listed by id, so the oldest credential comes on the second page.
    kong.store.addJwtCredential(erin.id, {
      key: 'erin-newer',
      secret: 'erin-secret-newer-0123456789abcdef',
      created_at: 200,
      id: 'aaaaaaaa-0000-4000-8000-000000000000',
    });
    kong.store.addJwtCredential(erin.id, {
      key: 'erin-older',
      secret: 'erin-secret-older-0123456789abcdef',
      created_at: 100,
      id: 'bbbbbbbb-0000-4000-8000-000000000000',
    });
    const res = await issue(kong, 'erin-key');
    assert.equal(res.status, 200);
    assert.equal(
      verifyHs256(res.json<{ access_token: string }>().access_token, 'erin-secret-older-0123456789abcdef').claims.key,
      'erin-older',
    );
    assert.ok(kong.adminApi.requests.some((r) => /offset=/.test(r.path)));
  });
});
