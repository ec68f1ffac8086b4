import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { RedisConfig } from '../../lib/credentials/redis-connection.js';
import type { SigningCredential } from '../../lib/tokens/signing-credential.js';
import type { KongConsumer } from '../../lib/credentials/admin-client.js';
import { createLogger, type Logger } from '../../lib/ops/logger.js';
import { createRedisConnection, type RedisClient, type RedisConnection } from '../../lib/credentials/redis-connection.js';
import { createRedisCredentialCache, type RedisCredentialCache } from '../../lib/credentials/redis-credential-cache.js';
import { createSecretCipher } from '../../lib/credentials/secret-cipher.js';
import { startRedis, startRedisCluster, startSentinelSet, type RedisClusterSet, type RedisServer } from '../support/redis-server.js';
import { eventually, sleep } from '../support/eventually.js';

type After = { after(fn: () => Promise<void> | void): void };

const silent = pino({ level: 'silent' });
const COMMAND_TIMEOUT_MS = 200;
const ALICE: SigningCredential = {
  consumerId: '0b4a7a4e-8f0c-4d6e-9a43-5b8f3c1d2e01',
  key: 'alice-iss-key',
  secret: 'alice-secret-do-not-leak-0123456789',
};
const BOB: SigningCredential = { consumerId: 'bob', key: 'bob-iss-key', secret: 'bob-secret-do-not-leak-0123456789' };

async function redisFor(t: After, password?: string): Promise<RedisServer> {
  const redis = await startRedis({ password });
  t.after(() => redis.stop());
  return redis;
}

function redisConfig(overrides: Partial<RedisConfig>): RedisConfig {
  return {
    url: undefined,
    sentinels: [],
    clusterNodes: [],
    sentinelMaster: 'mymaster',
    sentinelPassword: undefined,
    tlsCaFile: undefined,
    keyPrefix: 'test:',
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    ...overrides,
  };
}

function connectionFor(t: After, config: RedisConfig, log: Logger = silent): RedisConnection {
  const connection = createRedisConnection(config, { log });
  t.after(() => connection.close());
  return connection;
}

async function readyConnection(t: After, url: string, log?: Logger): Promise<RedisConnection> {
  const connection = connectionFor(t, redisConfig({ url }), log);
  await eventually(() => connection.isReady(), 'the connection is ready');
  return connection;
}

function cacheOn(
  connection: RedisConnection,
  opts: { keyPrefix?: string; ttlSeconds?: number; staleSeconds?: number; encryptionKey?: Buffer } = {},
): RedisCredentialCache {
  return createRedisCredentialCache(
    { connection, cipher: createSecretCipher(opts.encryptionKey), log: silent },
    { keyPrefix: opts.keyPrefix ?? 'test:', ttlSeconds: opts.ttlSeconds ?? 60, staleSeconds: opts.staleSeconds ?? 1800 },
  );
}

/** Every call of the interface, as a request path would make them while Redis is unavailable. */
async function everyCall(cache: RedisCredentialCache): Promise<unknown[]> {
  return Promise.all([
    cache.getFresh(ALICE.consumerId),
    cache.getStale(ALICE.consumerId),
    cache.put(BOB),
    cache.bury(BOB.consumerId),
    cache.isBuried(BOB.consumerId),
  ]);
}

/** A real logger at debug level whose lines stay in memory. */
function capturedLog(): { log: Logger; text: () => string } {
  const raw: string[] = [];
  const log = createLogger({ level: 'debug', serviceVersion: 'test', destination: { write: (line: string) => void raw.push(line) } });
  return { log, text: () => raw.join('') };
}

