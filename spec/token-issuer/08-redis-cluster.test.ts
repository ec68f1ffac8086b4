import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { startRedisCluster, type RedisClusterSet } from '../support/redis-server.js';
import { eventually, sleep } from '../support/eventually.js';

type After = { after(fn: () => Promise<void> | void): void };

const issue = (kong: KongHarness, apikey = 'alice-key') => kong.request({ path: '/tokens', headers: { apikey } });
const limited = (kong: KongHarness, apikey = 'alice-key') => kong.request({ path: '/limited/tokens', headers: { apikey } });

describe('Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let cluster: RedisClusterSet;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(() => cluster.stopAll());

  async function kongOnCluster(t: After, env: Record<string, string> = {}, sharing?: KongHarness) {
    const kong = await KongHarness.start({
      kongYml: ISSUER_KONG_YML,
      env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_COMMAND_TIMEOUT_MS: '200', ...env },
      sharing,
    });
    t.after(() => kong.stop());
    await kong.server.waitForLogLine((line) => line['event.action'] === 'redis-connected');
    return kong;
  }

  test('tokens are issued, and the credential is cached on the node that owns its slot, both copies in one slot', async (t) => {
    // Not a test of slow commands: a loaded machine must not turn a read-back into a miss.
    const kong = await kongOnCluster(t, {
      REDIS_KEY_PREFIX: 'issue:',
      CACHE_ENCRYPTION_KEY: 'b'.repeat(64),
      REDIS_COMMAND_TIMEOUT_MS: '2000',
    });
    assert.equal((await issue(kong)).status, 200);
    const alice = kong.store.consumerByIdOrUsername('alice');
    assert.ok(alice);
    const fresh = `issue:{cred:${alice.id}}`;
    const stale = `${fresh}:stale`;
    assert.equal(await cluster.keySlot(fresh), await cluster.keySlot(stale));
    const owner = await cluster.nodeFor(fresh);
    for (const key of [fresh, stale]) assert.match((await owner.get(key)) ?? '', /^aesgcm1:/, `${key} on its slot's node`);
    const connected = kong.server.logLines().find((line) => line['event.action'] === 'redis-connected');
    assert.equal(connected?.['server.address'], cluster.seeds);
    assert.equal(connected?.['redis.topology'], 'cluster');

    await kong.restartServer();
    // The restarted process's own connection (the output keeps the first process's lines too).
    const connections = () => kong.server.logLines().filter((line) => line['event.action'] === 'redis-connected').length;
    for (let waited = 0; connections() < 2 && waited < 5_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    assert.equal(connections(), 2, 'the restarted process connected to the cluster');
    kong.adminApi.setFault({ kind: 'down' });
    assert.equal((await issue(kong)).status, 200, 'a restarted process reads it back from the cluster');
    assert.equal(kong.adminApi.droppedConnections, 0, 'the Admin API was not even asked');
  });

  test('the rate limit is counted across two plugin-server processes on one cluster', async (t) => {
    const first = await kongOnCluster(t, { REDIS_KEY_PREFIX: 'limit:' });
    const second = await kongOnCluster(t, { REDIS_KEY_PREFIX: 'limit:' }, first);
    assert.equal((await limited(first)).status, 200);
    assert.equal((await limited(second)).status, 200);
    const third = await limited(first);
    assert.equal(third.status, 429);
    assert.equal(third.json().code, 'AUTH_006');
    assert.equal(third.headers['ratelimit-remaining'], '0');
    assert.equal((await limited(second)).status, 429);
    const alice = first.store.consumerByIdOrUsername('alice');
    assert.ok(alice);
    const counters = await cluster.keys('limit:{rl:*');
    assert.equal(counters.length, 1);
    assert.match(counters[0] ?? '', new RegExp(`^limit:\\{rl:${alice.id}\\}:\\d+$`));
  });

  test('a cluster node killed: every token is still issued, at once; the node back: the cluster is used again', async (t) => {
    const kong = await kongOnCluster(t, { REDIS_KEY_PREFIX: 'outage:', CACHE_TTL_SECONDS: '1' });
    const consumers = ['alice-key', 'bob-key', 'carol-key'];
    for (const apikey of consumers) assert.equal((await issue(kong, apikey)).status, 200);
    const alice = kong.store.consumerByIdOrUsername('alice');
    assert.ok(alice);
    const aliceKey = `outage:{cred:${alice.id}}`;
    const victim = await cluster.nodeFor(aliceKey); // the node that holds alice's credential
    let isVictimDown = true;
    // The next test needs the whole cluster, even after a failed assertion here.
    t.after(async () => {
      if (isVictimDown) await victim.restart();
      await cluster.waitUntilOk();
    });
    await victim.kill();
    let slowest = 0;
    for (let i = 0; i < 30; i++) {
      const startedAt = performance.now();
      const res = await issue(kong, consumers[i % consumers.length]);
      slowest = Math.max(slowest, performance.now() - startedAt);
      assert.equal(res.status, 200, `request ${i} while a node is down`);
      await sleep(100);
    }
    // Redis calls give up within the command timeout; the Admin API (a local fake) answers the rest.
    assert.ok(slowest < 1500, `slowest token ${Math.round(slowest)} ms`);

    await victim.restart();
    isVictimDown = false;
    await cluster.waitUntilOk();
    await eventually(
      async () => {
        await sleep(1100); // the in-memory copies expire, so the next tokens read through to Redis
        for (const apikey of consumers) assert.equal((await issue(kong, apikey)).status, 200);
        return (await victim.get(aliceKey)) !== null;
      },
      'the restarted node takes writes again',
      15_000,
    );
  });

  test('REDIS_URL with another database than 0 stops the start with a clear line', async () => {
    await assert.rejects(
      KongHarness.start({
        kongYml: ISSUER_KONG_YML,
        env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: 'redis://:cluster-password@127.0.0.1:6379/3' },
      }),
      (err: Error) => {
        assert.match(err.message, /invalid REDIS_URL="<redacted>": database 0 or none \(Redis Cluster has database 0 only/);
        assert.ok(!err.message.includes('cluster-password'));
        return true;
      },
    );
  });
});
