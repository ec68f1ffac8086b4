import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import type { GatewayResult } from '../../kong/stand-in/gateway.js';
import { ALICE_SECRET, aliceClaims, KEY_SET_KONG_YML, VALIDATOR_KONG_YML } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { startRedis } from '../support/redis-server.js';
import { keyPair, privatePem, writeKeys } from '../support/signing-keys.js';

type After = { after(fn: () => Promise<void> | void): void };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Past CACHE_TTL_SECONDS=1: the fresh copies and Kong's remembered "not found" have ended. */
const pastFreshCopies = () => sleep(1100);
const gate = (kong: KongHarness, token: string) => kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } });
const outcome = (res: GatewayResult) => `${res.status} ${res.source === 'upstream' ? 'upstream' : String(res.json().code)}`;
const ENV = { CACHE_TTL_SECONDS: '1', KONG_ADMIN_RETRY_DELAY_MS: '20', REDIS_COMMAND_TIMEOUT_MS: '200' };

async function redisFor(t: After) {
  const redis = await startRedis();
  t.after(() => redis.stop());
  return redis;
}

/** A Kong node with the ES256 key set; `sharing` starts a second node on the same Admin API. */
async function keySetKong(t: After, env: Record<string, string>, sharing?: KongHarness) {
  const kong = await KongHarness.start({ kongYml: KEY_SET_KONG_YML, env: { ...ENV, ...env }, ...(sharing ? { sharing } : {}) });
  t.after(() => kong.stop());
  return kong;
}

function keySetDir(t: After): string {
  const dir = mkdtempSync(join(tmpdir(), 'deleted-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeKeys(dir, [{ file: 'es.pem', kid: 'es-1', alg: 'ES256', state: 'current', content: privatePem(keyPair('ES256').privateKey) }]);
  return dir;
}

async function es256Token(kong: KongHarness): Promise<string> {
  const res = await kong.request({ path: '/es256/tokens', headers: { apikey: 'alice-key' } });
  assert.equal(res.status, 200, res.body);
  return res.json<{ access_token: string }>().access_token;
}

describe('the gate during an Admin API outage: what Kong deleted stays refused, never admitted from a stale copy', () => {
  test('a key-set token whose consumer was deleted: 401 AUTH_002 once Kong said so, and through the outage after', async (t) => {
    const redis = await redisFor(t);
    const kong = await keySetKong(t, { SIGNING_KEYS_DIR: keySetDir(t), REDIS_URL: redis.url });
    const token = await es256Token(kong);
    assert.equal(outcome(await gate(kong, token)), '200 upstream');
    assert.ok(kong.store.removeConsumer('alice'));
    await pastFreshCopies();
    assert.equal(outcome(await gate(kong, token)), '401 AUTH_002', 'Kong answered 404');
    assert.deepEqual(await redis.keys('*{consumer:*'), [`kong-auth-sidecar:{consumer:${clientId(token)}}:gone`], 'copies evicted');
    await pastFreshCopies();
    kong.adminApi.setFault({ kind: 'down' });
    for (let i = 0; i < 3; i++) assert.equal(outcome(await gate(kong, token)), '401 AUTH_002', `request ${i} during the outage`);
    assert.ok(kong.adminApi.droppedConnections > 0, 'the Admin API was asked and failed');
  });

  test('a second sidecar on the same Redis, holding its own stale copy, refuses the deleted consumer too', async (t) => {
    const redis = await redisFor(t);
    const dir = keySetDir(t);
    const first = await keySetKong(t, { SIGNING_KEYS_DIR: dir, REDIS_URL: redis.url });
    const second = await keySetKong(t, { SIGNING_KEYS_DIR: dir, REDIS_URL: redis.url }, first);
    const token = await es256Token(first);
    assert.equal(outcome(await gate(first, token)), '200 upstream');
    assert.equal(outcome(await gate(second, token)), '200 upstream', 'the second node now holds copies in memory');
    first.store.removeConsumer('alice');
    await pastFreshCopies();
    assert.equal(outcome(await gate(first, token)), '401 AUTH_002', 'the first node saw the 404');
    first.adminApi.setFault({ kind: 'down' });
    assert.equal(outcome(await gate(second, token)), '401 AUTH_002', "Redis's tombstone outweighs the second node's stale copy");
    assert.ok(first.adminApi.droppedConnections > 0, 'the second node asked the Admin API and it failed');
  });

  test('an HS256 token whose jwt credential was deleted: 400 AUTH_011 once Kong said so, and through the outage after', async (t) => {
    const kong = await KongHarness.start({ kongYml: VALIDATOR_KONG_YML, env: ENV });
    t.after(() => kong.stop());
    const token = forgeJwt({ alg: 'HS256', typ: 'JWT' }, aliceClaims(), ALICE_SECRET);
    assert.equal(outcome(await gate(kong, token)), '200 upstream');
    const alice = kong.store.consumerByIdOrUsername('alice')!;
    for (const credential of kong.store.jwtCredentialsOf(alice.id)) kong.store.removeJwtCredential(credential.id);
    await pastFreshCopies();
    assert.equal(outcome(await gate(kong, token)), '400 AUTH_011', 'Kong answered 404 for the key');
    await pastFreshCopies();
    kong.adminApi.setFault({ kind: 'down' });
    assert.equal(outcome(await gate(kong, token)), '400 AUTH_011');
    kong.adminApi.setFault(undefined);
    kong.store.addJwtCredential(alice.id, { key: 'alice-jwt-key', secret: ALICE_SECRET });
    await pastFreshCopies();
    assert.equal(outcome(await gate(kong, token)), '200 upstream', 'the key re-created: found again');
    await pastFreshCopies();
    kong.adminApi.setFault({ kind: 'down' });
    assert.equal(outcome(await gate(kong, token)), '200 upstream', 'its tombstone lifted, a stale copy stands in again');
  });
});

function clientId(token: string): string {
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { client_id?: string };
  return claims.client_id ?? '';
}