describe('Redis credential cache', () => {
  test('a put is read back from the fresh and the stale copy', async (t) => {
    const redis = await redisFor(t);
    const cache = cacheOn(await readyConnection(t, redis.url));
    await cache.put(ALICE);
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
    assert.deepEqual(await cache.getStale(ALICE.consumerId), ALICE);
    assert.equal(await cache.getFresh(BOB.consumerId), undefined);
    assert.deepEqual((await redis.keys('*')).sort(), [`test:{cred:${ALICE.consumerId}}`, `test:{cred:${ALICE.consumerId}}:stale`]);
    assert.deepEqual(cache.stats(), { fresh: { hits: 1, misses: 1, errors: 0 }, stale: { hits: 1, misses: 0, errors: 0 } });
  });

  test('the fresh copy expires after ttlSeconds while the stale copy remains', async (t) => {
    const redis = await redisFor(t);
    const cache = cacheOn(await readyConnection(t, redis.url), { ttlSeconds: 1, staleSeconds: 60 });
    await cache.put(ALICE);
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
    await eventually(async () => (await cache.getFresh(ALICE.consumerId)) === undefined, 'the fresh copy expires', 5000);
    assert.deepEqual(await cache.getStale(ALICE.consumerId), ALICE);
    const staleTtlSeconds = Number(await redis.command('TTL', `test:{cred:${ALICE.consumerId}}:stale`));
    assert.ok(staleTtlSeconds > 50 && staleTtlSeconds <= 60, `stale TTL ${staleTtlSeconds}`);
  });

  test('a stale tolerance of 0 writes no stale copy', async (t) => {
    const redis = await redisFor(t);
    const cache = cacheOn(await readyConnection(t, redis.url), { staleSeconds: 0 });
    await cache.put(ALICE);
    assert.deepEqual(await redis.keys('*'), [`test:{cred:${ALICE.consumerId}}`]);
    assert.equal(await cache.getStale(ALICE.consumerId), undefined);
  });

  test('with an encryption key, no Redis value holds the secret or the key in plain text', async (t) => {
    const redis = await redisFor(t);
    const cache = cacheOn(await readyConnection(t, redis.url), { encryptionKey: randomBytes(32) });
    await cache.put(ALICE);
    const keys = await redis.keys('*');
    assert.equal(keys.length, 2);
    for (const key of keys) {
      const value = (await redis.get(key)) ?? '';
      assert.match(value, /^aesgcm1:/);
      assert.ok(!value.includes(ALICE.secret) && !value.includes(ALICE.key), `${key} holds no plain secret or key`);
    }
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
  });

  test('a value sealed under another key is a miss, counted as an error', async (t) => {
    const redis = await redisFor(t);
    const connection = await readyConnection(t, redis.url);
    await cacheOn(connection, { encryptionKey: randomBytes(32) }).put(ALICE);
    const rotated = cacheOn(connection, { encryptionKey: randomBytes(32) });
    assert.equal(await rotated.getFresh(ALICE.consumerId), undefined);
    assert.equal(await rotated.getStale(ALICE.consumerId), undefined);
    assert.deepEqual(rotated.stats(), { fresh: { hits: 0, misses: 1, errors: 1 }, stale: { hits: 0, misses: 1, errors: 1 } });
    await rotated.put(ALICE);
    assert.deepEqual(await rotated.getFresh(ALICE.consumerId), ALICE, 'overwritten under the new key');
  });

  test('plain, tampered, foreign-format and swapped values are misses counted as errors, never returned', async (t) => {
    const redis = await redisFor(t);
    const connection = await readyConnection(t, redis.url);
    const key = randomBytes(32);
    const cache = cacheOn(connection, { encryptionKey: key });
    await cacheOn(connection).put(ALICE); // written before CACHE_ENCRYPTION_KEY was set
    assert.equal(await cache.getFresh(ALICE.consumerId), undefined);

    await cache.put(ALICE);
    const sealed = (await redis.get(`test:{cred:${ALICE.consumerId}}`)) ?? '';
    await redis.command('SET', `test:{cred:${BOB.consumerId}}`, sealed); // Alice's credential on Bob's key
    assert.equal(await cache.getFresh(BOB.consumerId), undefined);
    await redis.command('SET', `test:{cred:${ALICE.consumerId}}`, `${sealed.slice(0, -4)}AAA=`);
    assert.equal(await cache.getFresh(ALICE.consumerId), undefined);

    const plain = cacheOn(connection);
    await redis.command('SET', `test:{cred:${BOB.consumerId}}`, 'bob-secret-in-some-other-format');
    assert.equal(await plain.getFresh(BOB.consumerId), undefined);
    await redis.command('SET', `test:{cred:${BOB.consumerId}}`, JSON.stringify({ consumerId: BOB.consumerId, key: 'k' }));
    assert.equal(await plain.getFresh(BOB.consumerId), undefined);

    assert.deepEqual(cache.stats().fresh, { hits: 0, misses: 3, errors: 3 });
    assert.deepEqual(plain.stats().fresh, { hits: 0, misses: 2, errors: 2 });
  });

  test('the key prefix is honoured', async (t) => {
    const redis = await redisFor(t);
    const connection = await readyConnection(t, redis.url);
    const first = cacheOn(connection, { keyPrefix: 'first:' });
    const second = cacheOn(connection, { keyPrefix: 'second:' });
    await first.put(ALICE);
    assert.deepEqual((await redis.keys('*')).sort(), [`first:{cred:${ALICE.consumerId}}`, `first:{cred:${ALICE.consumerId}}:stale`]);
    assert.equal(await second.getFresh(ALICE.consumerId), undefined);
    assert.deepEqual(await first.getFresh(ALICE.consumerId), ALICE);
  });

  test('bury removes both copies of one consumer only and leaves a sealed tombstone, which a later put lifts', async (t) => {
    const redis = await redisFor(t);
    const cache = cacheOn(await readyConnection(t, redis.url), { encryptionKey: randomBytes(32) });
    await cache.put(ALICE);
    await cache.put(BOB);
    await cache.bury(ALICE.consumerId);
    assert.equal(await cache.getFresh(ALICE.consumerId), undefined);
    assert.equal(await cache.getStale(ALICE.consumerId), undefined);
    assert.equal(await cache.isBuried(ALICE.consumerId), true);
    assert.equal(await cache.isBuried(BOB.consumerId), false);
    const gone = `test:{cred:${ALICE.consumerId}}:gone`;
    assert.deepEqual((await redis.keys('*')).sort(), [gone, `test:{cred:${BOB.consumerId}}`, `test:{cred:${BOB.consumerId}}:stale`].sort());
    assert.ok(Number(await redis.command('PTTL', gone)) > 1_000_000, 'kept as long as a stale copy (30 min)');
    // Moved to another entity's key, the sealed tombstone buries nothing.
    await redis.command('SET', `test:{cred:${BOB.consumerId}}:gone`, (await redis.get(gone)) ?? '');
    assert.equal(await cache.isBuried(BOB.consumerId), false);
    await cache.put(ALICE); // Kong knows it again
    assert.equal(await cache.isBuried(ALICE.consumerId), false);
    assert.deepEqual(await cache.getStale(ALICE.consumerId), ALICE);
  });
});

