import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ALICE_SECRET, DANA_SECRET, danaTrustingRequest, ISSUER_KONG_YML, SCOPES_KONG_YML } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { startRedis, startSentinelSet } from '../support/redis-server.js';
import { eventually, sleep } from '../support/eventually.js';

type After = { after(fn: () => Promise<void> | void): void };

async function redisFor(t: After) {
  const redis = await startRedis();
  t.after(() => redis.stop());
  return redis;
}

async function kongWith(t: After, env: Record<string, string>) {
  const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { REDIS_COMMAND_TIMEOUT_MS: '200', ...env } });
  t.after(() => kong.stop());
  return kong;
}

const issue = (kong: KongHarness, apikey = 'alice-key') => kong.request({ path: '/tokens', headers: { apikey } });

describe('the Redis cache layers', () => {
  test('a restarted plugin server (memory empty) keeps issuing from Redis while the Admin API is down', async (t) => {
    const redis = await redisFor(t);
    const kong = await kongWith(t, { REDIS_URL: redis.url });
    assert.equal((await issue(kong)).status, 200);
    await kong.restartServer();
    kong.adminApi.setFault({ kind: 'down' });
    const res = await issue(kong);
    assert.equal(res.status, 200);
    assert.equal(kong.adminApi.droppedConnections, 0, 'the Admin API was not even asked');
  });

  test("a restarted plugin server serves the consumer's scopes from Redis's stale copies while the Admin API is down", async (t) => {
    const redis = await redisFor(t);
    const kong = await KongHarness.start({
      kongYml: SCOPES_KONG_YML,
      env: { REDIS_URL: redis.url, CACHE_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CACHE_TTL_SECONDS: '1' },
    });
    t.after(() => kong.stop());
    const dana = kong.store.consumerByIdOrUsername('dana');
    assert.ok(dana);
    const request = (scope: string) => danaTrustingRequest(kong, scope);
    assert.equal((await request('orders.read')).status, 200);
    assert.deepEqual((await redis.keys(`*{consumer:${dana.id}}*`)).sort(), [
      `kong-auth-sidecar:{consumer:${dana.id}}`,
      `kong-auth-sidecar:{consumer:${dana.id}}:stale`,
    ]);
    await kong.restartServer();
    kong.adminApi.setFault({ kind: 'down' });
    await sleep(1100); // the fresh copies in Redis end too: only the stale ones are left
    const during = await request('orders.write');
    assert.equal(during.status, 200, during.body);
    assert.equal(verifyHs256(during.json<{ access_token: string }>().access_token, DANA_SECRET).claims.scope, 'orders.write');
    const refused = await request('admin');
    assert.equal(refused.status, 400, refused.body);
    assert.equal(refused.json().code, 'AUTH_014', 'the tags still decide');
    assert.ok(kong.adminApi.droppedConnections > 0, 'the Admin API was asked and failed');
  });

  test('Redis killed mid-run: no request fails; Redis back: the layer is used again by itself', async (t) => {
    const redis = await redisFor(t);
    const kong = await kongWith(t, { REDIS_URL: redis.url, CACHE_TTL_SECONDS: '1' });
    assert.equal((await issue(kong)).status, 200);
    assert.ok((await redis.keys('*cred:*')).length > 0);
    await redis.kill();
    for (let i = 0; i < 20; i++) {
      const res = await issue(kong, i % 2 ? 'alice-key' : 'carol-key');
      assert.equal(res.status, 200, `request ${i} while Redis is down`);
      await sleep(100);
    }
    await redis.restart();
    assert.deepEqual(await redis.keys('*'), [], 'a fresh Redis');
    await eventually(async () => {
      await sleep(1100); // let the in-memory copy expire so the next request reads through to Redis
      assert.equal((await issue(kong)).status, 200);
      return (await redis.keys('*cred:*')).length > 0;
    }, 'credential keys reappear in Redis');
  });

  test('Redis down when the plugin server starts: tokens still flow, and Redis is used once it comes up', async (t) => {
    const redis = await redisFor(t);
    await redis.stop();
    const kong = await kongWith(t, { REDIS_URL: redis.url, CACHE_TTL_SECONDS: '1' });
    assert.equal((await issue(kong)).status, 200);
    await redis.restart();
    await eventually(async () => {
      await sleep(1100);
      assert.equal((await issue(kong)).status, 200);
      return (await redis.keys('*cred:*')).length > 0;
    }, 'credential keys appear in Redis');
  });

  test('with CACHE_ENCRYPTION_KEY no Redis value contains the secret in plain text', async (t) => {
    const redis = await redisFor(t);
    const kong = await kongWith(t, { REDIS_URL: redis.url, CACHE_ENCRYPTION_KEY: 'a'.repeat(64), REDIS_KEY_PREFIX: 'enc-test:' });
    assert.equal((await issue(kong)).status, 200);
    assert.equal((await issue(kong, 'bob-key')).status, 200);
    const keys = await redis.keys('enc-test:*');
    assert.ok(keys.length >= 4, `fresh and stale copies for two consumers: ${keys.join(', ')}`);
    const bobSecret = kong.store.jwtCredentialsOf(kong.store.consumerByIdOrUsername('bob')!.id)[0]!.secret;
    for (const key of keys) {
      const value = (await redis.get(key)) ?? '';
      assert.ok(!value.includes(ALICE_SECRET) && !value.includes(bobSecret), `${key} holds no plain secret`);
    }
  });

  test('Redis without CACHE_ENCRYPTION_KEY: one warning at start; with the key, none, and the key is never logged', async (t) => {
    const redis = await redisFor(t);
    const unencryptedWarnings = (kong: KongHarness) =>
      kong.server.logLines().filter((line) => line['event.action'] === 'redis-cache-unencrypted');
    const startedOf = (kong: KongHarness) => kong.server.waitForLogLine((line) => line['event.action'] === 'started');
    const plain = await kongWith(t, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'plain:' });
    assert.ok(await startedOf(plain));
    assert.equal((await issue(plain)).status, 200);
    const [warning, ...more] = unencryptedWarnings(plain);
    assert.equal(more.length, 0, 'one line, not one per request');
    assert.equal(warning?.['log.level'], 'warn');
    assert.match(String(warning?.message), /CACHE_ENCRYPTION_KEY is not set.*plain text.*openssl rand -base64 32/);

    const key = randomBytes(32).toString('base64');
    const sealed = await kongWith(t, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'sealed:', CACHE_ENCRYPTION_KEY: key });
    const withoutRedis = await kongWith(t, {});
    for (const kong of [sealed, withoutRedis]) {
      assert.ok(await startedOf(kong));
      assert.equal((await issue(kong)).status, 200);
      assert.deepEqual(unencryptedWarnings(kong), []);
    }
    assert.ok(
      !sealed.server.capturedOutput.includes(key) && !sealed.server.capturedOutput.includes(Buffer.from(key, 'base64').toString('hex')),
    );
  });

  test('an invalid CACHE_ENCRYPTION_KEY stops the start with a clear line', async () => {
    await assert.rejects(KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { CACHE_ENCRYPTION_KEY: 'too-short' } }), (err: Error) => {
      assert.match(err.message, /invalid CACHE_ENCRYPTION_KEY="<redacted>": 32 bytes as 64 hex characters or as base64/);
      return true;
    });
  });
});

