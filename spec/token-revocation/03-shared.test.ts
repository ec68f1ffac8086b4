import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { REVOCATION_KONG_YML } from '../support/fixtures.js';
import { eventually, sleep } from '../support/eventually.js';
import { startKongNodes } from '../support/kong-nodes.js';
import { metricValue, scrape } from '../support/prometheus.js';
import { startRedis, startRedisCluster } from '../support/redis-server.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const KEY_PREFIX = 'kong-auth-sidecar:';

const tokenOf = async (node: KongHarness, apikey: string) =>
  (await node.request({ path: '/tokens', headers: { apikey } })).json<{ access_token: string }>().access_token;
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { jti: string; exp: number; iat: number };
const gate = (node: KongHarness, token: string, path = '/orders') => node.request({ path, headers: { authorization: `Bearer ${token}` } });
const revoke = (node: KongHarness, body: string, opts: { apikey?: string; path?: string } = {}) =>
  node.request({ method: 'POST', path: opts.path ?? '/tokens/revoke', headers: { ...FORM, apikey: opts.apikey ?? 'alice-key' }, body });
/** Whether the node's revocation list is known complete; false while its status port does not answer (a restart). */
async function isCurrent(node: KongHarness): Promise<boolean> {
  try {
    return metricValue(await scrape(await node.server.statusUrl()), 'kong_auth_revocations_current', {}) === 1;
  } catch {
    return false;
  }
}

/** How long, after `revoked` answered on one node, until the other node's gate refuses the token as revoked. */
async function refusedOn(node: KongHarness, token: string): Promise<number> {
  return eventually(async () => {
    const res = await gate(node, token);
    return res.status === 401 && res.json<{ extensions?: { reason?: string } }>().extensions?.reason === 'revoked';
  }, 'the other node refuses the revoked token');
}