describe('sealed copies are bound to their Redis key and their end', () => {
  test('a copy written back into Redis after its end is refused, though Redis holds it; before its end it is read', async (t) => {
    const redis = await redisFor(t);
    const { log, text } = capturedLog();
    const connection = await readyConnection(t, redis.url);
    const cache = createRedisCredentialCache(
      { connection, cipher: createSecretCipher(randomBytes(32)), log },
      { keyPrefix: 'test:', ttlSeconds: 2, staleSeconds: 3 },
    );
    const freshKey = `test:{cred:${ALICE.consumerId}}`;
    const staleKey = `test:{cred:${ALICE.consumerId}}:stale`;
    await cache.put(ALICE);
    const [fresh, stale] = [(await redis.get(freshKey)) ?? '', (await redis.get(staleKey)) ?? ''];
    await cache.bury(ALICE.consumerId); // the credential was deleted in Kong
    await redis.command('SET', freshKey, fresh, 'PX', 3000);
    await redis.command('SET', staleKey, stale, 'PX', 3000);
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE, 'within its lifetime a copy is a copy');

    await eventually(async () => (await redis.keys('*')).length === 0, 'both ends pass, and Redis expires both copies', 8000);
    await redis.command('SET', freshKey, fresh);
    await redis.command('SET', staleKey, stale);
    assert.equal(await redis.get(freshKey), fresh);
    assert.equal(await cache.getFresh(ALICE.consumerId), undefined);
    assert.equal(await cache.getStale(ALICE.consumerId), undefined);
    assert.deepEqual(cache.stats(), { fresh: { hits: 1, misses: 1, errors: 1 }, stale: { hits: 0, misses: 1, errors: 1 } });
    const refused = refusals(text());
    assert.deepEqual(
      refused.map((line) => [line['log.level'], line.reason]),
      [
        ['warn', 'past the end it was written with'],
        ['debug', 'past the end it was written with'],
      ],
    );
    assert.ok(!text().includes(ALICE.secret) && !text().includes(fresh.slice(8, 40)), 'no secret and no sealed value in the log');
  });

  test('a copy moved onto another Redis key is refused: the stale copy onto the fresh key, onto another consumer, under another prefix', async (t) => {
    const redis = await redisFor(t);
    const { log, text } = capturedLog();
    const connection = await readyConnection(t, redis.url);
    const encryptionKey = randomBytes(32);
    const cache = createRedisCredentialCache(
      { connection, cipher: createSecretCipher(encryptionKey), log },
      { keyPrefix: 'test:', ttlSeconds: 60, staleSeconds: 1800 },
    );
    const otherPrefix = cacheOn(connection, { keyPrefix: 'other:', encryptionKey });
    await cache.put(ALICE);
    const stale = (await redis.get(`test:{cred:${ALICE.consumerId}}:stale`)) ?? '';
    await redis.command('SET', `test:{cred:${ALICE.consumerId}}`, stale); // its 30-minute end on the 60-second key
    await redis.command('SET', `test:{cred:${BOB.consumerId}}:stale`, stale);
    await redis.command('SET', `other:{cred:${ALICE.consumerId}}:stale`, stale);
    assert.equal(await cache.getFresh(ALICE.consumerId), undefined);
    assert.equal(await cache.getStale(BOB.consumerId), undefined);
    assert.equal(await otherPrefix.getStale(ALICE.consumerId), undefined);
    assert.deepEqual(await cache.getStale(ALICE.consumerId), ALICE, 'in its own place it is read');
    assert.deepEqual(
      refusals(text()).map((line) => line.reason),
      ['sealed for another Redis key', 'sealed for another Redis key'],
    );
    assert.ok(!text().includes(ALICE.secret));
  });

  test('a copy written by an earlier version (no Redis key or end sealed with it) is a miss, then overwritten', async (t) => {
    const redis = await redisFor(t);
    const connection = await readyConnection(t, redis.url);
    const encryptionKey = randomBytes(32);
    const cache = cacheOn(connection, { encryptionKey });
    const earlier = createSecretCipher(encryptionKey).seal(
      JSON.stringify({ consumerId: ALICE.consumerId, key: ALICE.key, secret: ALICE.secret }),
    );
    await redis.command('SET', `test:{cred:${ALICE.consumerId}}`, earlier);
    await redis.command('SET', `test:{cred:${ALICE.consumerId}}:stale`, earlier);
    assert.equal(await cache.getFresh(ALICE.consumerId), undefined);
    assert.equal(await cache.getStale(ALICE.consumerId), undefined);
    await cache.put(ALICE);
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
  });
});

