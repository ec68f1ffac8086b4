import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authenticatedConsumer } from '../../lib/access/kong-consumer.js';
import { AuthError } from '../../lib/errors.js';
import type { Kong } from '../../lib/kong/plugin.js';

const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';

/** Kong's client PDK answering with what an auth plugin left in ngx.ctx; the calls made, in order. */
function kongWith(credential: unknown, consumer: unknown): { kong: Kong; calls: string[] } {
  const calls: string[] = [];
  const client = {
    getCredential: () => (calls.push('get_credential'), Promise.resolve(credential)),
    getConsumer: () => (calls.push('get_consumer'), Promise.resolve(consumer)),
  };
  return { kong: { client } as unknown as Kong, calls };
}

async function outcome(credential: unknown, consumer: unknown): Promise<{ result: string; calls: string[] }> {
  const { kong, calls } = kongWith(credential, consumer);
  try {
    await authenticatedConsumer(kong, { consumerId: ALICE, consumerName: 'alice' });
    return { result: 'ok', calls };
  } catch (err) {
    assert.ok(err instanceof AuthError);
    return { result: `${err.code} ${String(err.extensions?.reason)}`, calls };
  }
}

describe('authenticatedConsumer: the headers name the consumer Kong authenticated', () => {
  test("a credential naming the headers' consumer settles it in one call", async () => {
    assert.deepEqual(await outcome({ id: 'c', consumer: { id: ALICE } }, { id: ALICE }), { result: 'ok', calls: ['get_credential'] });
  });

  test('a credential naming another consumer is AUTH_001, without asking for the consumer', async () => {
    assert.deepEqual(await outcome({ id: 'c', consumer: { id: BOB } }, { id: ALICE }), {
      result: 'AUTH_001 consumer_mismatch',
      calls: ['get_credential'],
    });
  });

  test("a credential that names no consumer (none, null, no id) has Kong's consumer decide", async () => {
    for (const credential of [{ id: 'c' }, { id: 'c', consumer: null }, { id: 'c', consumer: {} }, { id: 'c', consumer_id: ALICE }]) {
      assert.deepEqual(await outcome(credential, { id: ALICE }), { result: 'ok', calls: ['get_credential', 'get_consumer'] });
      assert.deepEqual(await outcome(credential, { id: BOB }), {
        result: 'AUTH_001 consumer_mismatch',
        calls: ['get_credential', 'get_consumer'],
      });
      assert.equal((await outcome(credential, null)).result, 'AUTH_001 consumer_mismatch');
    }
  });

  test('no credential: the anonymous consumer is AUTH_009; no consumer at all (no auth plugin) AUTH_001', async () => {
    assert.deepEqual(await outcome(null, { id: ALICE }), {
      result: 'AUTH_009 Anonymous consumers are not allowed',
      calls: ['get_credential', 'get_consumer'],
    });
    assert.equal((await outcome(null, null)).result, 'AUTH_001 consumer_mismatch');
    assert.equal((await outcome(null, { id: BOB })).result, 'AUTH_001 consumer_mismatch');
    assert.equal((await outcome(true, { id: ALICE })).result, 'AUTH_009 Anonymous consumers are not allowed');
  });
});