describe('POST /tokens/revoke on one Kong node, the gate on another (two sidecar processes, one Redis)', () => {
  test("a consumer's own token: refused on the other node within 1 s, its key expiring with the token; someone else's token: 200 and still valid", async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const [a, b] = (await startKongNodes(t, { count: 2, kongYml: REVOCATION_KONG_YML, redisUrl: redis.url })) as [KongHarness, KongHarness];
    for (const node of [a, b]) await eventually(() => isCurrent(node), 'the sidecar read the revocation set');
    const own = await tokenOf(a, 'alice-key');
    const others = await tokenOf(a, 'bob-key');
    assert.equal((await gate(b, own)).status, 200);

    const answer = await revoke(a, `token=${own}&token_type_hint=access_token`);
    assert.deepEqual([answer.status, answer.body], [200, '{}']);
    const elapsed = await refusedOn(b, own);
    assert.ok(elapsed <= 1000, `refused on the other node after ${elapsed} ms`);

    const ttl = Number(await redis.command('TTL', `${KEY_PREFIX}{revocations}:jti:${claimsOf(own).jti}`));
    const remaining = claimsOf(own).exp - Math.floor(Date.now() / 1000);
    assert.ok(ttl > remaining && ttl <= remaining + 300 + 1, `TTL ${ttl} s for a token ending in ${remaining} s (+ 300 s leeway)`);

    assert.deepEqual([(await revoke(a, `token=${others}`)).status, (await revoke(a, `token=${others}`)).body], [200, '{}']);
    await sleep(300);
    assert.equal((await gate(b, others)).status, 200, "bob's token is not alice's to revoke");
  });

  test('revoke-all on one node: earlier tokens refused on the other, a token issued after it stays valid; a restarted sidecar still refuses', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const [a, b] = (await startKongNodes(t, { count: 2, kongYml: REVOCATION_KONG_YML, redisUrl: redis.url })) as [KongHarness, KongHarness];
    for (const node of [a, b]) await eventually(() => isCurrent(node), 'the sidecar read the revocation set');
    const earlier = await tokenOf(b, 'alice-key');
    assert.deepEqual([(await revoke(a, 'revoke=all', { path: '/all/revoke' })).status], [200]);
    const after = await tokenOf(b, 'alice-key');
    assert.ok((await refusedOn(b, earlier)) <= 1000);
    await sleep(300);
    assert.equal((await gate(b, after)).status, 200, 'the token issued after the revocation answered');
    const mark = Number(await redis.command('TTL', `${KEY_PREFIX}{revocations}:before:${b.store.consumerByIdOrUsername('alice')?.id}`));
    assert.ok(mark > 86_000 && mark <= 86_700, `the mark lives as long as the longest token: ${mark} s`);

    await b.restartServer();
    await eventually(() => isCurrent(b), 'the restarted sidecar read the revocation set');
    const res = await gate(b, earlier);
    assert.deepEqual([res.status, res.json<{ extensions?: { reason?: string } }>().extensions?.reason], [401, 'revoked']);
    assert.equal((await gate(b, after)).status, 200);
  });

  test('Redis killed: revoking answers 503, never 200; the gate admits (allow) or answers 503 (deny); Redis back: revocations work again, no restart', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const [a, b] = (await startKongNodes(t, { count: 2, kongYml: REVOCATION_KONG_YML, redisUrl: redis.url })) as [KongHarness, KongHarness];
    for (const node of [a, b]) await eventually(() => isCurrent(node), 'the sidecar read the revocation set');
    const token = await tokenOf(a, 'alice-key');
    await redis.kill();
    await eventually(async () => !(await isCurrent(b)), 'the sidecar sees the list may be incomplete');

    const refused = await revoke(a, `token=${token}`);
    assert.equal(refused.status, 503, refused.body);
    assert.equal(refused.json().error, 'temporarily_unavailable');
    assert.equal(refused.headers['x-auth-error-code'], 'AUTH_018');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await gate(b, token)).status, 200, 'revocation_unavailable: allow');
    const strict = await gate(b, token, '/deny/orders');
    assert.deepEqual([strict.status, strict.json().code], [503, 'AUTH_018']);
    const unchecked = metricValue(await scrape(await b.server.statusUrl()), 'kong_auth_revocation_unchecked_total', {});
    assert.ok(unchecked >= 1, 'the admitted token is counted');

    await redis.restart();
    for (const node of [a, b]) await eventually(() => isCurrent(node), 'the sidecar is current again', 15_000);
    assert.equal((await revoke(a, `token=${token}`)).status, 200);
    assert.ok((await refusedOn(b, token)) <= 1000);
    assert.equal((await gate(b, await tokenOf(b, 'alice-key'), '/deny/orders')).status, 200);
  });

  test('on a Redis Cluster: the revocation reaches the other node within 1 s, and every revocation key is in one slot', async (t) => {
    const cluster = await startRedisCluster();
    t.after(() => cluster.stopAll());
    const nodes = await startKongNodes(t, {
      count: 2,
      kongYml: REVOCATION_KONG_YML,
      redisUrl: 'redis://127.0.0.1',
      env: { REDIS_CLUSTER_NODES: cluster.seeds },
    });
    const [a, b] = nodes as [KongHarness, KongHarness];
    for (const node of nodes) await eventually(() => isCurrent(node), 'the sidecar read the revocation set');
    const token = await tokenOf(a, 'alice-key');
    assert.equal((await revoke(a, `token=${token}`)).status, 200);
    assert.equal((await revoke(a, 'revoke=all', { path: '/all/revoke', apikey: 'bob-key' })).status, 200);
    assert.ok((await refusedOn(b, token)) <= 1000);
    const keys = await cluster.keys(`${KEY_PREFIX}{revocations}:*`);
    assert.equal(keys.length, 2, keys.join(' '));
    const slots = new Set(await Promise.all(keys.map((key) => cluster.keySlot(key))));
    assert.equal(slots.size, 1, 'one hash tag: one slot');
  });
});
