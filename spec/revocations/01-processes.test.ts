import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { tokenIdAt } from '../../lib/tokens/token-id.js';
import { VALIDATOR_KONG_YML } from '../support/fixtures.js';
import { eventually, sleep } from '../support/eventually.js';
import { startKongNodes } from '../support/kong-nodes.js';
import { metricValue, scrape } from '../support/prometheus.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { revocationStoreOn } from '../support/redis-revocations.js';

type After = { after(fn: () => Promise<void> | void): void };

/** The sidecars' default REDIS_KEY_PREFIX. */
const KEY_PREFIX = 'kong-auth-sidecar:';

async function redisFor(t: After): Promise<RedisServer> {
  const redis = await startRedis();
  t.after(() => redis.stop());
  return redis;
}

const revocationMetric = async (node: KongHarness, name: string, labels: Record<string, string> = {}) =>
  metricValue(await scrape(await node.server.statusUrl()), name, labels);
const isCurrent = async (node: KongHarness) => (await revocationMetric(node, 'kong_auth_revocations_current')) === 1;
const knownTokens = (node: KongHarness) => revocationMetric(node, 'kong_auth_revocations', { kind: 'token' });

async function health(node: KongHarness): Promise<{ status: string; dependencies: { revocations: Record<string, unknown> } }> {
  return (await fetch(`${await node.server.statusUrl()}/health`)).json() as Promise<{
    status: string;
    dependencies: { revocations: Record<string, unknown> };
  }>;
}

/** A store of another sidecar, in this process, once it is connected. */
async function sidecarElsewhere(t: After, url: string) {
  const store = revocationStoreOn(t, url, { keyPrefix: KEY_PREFIX });
  await eventually(async () => store.isCurrent(), 'the other sidecar is connected');
  return store;
}

function tokenEnd(): { jti: string; exp: number } {
  return { jti: tokenIdAt(Date.now()), exp: Math.floor(Date.now() / 1000) + 900 };
}

describe('revocations shared by sidecar processes on one Redis', () => {
  test('every sidecar process learns a revocation recorded elsewhere within 1 s', async (t) => {
    const redis = await redisFor(t);
    const nodes = await startKongNodes(t, { count: 2, kongYml: VALIDATOR_KONG_YML, redisUrl: redis.url });
    for (const node of nodes) await eventually(() => isCurrent(node), 'the sidecar has read the revocation set');
    const elsewhere = await sidecarElsewhere(t, redis.url);
    const token = tokenEnd();
    await elsewhere.revokeToken(token.jti, token.exp);
    await elsewhere.revokeConsumer('alice-id');
    const tookMs = await Promise.all(
      nodes.map((node) => eventually(async () => (await knownTokens(node)) === 1, 'the sidecar knows the revocation', 1000)),
    );
    assert.ok(Math.max(...tookMs) < 1000, `took ${tookMs.join(', ')} ms`);
    for (const node of nodes) {
      await eventually(
        async () => (await revocationMetric(node, 'kong_auth_revocation_messages_total')) === 2,
        'both messages arrive',
        1000,
      );
      assert.equal(await revocationMetric(node, 'kong_auth_revocations', { kind: 'consumer' }), 1);
    }
  });

  test('a restarted sidecar process re-reads the revocations from Redis', async (t) => {
    const redis = await redisFor(t);
    const [node] = (await startKongNodes(t, { count: 1, kongYml: VALIDATOR_KONG_YML, redisUrl: redis.url })) as [KongHarness];
    const elsewhere = await sidecarElsewhere(t, redis.url);
    const token = tokenEnd();
    await elsewhere.revokeToken(token.jti, token.exp);
    await eventually(async () => (await knownTokens(node)) === 1, 'the sidecar knows the revocation');
    await node.restartServer();
    const started = () => node.server.logLines().filter((line) => line['event.action'] === 'started').length;
    await eventually(async () => started() === 2, 'the restarted sidecar serves its status port');
    await eventually(() => isCurrent(node), 'the restarted sidecar has read the revocation set');
    assert.equal(await knownTokens(node), 1);
    assert.equal(await revocationMetric(node, 'kong_auth_revocation_messages_total'), 0, 'read from Redis, not from a message');
    const subscribed = await node.server.waitForLogLine(
      (line) => line['event.action'] === 'revocations-subscribed' && line['revocation.tokens'] === 1,
    );
    assert.ok(subscribed, 'one line with the counts it read');
    assert.ok(!node.server.capturedOutput.includes(token.jti), 'no token id in the output');
  });

  test('Redis killed: the sidecar is not current and /health is degraded; Redis back: current again, same process', async (t) => {
    const redis = await redisFor(t);
    const [node] = (await startKongNodes(t, { count: 1, kongYml: VALIDATOR_KONG_YML, redisUrl: redis.url })) as [KongHarness];
    await eventually(() => isCurrent(node), 'current at start');
    assert.deepEqual((await health(node)).dependencies.revocations, { status: 'healthy', type: 'redis', current: true });
    const pid = node.server.pid;

    await redis.kill();
    await eventually(async () => !(await isCurrent(node)), 'not current while Redis is down');
    const down = await health(node);
    assert.equal(down.status, 'degraded');
    assert.deepEqual(down.dependencies.revocations, { status: 'unhealthy', type: 'redis', current: false });
    assert.equal(await revocationMetric(node, 'kong_auth_revocation_subscriptions_lost_total'), 1);
    const operational = (await (await fetch(`${await node.server.statusUrl()}/metrics?view=operational`)).json()) as {
      revocations: { type: string; current: boolean; sync: { subscriptionsLost: number } };
    };
    assert.equal(operational.revocations.type, 'redis');
    assert.equal(operational.revocations.current, false);
    assert.equal(operational.revocations.sync.subscriptionsLost, 1);

    await redis.restart();
    await eventually(() => isCurrent(node), 'current again once Redis is back');
    assert.equal(node.server.pid, pid);
    assert.equal(await revocationMetric(node, 'kong_auth_revocation_rereads_total', { outcome: 'success' }), 2);
    assert.ok(await node.server.waitForLogLine((line) => line['event.action'] === 'revocations-lost'));
    assert.ok(await node.server.waitForLogLine((line) => line['event.action'] === 'revocations-restored'));
  });

  test('without Redis, revocations are per process and always current', async (t) => {
    const kong = await KongHarness.start({ kongYml: VALIDATOR_KONG_YML });
    t.after(() => kong.stop());
    const metrics = await scrape(await kong.server.statusUrl());
    assert.equal(metricValue(metrics, 'kong_auth_revocations_current'), 1);
    assert.equal(metricValue(metrics, 'kong_auth_revocations', { kind: 'token' }), 0);
    assert.equal(metricValue(metrics, 'kong_auth_revocation_rereads_total', { outcome: 'success' }), 0);
    assert.deepEqual((await health(kong)).dependencies.revocations, { status: 'healthy', type: 'memory', current: true });
    const operational = (await (await fetch(`${await kong.server.statusUrl()}/metrics?view=operational`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(operational.revocations, { type: 'memory', tokens: 0, consumers: 0, current: true, sync: null });
  });
});
