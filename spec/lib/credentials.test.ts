import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import {
  AdminApiCircuitOpenError,
  AdminApiConflictError,
  AdminApiUnavailableError,
  type JwtCredential,
  type KongConsumer,
} from '../../lib/credentials/admin-client.js';
import { createCredentialStore, type CredentialSource } from '../../lib/credentials/credential-store.js';
import type { RedisCredentialCache } from '../../lib/credentials/redis-credential-cache.js';
import type { SealedCopies } from '../../lib/credentials/redis-sealed-copies.js';
import type { SigningCredential } from '../../lib/tokens/signing-credential.js';
import { AuthError } from '../../lib/errors.js';

const log = pino({ level: 'silent' });
const ID = '11111111-1111-4111-8111-111111111111';

function credential(overrides: Partial<JwtCredential>): JwtCredential {
  return { id: 'c1', key: 'k1', secret: 's1', algorithm: 'HS256', created_at: 100, consumer: { id: ID }, ...overrides };
}

/** An in-process CredentialSource: this file tests the credential module alone. */
function fakeAdmin(opts: { list?: JwtCredential[] | undefined | Error; create?: Array<JwtCredential | undefined | Error> }) {
  const posts: Array<{ key: string; secret: string; algorithm: string }> = [];
  let gets = 0;
  const admin: CredentialSource = {
    async listJwtCredentials() {
      gets++;
      if (opts.list instanceof Error) throw opts.list;
      return opts.list;
    },
    jwtCredentialByKey: async () => undefined,
    consumerById: async () => undefined,
    async createJwtCredential(_id, body) {
      posts.push(body);
      const next = opts.create?.shift();
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { admin, posts, gets: () => gets };
}

const store = (admin: CredentialSource) => createCredentialStore({ admin, log }, { ttlSeconds: 60, staleSeconds: 0, maxEntries: 10 });

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<AuthError> {
  const err = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AuthError, String(err));
  assert.equal(err.code, code);
  return err;
}

describe('credential store', () => {
  test('picks the oldest HS256 credential, ties broken by id; a missing algorithm counts as HS256', async () => {
    const list = [
      credential({ id: 'z', key: 'newest', created_at: 300 }),
      credential({ id: 'y', key: 'rsa', algorithm: 'RS256', created_at: 1 }),
      credential({ id: 'b', key: 'tie-b', created_at: 200 }),
      credential({ id: 'a', key: 'tie-a', algorithm: null, created_at: 200 }),
    ];
    const { admin } = fakeAdmin({ list });
    assert.equal((await store(admin).forConsumer(ID, { provision: false })).key, 'tie-a');
  });

  test('a credential that belongs to another consumer is treated as not found', async () => {
    const { admin } = fakeAdmin({ list: [credential({ consumer: { id: 'someone-else' } })] });
    await rejectsWith(store(admin).forConsumer(ID, { provision: false }), 'AUTH_002');
  });

  test('an unknown consumer is AUTH_002 with the consumer id in extensions', async () => {
    const { admin } = fakeAdmin({ list: undefined });
    const err = await rejectsWith(store(admin).forConsumer(ID, { provision: true }), 'AUTH_002');
    assert.deepEqual(err.extensions, { consumerId: ID });
  });

  test('an Admin API failure is AUTH_004 with Retry-After, never AUTH_002', async () => {
    const { admin } = fakeAdmin({ list: new AdminApiUnavailableError('down') });
    const err = await rejectsWith(store(admin).forConsumer(ID, { provision: true }), 'AUTH_004');
    assert.equal(err.retryAfterSeconds, 5);
  });

  test('an open breaker without a stale copy is AUTH_005 with the seconds until it half-opens', async () => {
    const { admin } = fakeAdmin({ list: new AdminApiCircuitOpenError(17) });
    const err = await rejectsWith(store(admin).forConsumer(ID, { provision: true }), 'AUTH_005');
    assert.equal(err.retryAfterSeconds, 17);
  });

  test('a stale copy stands in while the Admin API fails, and AUTH_002 from Kong is never covered by it', async () => {
    let list: JwtCredential[] | undefined | Error = [credential({})];
    const admin: CredentialSource = {
      listJwtCredentials: async () => {
        if (list instanceof Error) throw list;
        return list;
      },
      createJwtCredential: async () => undefined,
      jwtCredentialByKey: async () => undefined,
      consumerById: async () => undefined,
    };
    const credentials = createCredentialStore(
      { admin, log },
      { ttlSeconds: 0.05, staleSeconds: 60, maxEntries: 10, staleRetrySeconds: 0.05 },
    );
    assert.equal((await credentials.forConsumer(ID, { provision: false })).key, 'k1');
    await new Promise((r) => setTimeout(r, 80));
    list = new AdminApiUnavailableError('down');
    assert.equal((await credentials.forConsumer(ID, { provision: false })).key, 'k1');
    assert.equal(credentials.stats().memoryStale.hits, 1);
    await new Promise((r) => setTimeout(r, 80));
    list = undefined;
    await rejectsWith(credentials.forConsumer(ID, { provision: false }), 'AUTH_002');
  });

  test('concurrent misses for one consumer share one Admin API lookup', async () => {
    const fake = fakeAdmin({ list: [credential({})] });
    const credentials = store(fake.admin);
    await Promise.all(Array.from({ length: 20 }, () => credentials.forConsumer(ID, { provision: false })));
    assert.equal(fake.gets(), 1);
  });

  test('provisions a 32-hex key and 64-hex secret, retrying with a new key on 409', async () => {
    const created = credential({ key: 'from-kong' });
    const { admin, posts } = fakeAdmin({ list: [], create: [new AdminApiConflictError(), new AdminApiConflictError(), created] });
    assert.equal((await store(admin).forConsumer(ID, { provision: true })).key, 'from-kong');
    assert.equal(posts.length, 3);
    assert.equal(new Set(posts.map((p) => p.key)).size, 3);
    for (const post of posts) {
      assert.match(post.key, /^[0-9a-f]{32}$/);
      assert.match(post.secret, /^[0-9a-f]{64}$/);
      assert.equal(post.algorithm, 'HS256');
    }
  });

  test('three 409s in a row end in AUTH_004', async () => {
    const conflicts = [new AdminApiConflictError(), new AdminApiConflictError(), new AdminApiConflictError(), credential({})];
    const { admin, posts } = fakeAdmin({ list: [], create: conflicts });
    await rejectsWith(store(admin).forConsumer(ID, { provision: true }), 'AUTH_004');
    assert.equal(posts.length, 3);
  });

  test('a created credential for another consumer is not used', async () => {
    const { admin } = fakeAdmin({ list: [], create: [credential({ consumer: { id: 'other' } })] });
    await rejectsWith(store(admin).forConsumer(ID, { provision: true }), 'AUTH_002');
  });

  test('caches the credential for the TTL', async () => {
    const fake = fakeAdmin({ list: [credential({})] });
    const credentials = store(fake.admin);
    await credentials.forConsumer(ID, { provision: false });
    await credentials.forConsumer(ID, { provision: false });
    assert.equal(fake.gets(), 1);
  });

  test('after a signature failure the credential is re-read once per interval, and returned only when it changed', async () => {
    const fake = fakeAdmin({ list: [credential({ secret: 'old-secret' })] });
    const credentials = createCredentialStore(
      { admin: fake.admin, log },
      { ttlSeconds: 60, staleSeconds: 0, maxEntries: 10, refreshIntervalSeconds: 60 },
    );
    const seen = await credentials.forConsumer(ID, { provision: false });
    assert.equal(await credentials.refreshAfterSignatureFailure(seen, 'consumer'), undefined, 'unchanged secret');
    const other = { ...seen, consumerId: '22222222-2222-4222-8222-222222222222' };
    fake.admin.listJwtCredentials = async () => [credential({ secret: 'rotated-secret', consumer: { id: other.consumerId } })];
    const rotated = await credentials.refreshAfterSignatureFailure(other, 'consumer');
    assert.equal(rotated?.secret, 'rotated-secret');
    assert.equal(
      (await credentials.forConsumer(other.consumerId, { provision: false })).secret,
      'rotated-secret',
      'the cache holds the new secret',
    );
    assert.equal(await credentials.refreshAfterSignatureFailure(other, 'consumer'), undefined, 'rate-limited per consumer');
  });
});

describe('credential store: keys Kong does not have', () => {
  function byKeyAdmin(known: JwtCredential[], failing?: Error) {
    const asked: string[] = [];
    const admin: CredentialSource = {
      listJwtCredentials: async () => undefined,
      async jwtCredentialByKey(key) {
        asked.push(key);
        if (failing) throw failing;
        return known.find((c) => c.key === key);
      },
      consumerById: async () => undefined,
      createJwtCredential: async () => undefined,
    };
    return { admin, asked, known };
  }
  const askedFor = (asked: string[], key: string) => asked.filter((k) => k === key).length;

  test('Kong\'s "no such key" is remembered for missingKeySeconds: asked once, and again after, so a credential created meanwhile works', async () => {
    const fake = byKeyAdmin([]);
    const credentials = createCredentialStore(
      { admin: fake.admin, log },
      { ttlSeconds: 60, staleSeconds: 0, maxEntries: 10, missingKeySeconds: 0.3 },
    );
    for (let i = 0; i < 5; i++) {
      const err = await rejectsWith(credentials.forKey('k-new'), 'AUTH_011');
      assert.equal(err.extensions?.reason, 'key_mismatch');
    }
    assert.deepEqual(fake.asked, ['k-new']);
    fake.known.push(credential({ key: 'k-new' }));
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal((await credentials.forKey('k-new')).key, 'k-new');
    assert.deepEqual(fake.asked, ['k-new', 'k-new']);
  });

  test('remembered misses are bounded by maxEntries, the oldest forgotten first, and never push a credential out of the cache', async () => {
    const fake = byKeyAdmin([credential({ key: 'k-real' })]);
    const credentials = createCredentialStore({ admin: fake.admin, log }, { ttlSeconds: 60, staleSeconds: 0, maxEntries: 10 });
    await credentials.forKey('k-real');
    for (let i = 0; i <= 10; i++) await rejectsWith(credentials.forKey(`bogus-${i}`), 'AUTH_011');
    await rejectsWith(credentials.forKey('bogus-10'), 'AUTH_011');
    await rejectsWith(credentials.forKey('bogus-0'), 'AUTH_011');
    assert.equal(askedFor(fake.asked, 'bogus-10'), 1, 'remembered');
    assert.equal(askedFor(fake.asked, 'bogus-0'), 2, 'forgotten: eleven misses in a memory of ten');
    assert.equal((await credentials.forKey('k-real')).key, 'k-real');
    assert.equal(askedFor(fake.asked, 'k-real'), 1, 'the credential stayed cached');
  });

  test('an Admin API failure is no answer: it is not remembered as a miss', async () => {
    const fake = byKeyAdmin([], new AdminApiUnavailableError('GET /jwts/{key} answered 500', 500));
    const credentials = store(fake.admin);
    await rejectsWith(credentials.forKey('k-1'), 'AUTH_004');
    await rejectsWith(credentials.forKey('k-1'), 'AUTH_004');
    assert.deepEqual(fake.asked, ['k-1', 'k-1']);
  });
});

/** Redis's layers as maps, fresh and stale apart, so this file tests the store's use of them alone. */
function mapCopies<T>(idOf: (value: T) => string): SealedCopies<T> & { fresh: Map<string, T>; stale: Map<string, T>; buried: Set<string> } {
  const fresh = new Map<string, T>();
  const stale = new Map<string, T>();
  const buried = new Set<string>();
  return {
    fresh,
    stale,
    buried,
    getFresh: async (id) => fresh.get(id),
    getStale: async (id) => stale.get(id),
    async put(value) {
      fresh.set(idOf(value), value);
      stale.set(idOf(value), value);
      buried.delete(idOf(value));
    },
    async bury(id) {
      fresh.delete(id);
      stale.delete(id);
      buried.add(id);
    },
    isBuried: async (id) => buried.has(id),
  };
}

function mapRedis() {
  const consumers = mapCopies<KongConsumer>((consumer) => consumer.id);
  const credentials = mapCopies<SigningCredential>((cred) => cred.consumerId);
  const redis: RedisCredentialCache = {
    ...credentials,
    consumers,
    stats: () => ({ fresh: { hits: 0, misses: 0, errors: 0 }, stale: { hits: 0, misses: 0, errors: 0 } }),
  };
  /** The fresh copies' end, here and in the maps standing in for Redis (which keep no TTL). */
  const expireFresh = async () => {
    await new Promise((resolve) => setTimeout(resolve, 60));
    consumers.fresh.clear();
    credentials.fresh.clear();
  };
  return { redis, consumers, credentials, expireFresh };
}

describe('credential store: consumers through the Redis layers', () => {
  const DANA: KongConsumer = { id: ID, username: 'dana', custom_id: null, tags: ['scope:orders.read'] };

  function consumerAdmin() {
    let answer: KongConsumer | Error = DANA;
    const asked: string[] = [];
    const admin: CredentialSource = {
      listJwtCredentials: async () => undefined,
      jwtCredentialByKey: async () => undefined,
      createJwtCredential: async () => undefined,
      async consumerById(id) {
        asked.push(id);
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    return { admin, asked, fail: (err: Error) => (answer = err) };
  }

  test('a consumer read from the Admin API is written to Redis; another process reads it from there without asking', async () => {
    const { redis, consumers } = mapRedis();
    const first = consumerAdmin();
    const opts = { ttlSeconds: 60, staleSeconds: 60, maxEntries: 10 };
    assert.deepEqual(await createCredentialStore({ admin: first.admin, redis, log }, opts).consumer(ID), DANA);
    assert.deepEqual(consumers.fresh.get(ID), DANA);
    assert.deepEqual(consumers.stale.get(ID), DANA);
    const second = consumerAdmin();
    assert.deepEqual(await createCredentialStore({ admin: second.admin, redis, log }, opts).consumer(ID), DANA);
    assert.deepEqual(second.asked, [], 'the second process found it in Redis');
  });

  test("while the Admin API fails, Redis's stale consumer copy stands in; without one it is AUTH_004", async () => {
    const { redis, consumers } = mapRedis();
    consumers.stale.set(ID, DANA);
    const fake = consumerAdmin();
    fake.fail(new AdminApiUnavailableError('down'));
    const credentials = createCredentialStore({ admin: fake.admin, redis, log }, { ttlSeconds: 60, staleSeconds: 60, maxEntries: 10 });
    assert.deepEqual(await credentials.consumer(ID), DANA);
    assert.deepEqual(fake.asked, [ID]);
    await rejectsWith(credentials.consumer('22222222-2222-4222-8222-222222222222'), 'AUTH_004');
  });
});

describe('credential store: what Kong deleted is never served from a copy', () => {
  const DANA: KongConsumer = { id: ID, username: 'dana', custom_id: null, tags: null };
  const CRED = credential({ key: 'k-dana' });
  const OTHER = '22222222-2222-4222-8222-222222222222';
  type State = 'exists' | 'deleted' | 'down' | 'breaker';

  /** An Admin API whose entities are there, deleted (404 / an empty list), or that cannot answer. */
  function switchableAdmin() {
    let state: State = 'exists';
    const failIfDown = () => {
      if (state === 'down') throw new AdminApiUnavailableError('connect ECONNREFUSED');
      if (state === 'breaker') throw new AdminApiCircuitOpenError(5);
    };
    const admin: CredentialSource = {
      async consumerById() {
        failIfDown();
        return state === 'exists' ? DANA : undefined;
      },
      async listJwtCredentials() {
        failIfDown();
        return state === 'exists' ? [CRED] : [];
      },
      async jwtCredentialByKey(key) {
        failIfDown();
        return state === 'exists' && key === CRED.key ? CRED : undefined;
      },
      createJwtCredential: async () => undefined,
    };
    return { admin, set: (next: State) => (state = next) };
  }

  // Fresh copies and Kong's "not found" last 50 ms here, so each step below reaches the Admin API again.
  const opts = { ttlSeconds: 0.05, staleSeconds: 1800, maxEntries: 10 };
  const lookups = [
    { what: 'a consumer', code: 'AUTH_002', read: (s: ReturnType<typeof createCredentialStore>) => s.consumer(ID) },
    { what: 'a credential by key', code: 'AUTH_011', read: (s: ReturnType<typeof createCredentialStore>) => s.forKey(CRED.key) },
    {
      what: "a consumer's credential",
      code: 'AUTH_002',
      read: (s: ReturnType<typeof createCredentialStore>) => s.forConsumer(ID, { provision: false }),
    },
  ];

  for (const { what, code, read } of lookups) {
    test(`${what}: deleted, seen as not found, then an outage or an open breaker: refused with ${code}, never the stale copy; found again: served`, async () => {
      const { redis, expireFresh } = mapRedis();
      const kong = switchableAdmin();
      const credentials = createCredentialStore({ admin: kong.admin, redis, log }, opts);
      await read(credentials);
      await expireFresh();
      kong.set('deleted');
      await rejectsWith(read(credentials), code);
      await expireFresh();
      kong.set('down');
      await rejectsWith(read(credentials), code);
      kong.set('breaker');
      await rejectsWith(read(credentials), code);
      kong.set('exists');
      await read(credentials);
      await expireFresh();
      kong.set('down');
      await read(credentials); // the tombstone is lifted: a stale copy stands in again
    });
  }

  test('a consumer Kong deleted: its Redis copies and its credential go, and a second sidecar holding a stale copy refuses it during an outage', async () => {
    const { redis, consumers, credentials, expireFresh } = mapRedis();
    const kong = switchableAdmin();
    const first = createCredentialStore({ admin: kong.admin, redis, log }, opts);
    const second = createCredentialStore({ admin: kong.admin, redis, log }, opts);
    await first.consumer(ID);
    await first.forConsumer(ID, { provision: false });
    await second.consumer(ID); // from Redis: the second sidecar holds its own copies in memory
    await expireFresh();
    kong.set('deleted');
    await rejectsWith(first.consumer(ID), 'AUTH_002');
    assert.equal(consumers.fresh.has(ID) || consumers.stale.has(ID), false, 'no copy of the consumer left in Redis');
    assert.equal(credentials.fresh.has(ID) || credentials.stale.has(ID), false, 'nor of its credential');
    assert.deepEqual([...consumers.buried, ...credentials.buried], [ID, ID], 'tombstones for both in Redis');
    kong.set('down');
    await rejectsWith(first.forConsumer(ID, { provision: false }), 'AUTH_002');
    await rejectsWith(second.consumer(ID), 'AUTH_002');
    await rejectsWith(second.consumer(OTHER), 'AUTH_004');
  });
});