describe('per-consumer rate limit through Redis', () => {
  test('the N+1th token in a minute is 429 AUTH_006, counted across two plugin-server processes on one Redis', async (t) => {
    const redis = await redisFor(t);
    const first = await kongWith(t, { REDIS_URL: redis.url });
    const second = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { REDIS_URL: redis.url }, sharing: first });
    t.after(() => second.stop());
    const limited = (kong: KongHarness) => kong.request({ path: '/limited/tokens', headers: { apikey: 'alice-key' } });
    assert.equal((await limited(first)).status, 200);
    assert.equal((await limited(second)).status, 200);
    const third = await limited(first);
    assert.equal(third.status, 429);
    assert.equal(third.json().code, 'AUTH_006');
    assert.equal(third.headers['ratelimit-limit'], '2');
    assert.equal(third.headers['ratelimit-remaining'], '0');
    assert.ok(Number(third.headers['retry-after']) >= 1);
    assert.equal((await limited(second)).status, 429);
    assert.ok((await redis.keys('*rl:*')).length === 1);
  });

  test('while Redis is down the limit is kept per process', async (t) => {
    const redis = await redisFor(t);
    const kong = await kongWith(t, { REDIS_URL: redis.url });
    await redis.kill();
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await kong.request({ path: '/limited/tokens', headers: { apikey: 'carol-key' } })).status);
    assert.deepEqual(statuses, [200, 200, 429]);
  });
});

describe('Redis Sentinel', () => {
  test('tokens keep flowing through a failover', async (t) => {
    const set = await startSentinelSet();
    t.after(() => set.stopAll());
    const kong = await kongWith(t, {
      REDIS_SENTINELS: `127.0.0.1:${set.sentinelPort}`,
      REDIS_SENTINEL_MASTER: set.masterName,
      CACHE_TTL_SECONDS: '1',
    });
    assert.equal((await issue(kong)).status, 200);
    // The sentinel connection may still be resolving the master when the first token is issued.
    await eventually(async () => {
      if ((await set.master.keys('*cred:*')).length > 0) return true;
      await sleep(1100); // the in-memory copy expires, so the next token reads through to Redis
      assert.equal((await issue(kong)).status, 200);
      return false;
    }, 'credential keys written through the master');
    await set.master.kill();
    const failover = set.waitForFailover(20_000);
    let failed = 0;
    for (let i = 0; i < 30; i++) {
      if ((await issue(kong, i % 2 ? 'alice-key' : 'carol-key')).status !== 200) failed++;
      await sleep(100);
    }
    await failover;
    assert.equal(failed, 0);
    await eventually(
      async () => {
        await sleep(1100);
        assert.equal((await issue(kong, 'bob-key')).status, 200);
        return (await set.replica.keys('*cred:*')).length > 0;
      },
      'the promoted replica takes the writes',
      15_000,
    );
  });
});