describe('consumer copies, sealed like the credential', () => {
  const DANA: KongConsumer = { id: 'dana-id', username: 'dana', custom_id: null, tags: ['scope:orders.read', 'team-a'] };

  test('a put is read back from the fresh and the stale copy, under keys of one hash tag, sealed when a key is set', async (t) => {
    const redis = await redisFor(t);
    const cache = cacheOn(await readyConnection(t, redis.url), { encryptionKey: randomBytes(32) });
    await cache.consumers.put(DANA);
    assert.deepEqual(await cache.consumers.getFresh(DANA.id), DANA);
    assert.deepEqual(await cache.consumers.getStale(DANA.id), DANA);
    assert.equal(await cache.consumers.getFresh(ALICE.consumerId), undefined);
    assert.equal(await cache.getFresh(DANA.id), undefined, 'a consumer copy is no credential');
    const keys = (await redis.keys('*')).sort();
    assert.deepEqual(keys, ['test:{consumer:dana-id}', 'test:{consumer:dana-id}:stale']);
    for (const key of keys) assert.match((await redis.get(key)) ?? '', /^aesgcm1:/);
    assert.deepEqual(cache.stats(), { fresh: { hits: 1, misses: 2, errors: 0 }, stale: { hits: 1, misses: 0, errors: 0 } });
  });

  test('a consumer copy moved onto another key, read past its end, or forged without the key is refused', async (t) => {
    const redis = await redisFor(t);
    const { log, text } = capturedLog();
    const connection = await readyConnection(t, redis.url);
    const cipher = createSecretCipher(randomBytes(32));
    const cache = createRedisCredentialCache({ connection, cipher, log }, { keyPrefix: 'test:', ttlSeconds: 60, staleSeconds: 1 });
    await cache.consumers.put(DANA);
    const stale = (await redis.get('test:{consumer:dana-id}:stale')) ?? '';
    await redis.command('SET', 'test:{consumer:dana-id}', stale); // the stale copy on the fresh key
    await redis.command('SET', 'test:{consumer:erin-id}', stale); // dana's tags on another consumer
    await redis.command('SET', 'test:{cred:dana-id}', stale); // a consumer where a credential belongs
    assert.equal(await cache.consumers.getFresh(DANA.id), undefined);
    assert.equal(await cache.consumers.getFresh('erin-id'), undefined);
    assert.equal(await cache.getFresh(DANA.id), undefined);
    const forged = JSON.stringify({
      ...DANA,
      tags: ['scope:admin'],
      redisKey: 'test:{consumer:dana-id}',
      expiresAtMs: Date.now() + 60_000,
    });
    await redis.command('SET', 'test:{consumer:dana-id}', forged);
    assert.equal(await cache.consumers.getFresh(DANA.id), undefined, 'written into Redis without CACHE_ENCRYPTION_KEY');

    await eventually(async () => (await redis.get('test:{consumer:dana-id}:stale')) === null, 'the stale copy expires', 5000);
    await redis.command('SET', 'test:{consumer:dana-id}:stale', stale);
    assert.equal(await cache.consumers.getStale(DANA.id), undefined, 'written back after its end');
    assert.deepEqual(
      refusals(text()).map((line) => [line['redis.key_group'], line.reason]),
      [
        ['consumer', 'sealed for another Redis key'],
        ['consumer', 'sealed for another Redis key'],
        ['cred', 'not a credential'],
        ['consumer', 'not sealed with this CACHE_ENCRYPTION_KEY (or not at all)'],
        ['consumer', 'past the end it was written with'],
      ],
    );
  });

  test('while Redis is down consumer calls return at once and count as errors', async (t) => {
    const redis = await redisFor(t);
    const connection = await readyConnection(t, redis.url);
    const cache = cacheOn(connection);
    await redis.kill();
    await eventually(() => !connection.isReady(), 'the connection notices');
    const calls = [
      cache.consumers.getFresh(DANA.id),
      cache.consumers.getStale(DANA.id),
      cache.consumers.put(DANA),
      cache.consumers.bury(DANA.id),
      cache.consumers.isBuried(DANA.id),
    ];
    assert.deepEqual(await Promise.all(calls), [undefined, undefined, undefined, undefined, false]);
    assert.deepEqual(cache.stats(), { fresh: { hits: 0, misses: 1, errors: 3 }, stale: { hits: 0, misses: 1, errors: 3 } });
  });
});

