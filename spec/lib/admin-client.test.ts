import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { AdminApiBusyError, AdminApiUnavailableError, createAdminClient, KEY_LOOKUPS } from '../../lib/credentials/admin-client.js';
import { startFakeAdminApi } from '../../kong/stand-in/fake-admin-api.js';
import { createKongStore } from '../../kong/stand-in/kong-store.js';

const log = pino({ level: 'silent' });

/** The client against the fake Admin API over HTTP on 127.0.0.1, no retries, the default breaker. */
async function start(t: TestContext) {
  const store = createKongStore();
  const alice = store.addConsumer({ username: 'alice' });
  const api = await startFakeAdminApi({ store });
  t.after(() => api.close());
  const admin = createAdminClient({
    mode: 'API_GATEWAY',
    baseUrl: api.url,
    timeoutMs: 5000,
    retries: 0,
    retryDelayMs: 10,
    log,
    breaker: { failureRatio: 0.5, windowMs: 10_000, minCalls: 5, halfOpenAfterMs: 30_000 },
  });
  return { store, api, admin, alice };
}

const UNNAMEABLE = ['', '.', '..', 'a\u0000b', 'a\nb', 'a\u007fb', 'a\u202eb', '\ud800', 'k'.repeat(257)];

test('a name that cannot name a Kong entity ("", ".", "..", control characters, a lone surrogate, over 256 characters) is answered "none" and never sent, for every call', async (t) => {
  const { api, admin, store, alice } = await start(t);
  for (const name of UNNAMEABLE) {
    assert.equal(await admin.listJwtCredentials(name), undefined, JSON.stringify(name));
    assert.equal(await admin.jwtCredentialByKey(name), undefined);
    assert.equal(await admin.consumerById(name), undefined);
    assert.equal(await admin.createJwtCredential(name, { key: 'k', secret: 's', algorithm: 'HS256' }), undefined);
  }
  assert.deepEqual(
    api.requests.map((r) => `${r.method} ${r.path}`),
    [],
  );
  assert.deepEqual(store.jwtCredentialsOf(alice.id), []);
  assert.equal(admin.stats().calls, 0);
});

test('every name travels as one percent-encoded path segment', async (t) => {
  const { api, admin, store } = await start(t);
  const odd = store.addConsumer({ username: '../we?ird#name' });
  assert.equal((await admin.consumerById('../we?ird#name'))?.id, odd.id, 'Kong finds the consumer by the decoded name');
  for (const key of ['a/b', '%2e%2e', 'Zoë key', '...']) await admin.jwtCredentialByKey(key);
  await admin.listJwtCredentials('a/b');
  await admin.createJwtCredential('x y', { key: 'k', secret: 's', algorithm: 'HS256' });
  assert.deepEqual(
    api.requests.map((r) => `${r.method} ${r.path}`),
    [
      'GET /consumers/..%2Fwe%3Fird%23name',
      'GET /jwts/a%2Fb',
      'GET /jwts/%252e%252e',
      'GET /jwts/Zo%C3%AB%20key',
      'GET /jwts/...',
      'GET /consumers/a%2Fb/jwt',
      'POST /consumers/x%20y/jwt',
    ],
  );
});

test('a 404 is an answer: a hundred unknown keys leave the breaker closed and count no failure', async (t) => {
  const { admin } = await start(t);
  for (let i = 0; i < 100; i++) assert.equal(await admin.jwtCredentialByKey(`nobody-${i}`), undefined);
  assert.equal(admin.breakerState(), 'closed');
  assert.equal(admin.stats().failures, 0);
});

test(`key lookups run ${KEY_LOOKUPS.inFlight} at a time: an Admin API that fails beyond that many at once answers every one`, async (t) => {
  const { api, admin } = await start(t);
  api.setFault({ kind: 'overloaded', capacity: KEY_LOOKUPS.inFlight, delayMs: 50 });
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => admin.jwtCredentialByKey(`nobody-${i}`)));
  assert.deepEqual(answers, Array(100).fill(undefined));
  assert.equal(admin.stats().failures, 0);
  assert.equal(admin.breakerState(), 'closed');
});

test('beyond the key lookups in flight and queued, a lookup is refused at once as an outage, never counted by the breaker; consumer lookups still go through', async (t) => {
  const { api, admin, alice } = await start(t);
  api.setFault({ kind: 'slow', delayMs: 50 });
  const total = KEY_LOOKUPS.inFlight + KEY_LOOKUPS.queued + 10;
  const settled = Array.from({ length: total }, (_, i) =>
    admin.jwtCredentialByKey(`nobody-${i}`).then(
      () => 'answered',
      (err: unknown) => err,
    ),
  );
  assert.equal((await admin.consumerById(alice.id))?.id, alice.id, 'not behind the key lookups');
  const outcomes = await Promise.all(settled);
  assert.equal(outcomes.filter((o) => o === 'answered').length, KEY_LOOKUPS.inFlight + KEY_LOOKUPS.queued);
  const refused = outcomes.filter((o) => o !== 'answered');
  assert.equal(refused.length, 10);
  for (const err of refused)
    assert.ok(err instanceof AdminApiBusyError && err instanceof AdminApiUnavailableError, `answered as an outage: ${String(err)}`);
  assert.equal(admin.breakerState(), 'closed');
  assert.equal(api.requests.filter((r) => r.path.startsWith('/jwts/')).length, KEY_LOOKUPS.inFlight + KEY_LOOKUPS.queued);
});
