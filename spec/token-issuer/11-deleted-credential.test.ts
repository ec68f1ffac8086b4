import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { startRedis } from '../support/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the issuer during an Admin API outage', () => {
  test("a consumer whose jwt credential was deleted gets no token signed with it, in Redis's stale copy or in memory", async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const env = { CACHE_TTL_SECONDS: '1', KONG_ADMIN_RETRY_DELAY_MS: '20', REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '200' };
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env });
    t.after(() => kong.stop());
    const issue = () => kong.request({ path: '/strict/tokens', headers: { apikey: 'alice-key' } });
    assert.equal((await issue()).status, 200);
    const alice = kong.store.consumerByIdOrUsername('alice')!;
    for (const credential of kong.store.jwtCredentialsOf(alice.id)) kong.store.removeJwtCredential(credential.id);
    await sleep(1100); // past the fresh copies
    const gone = await issue();
    assert.equal(gone.json().code, 'AUTH_002', gone.body);
    assert.deepEqual(await redis.keys('*{cred:*'), [`kong-auth-sidecar:{cred:${alice.id}}:gone`], 'copies evicted, a tombstone left');
    kong.adminApi.setFault({ kind: 'down' });
    const during = await issue();
    assert.equal(during.json().code, 'AUTH_002', during.body);
    assert.ok(kong.adminApi.droppedConnections > 0, 'the Admin API was asked and failed');
    await kong.restartServer(); // memory empty: only Redis remembers
    const restarted = await issue();
    assert.equal(restarted.json().code, 'AUTH_002', restarted.body);
  });
});