/** The log lines of refused Redis copies. */
function refusals(log: string): Array<Record<string, unknown>> {
  return log
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line['event.action'] === 'redis-credential-unreadable');
}

describe('Redis outages', () => {
  test('Redis killed mid-run: every call returns without throwing; Redis back on the same port: the layer is used again by itself', async (t) => {
    const redis = await redisFor(t);
    const connection = await readyConnection(t, redis.url);
    const cache = cacheOn(connection);
    await cache.put(ALICE);

    await redis.kill();
    // The first calls race the socket's close: they are in flight when the connection drops.
    assert.deepEqual(await everyCall(cache), [undefined, undefined, undefined, undefined, false]);
    await eventually(() => !connection.isReady(), 'the connection notices');
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await everyCall(cache), [undefined, undefined, undefined, undefined, false]);
      await sleep(50);
    }
    const { fresh, stale } = cache.stats();
    assert.ok(fresh.errors >= 6 && stale.errors >= 6, JSON.stringify(cache.stats()));
    assert.equal(fresh.hits + stale.hits, 0);
    assert.ok(connection.stats().reconnects > 0);

    await redis.restart();
    assert.deepEqual(await redis.keys('*'), [], 'a fresh Redis');
    await eventually(() => connection.isReady(), 'the connection comes back by itself');
    await cache.put(BOB);
    assert.deepEqual((await redis.keys('*')).sort(), [`test:{cred:${BOB.consumerId}}`, `test:{cred:${BOB.consumerId}}:stale`]);
    assert.deepEqual(await cache.getFresh(BOB.consumerId), BOB);
  });

  test('Redis down when the connection is created: calls return undefined at once; Redis up: used by itself', async (t) => {
    const redis = await redisFor(t);
    await redis.stop();
    const connection = connectionFor(t, redisConfig({ url: redis.url }));
    const cache = cacheOn(connection);
    assert.equal(connection.isReady(), false);
    assert.deepEqual(await everyCall(cache), [undefined, undefined, undefined, undefined, false]);
    await sleep(300); // a few failed connection attempts
    assert.deepEqual(await everyCall(cache), [undefined, undefined, undefined, undefined, false]);
    assert.ok(connection.stats().errors > 0);

    await redis.restart();
    await eventually(() => connection.isReady(), 'the connection comes up by itself');
    await cache.put(ALICE);
    assert.ok((await redis.keys('*')).includes(`test:{cred:${ALICE.consumerId}}`));
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
  });

  test('a hung Redis: calls give up after the command timeout, the connection is dropped and comes back after', async (t) => {
    const redis = await redisFor(t);
    t.after(() => redis.resume());
    const connection = await readyConnection(t, redis.url);
    const cache = cacheOn(connection);
    await cache.put(ALICE);

    redis.pause();
    assert.equal(await cache.getFresh(ALICE.consumerId), undefined);
    assert.equal(cache.stats().fresh.errors, 1);
    // The socket stays open, so only the silence tells: the connection is dropped and calls stop waiting.
    await cache.put(BOB);
    await eventually(() => !connection.isReady(), 'the silent connection is dropped');
    assert.deepEqual(await everyCall(cache), [undefined, undefined, undefined, undefined, false]);

    redis.resume();
    await eventually(() => connection.isReady(), 'the connection comes back');
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
  });

  test('an outage is logged once, not per reconnect attempt, and no line carries the URL password', async (t) => {
    const password = 'url-password-never-logged';
    const redis = await redisFor(t, password);
    const { log, text } = capturedLog();
    const connection = await readyConnection(t, `redis://:${password}@127.0.0.1:${redis.port}/3`, log);
    const cache = createRedisCredentialCache(
      { connection, cipher: createSecretCipher(undefined), log },
      { keyPrefix: 'test:', ttlSeconds: 60, staleSeconds: 60 },
    );
    await cache.put(ALICE);
    assert.match(String(await redis.command('INFO', 'keyspace')), /db3:keys=2,/, 'the database from the URL');

    await redis.kill();
    await eventually(() => connection.stats().reconnects >= 4, 'several reconnect attempts');
    await redis.restart();
    await eventually(() => connection.isReady(), 'the connection comes back');

    const lines = text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const actions = lines
      .map((line) => line['event.action'])
      .filter((action) => String(action).startsWith('redis-') && !String(action).startsWith('redis-credential'));
    assert.deepEqual(actions, ['redis-connected', 'redis-cache-unencrypted', 'redis-unavailable', 'redis-restored']);
    assert.equal(lines.find((line) => line['event.action'] === 'redis-unavailable')?.['server.address'], `127.0.0.1:${redis.port}`);
    assert.ok(!text().includes(password));
  });
});

