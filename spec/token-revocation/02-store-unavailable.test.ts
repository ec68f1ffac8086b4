import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalRevocationStore, type RevocationStore } from '../../lib/tokens/revocation-store.js';
import { startInProcessKong, type InProcessKong } from '../support/in-process-kong.js';
import type { GatewayResult } from '../../kong/stand-in/gateway.js';
import { REVOCATION_KONG_YML } from '../support/fixtures.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/**
 * A store as the shared one behaves while Redis is unreachable: nothing can be recorded, and the list
 * is not known to be complete. The process-level outage (a real Redis killed) is the Redis store's test.
 */
function unreachableStore(): RevocationStore & { reachable: boolean } {
  const local = createLocalRevocationStore({ nowMs: Date.now });
  const store = {
    ...local,
    reachable: true,
    isCurrent: () => store.reachable,
    revokeToken: (jti: string, exp: number) => (store.reachable ? local.revokeToken(jti, exp) : Promise.reject(new Error('ECONNREFUSED'))),
    revokeConsumer: (id: string) => (store.reachable ? local.revokeConsumer(id) : Promise.reject(new Error('ECONNREFUSED'))),
  };
  return store;
}

describe('token-revocation and the gate while the revocation store is unreachable', () => {
  let kong: InProcessKong;
  const store = unreachableStore();
  before(async () => {
    kong = await startInProcessKong(REVOCATION_KONG_YML, (ctx) => {
      ctx.revocations = store;
    });
  });
  after(async () => {
    store.reachable = true;
    await kong.stop();
  });

  const tokenOf = async (apikey: string) =>
    (await kong.request({ path: '/tokens', headers: { apikey } })).json<{ access_token: string }>().access_token;
  const revoke = (body: string, path = '/tokens/revoke', apikey = 'alice-key') =>
    kong.request({ method: 'POST', path, headers: { ...FORM, apikey }, body });
  const gate = (token: string, path = '/orders/1') => kong.request({ path, headers: { authorization: `Bearer ${token}` } });

  function unavailable(res: GatewayResult): void {
    assert.equal(res.status, 503, res.body);
    assert.equal(res.headers['x-auth-error-code'], 'AUTH_018');
    assert.equal(res.headers['retry-after'], '5');
  }

  test('a revocation the store cannot record is 503 AUTH_018 temporarily_unavailable with Retry-After, never 200; the token stays valid', async () => {
    const token = await tokenOf('alice-key');
    store.reachable = false;
    try {
      const res = await revoke(`token=${token}`);
      unavailable(res);
      assert.equal(
        res.body,
        JSON.stringify({ error: 'temporarily_unavailable', error_description: 'The revocation store is temporarily unavailable' }),
      );
      unavailable(await revoke('revoke=all', '/all/revoke', 'carol-key'));
    } finally {
      store.reachable = true;
    }
    assert.equal((await gate(token)).status, 200);
  });

  test('revocation_unavailable: allow admits tokens not known to be revoked and counts them; deny answers 503 AUTH_018; a known revocation is still 401', async () => {
    const valid = await tokenOf('alice-key');
    const revokedBefore = await tokenOf('alice-key');
    assert.equal((await revoke(`token=${revokedBefore}`)).status, 200);
    store.reachable = false;
    try {
      const before = kong.ctx.metrics.counts().revocationUnchecked;
      const allowed = await gate(valid);
      assert.equal(allowed.status, 200, allowed.body);
      assert.equal(allowed.source, 'upstream');
      assert.equal(kong.ctx.metrics.counts().revocationUnchecked, before + 1);
      const denied = await gate(valid, '/deny/orders/1');
      assert.equal(denied.status, 503, denied.body);
      assert.equal(denied.json().code, 'AUTH_018');
      assert.equal(denied.headers['retry-after'], '5');
      assert.equal(denied.headers['www-authenticate'], undefined, 'not a token problem: no Bearer challenge');
      assert.equal((await gate(revokedBefore)).status, 401, 'what the list already holds is still refused under allow');
      assert.equal((await gate(revokedBefore, '/deny/orders/1')).status, 401);
    } finally {
      store.reachable = true;
    }
    assert.equal((await gate(valid, '/deny/orders/1')).status, 200, 'deny admits again once the list is current');
  });
});