describe('Redis over TLS', () => {
  test('rediss:// with REDIS_TLS_CA_FILE connects over TLS; without the CA the server is not trusted', async (t) => {
    const redis = await startRedis({ tls: true });
    t.after(() => redis.stop());
    const trusted = connectionFor(t, redisConfig({ url: redis.url, tlsCaFile: redis.caFile }));
    const untrusted = connectionFor(t, redisConfig({ url: redis.url }));
    await eventually(() => trusted.isReady(), 'the TLS connection is ready');
    const cache = cacheOn(trusted);
    await cache.put(ALICE);
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
    assert.ok((await redis.keys('*')).includes(`test:{cred:${ALICE.consumerId}}`));

    await eventually(() => untrusted.stats().errors >= 2, 'the untrusted connection fails, and retries');
    assert.equal(untrusted.isReady(), false);
    assert.equal(await cacheOn(untrusted).getFresh(ALICE.consumerId), undefined);
  });
});

describe('Redis Sentinel', () => {
  test('put and get work through the master, and again through the promoted replica after a failover', async (t) => {
    const set = await startSentinelSet();
    const connection = connectionFor(
      t,
      redisConfig({ sentinels: [{ host: '127.0.0.1', port: set.sentinelPort }], sentinelMaster: set.masterName }),
    );
    t.after(() => set.stopAll()); // after the connection closed, or it would wait out a retry for the sentinel
    await eventually(() => connection.isReady(), 'connected to the master through the sentinel');
    const cache = cacheOn(connection);
    await cache.put(ALICE);
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE);
    assert.ok((await set.master.keys('*')).includes(`test:{cred:${ALICE.consumerId}}`), 'written through the master');
    await eventually(async () => (await set.replica.keys('*')).includes(`test:{cred:${ALICE.consumerId}}`), 'replicated');

    await set.master.kill();
    assert.deepEqual(await everyCall(cache), [undefined, undefined, undefined, undefined, false], 'calls return during the failover');
    await set.waitForFailover(20_000);
    await eventually(async () => {
      await cache.put(BOB);
      return (await set.replica.keys('*')).includes(`test:{cred:${BOB.consumerId}}`);
    }, 'the promoted replica takes the writes');
    assert.deepEqual(await cache.getFresh(BOB.consumerId), BOB);
    assert.deepEqual(await cache.getFresh(ALICE.consumerId), ALICE, 'replicated before the failover');
  });
});

async function clusterFor(t: After): Promise<RedisClusterSet> {
  const cluster = await startRedisCluster();
  t.after(() => cluster.stopAll());
  return cluster;
}

async function readyClusterConnection(t: After, cluster: RedisClusterSet, log?: Logger): Promise<RedisConnection> {
  const nodes = cluster.seeds.split(',').map((seed) => ({ host: '127.0.0.1', port: Number(seed.split(':')[1]) }));
  const connection = connectionFor(t, redisConfig({ clusterNodes: nodes.slice(0, 1) }), log);
  await eventually(() => connection.isReady(), 'the cluster connection is ready');
  return connection;
}

/** Every key of ours on every master, by SCAN (KEYS would block a large Redis). */
async function scanMasters(connection: RedisConnection): Promise<string[]> {
  const found: string[] = [];
  for (const master of connection.masters()) {
    let cursor = '0';
    do {
      const [next, keys] = await master.scan(cursor, 'MATCH', 'test:*', 'COUNT', 100);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return found.sort();
}

/** Subscribes once the connection is ready and resolves with the first message on `channel`. */
async function firstMessage(subscriber: RedisClient, channel: string): Promise<string> {
  await eventually(() => subscriber.status === 'ready', 'the subscriber connection is ready');
  const message = new Promise<string>((resolve) => subscriber.once('message', (_channel: string, text: string) => resolve(text)));
  await subscriber.subscribe(channel);
  return message;
}

describe('Redis Cluster', () => {
  test('put and get work on three masters found from one seed; the copies of one consumer share a slot; SCAN over masters() sees every key', async (t) => {
    const cluster = await clusterFor(t);
    const connection = await readyClusterConnection(t, cluster);
    const cache = cacheOn(connection, { encryptionKey: randomBytes(32) });
    const consumers = Array.from({ length: 12 }, (_, i) => ({ ...ALICE, consumerId: `consumer-${i}` }));
    for (const credential of consumers) await cache.put(credential);
    await cache.consumers.put({ id: 'consumer-0', username: 'zero', custom_id: null, tags: ['scope:a'] });
    for (const credential of consumers) assert.deepEqual(await cache.getFresh(credential.consumerId), credential);
    assert.deepEqual(await cache.consumers.getStale('consumer-0'), {
      id: 'consumer-0',
      username: 'zero',
      custom_id: null,
      tags: ['scope:a'],
    });
    assert.deepEqual(cache.stats().fresh.errors + cache.stats().stale.errors, 0);

    for (const group of ['cred', 'consumer']) {
      const fresh = `test:{${group}:consumer-0}`;
      assert.equal(await cluster.keySlot(fresh), await cluster.keySlot(`${fresh}:stale`), `${group}: one slot`);
      assert.ok((await (await cluster.nodeFor(fresh)).get(fresh))?.startsWith('aesgcm1:'), `${group}: on the node of its slot`);
    }
    const holders = await Promise.all(cluster.nodes.map(async (node) => (await node.keys('test:*')).length));
    assert.ok(
      holders.every((count) => count > 0),
      `keys spread over every master: ${holders.join(', ')}`,
    );

    assert.equal(connection.masters().length, 3);
    assert.deepEqual(await scanMasters(connection), (await cluster.keys('test:*')).sort());
    assert.equal((await scanMasters(connection)).length, 12 * 2 + 2);
  });

  test('a killed node: calls for its slots return at once and the others still work; back on its port, it is used again', async (t) => {
    const cluster = await clusterFor(t);
    const connection = await readyClusterConnection(t, cluster);
    const cache = cacheOn(connection);
    const victim = cluster.nodes[1]!;
    const ids = Array.from({ length: 12 }, (_, i) => `consumer-${i}`);
    const onVictim: string[] = [];
    for (const id of ids) if ((await cluster.nodeFor(`test:{cred:${id}}`)) === victim) onVictim.push(id);
    assert.ok(onVictim.length > 0 && onVictim.length < ids.length, 'some consumers live on the node that dies');

    await victim.kill();
    for (let round = 0; round < 5; round++) {
      for (const id of ids) {
        const startedAt = performance.now();
        await cache.put({ ...ALICE, consumerId: id });
        const read = await cache.getFresh(id);
        assert.ok(performance.now() - startedAt < 4 * COMMAND_TIMEOUT_MS, `round ${round}, ${id}: returns at once`);
        if (onVictim.includes(id)) assert.equal(read, undefined);
        // Once the others mark the node failed, the whole cluster refuses (CLUSTERDOWN) until it is back.
        else if (round === 0) assert.deepEqual(read, { ...ALICE, consumerId: id }, `${id} lives on a node that still serves`);
      }
      await sleep(300);
    }
    assert.ok(cache.stats().fresh.errors > 0);

    await victim.restart();
    await cluster.waitUntilOk();
    await eventually(async () => {
      await cache.put({ ...ALICE, consumerId: onVictim[0]! });
      return (await cache.getFresh(onVictim[0]!)) !== undefined;
    }, 'the restarted node takes its slots again');
    assert.ok((await victim.keys('test:*')).includes(`test:{cred:${onVictim[0]}}`));
  });

  test('subscriber(): on one server and on a cluster, a connection that SUBSCRIBEs once ready receives what the client PUBLISHes', async (t) => {
    const redis = await redisFor(t);
    const cluster = await clusterFor(t);
    for (const connection of [await readyConnection(t, redis.url), await readyClusterConnection(t, cluster)]) {
      const subscriber = connection.subscriber();
      assert.notEqual(subscriber, connection.client);
      const received = firstMessage(subscriber, 'test:revoked');
      await eventually(async () => (await connection.client.publish('test:revoked', 'token-1')) > 0, 'the subscription is in place');
      assert.equal(await received, 'token-1');
    }
  });

  test("subscriber() on a cluster: when its node dies it moves to the next seed, resubscribes and hears every node's PUBLISH", async (t) => {
    const cluster = await clusterFor(t);
    const nodes = cluster.seeds.split(',').map((seed) => ({ host: '127.0.0.1', port: Number(seed.split(':')[1]) }));
    const connection = connectionFor(t, redisConfig({ clusterNodes: nodes }));
    await eventually(() => connection.isReady(), 'the cluster connection is ready');
    const subscriber = connection.subscriber();
    const messages: string[] = [];
    subscriber.on('message', (_channel: string, text: string) => messages.push(text));
    await eventually(() => subscriber.status === 'ready', 'the subscriber is ready');
    await subscriber.subscribe('test:revoked');
    const first = (subscriber as { options: { port?: number } }).options.port;
    const dead = cluster.nodes.find((node) => node.port === first);
    assert.ok(dead, 'the subscriber is connected to a seed');
    await dead.kill();
    await eventually(
      async () => subscriber.status === 'ready' && (subscriber as { options: { port?: number } }).options.port !== first,
      'the subscriber moved to another seed',
      15_000,
    );
    const alive = cluster.nodes.filter((node) => node !== dead);
    for (const [i, node] of alive.entries()) await node.command('PUBLISH', 'test:revoked', `from-node-${i}`);
    await eventually(async () => messages.length === alive.length, 'a message from every live node');
    assert.deepEqual(messages.sort(), alive.map((_, i) => `from-node-${i}`).sort());
  });
});
