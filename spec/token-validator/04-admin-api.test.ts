import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, aliceClaims, VALIDATOR_KONG_YML } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const now = () => Math.floor(Date.now() / 1000);
const claims = aliceClaims;
const junkSignature = (token: string) => `${token.slice(0, token.lastIndexOf('.'))}.${randomBytes(32).toString('base64url')}`;
const bogusKey = () => `bogus-${randomBytes(8).toString('hex')}`;

function gate(kong: KongHarness, token: string) {
  return kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } });
}

async function refusedAs(kong: KongHarness, token: string, code: string, reason?: string): Promise<void> {
  const res = await gate(kong, token);
  assert.equal(res.source, 'exit', 'never reaches the upstream');
  assert.equal(res.json().code, code, res.body);
  if (reason !== undefined) assert.equal((res.json().extensions as { reason?: string }).reason, reason);
}

describe('the gate and the Kong Admin API: what a client can make it ask', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: VALIDATOR_KONG_YML });
  });
  after(() => kong.stop());

  /** The Admin API requests `fn` caused. */
  async function requestsDuring(fn: () => Promise<void>): Promise<string[]> {
    const before = kong.adminApi.requests.length;
    await fn();
    return kong.adminApi.requests.slice(before).map((r) => `${r.method} ${r.path}`);
  }

  test('the same unknown key 300 times is looked up once: Kong\'s "no such key" is remembered', async () => {
    const key = bogusKey();
    const sent = await requestsDuring(async () => {
      for (let i = 0; i < 300; i++)
        await refusedAs(kong, junkSignature(forgeJwt(HS256, claims({ key }), ALICE_SECRET)), 'AUTH_011', 'key_mismatch');
    });
    assert.deepEqual(sent, [`GET /jwts/${key}`]);
  });

  test('tokens refused by their shape make no Admin API call: 50 without exp, with a junk signature; others of the wrong alg or form', async () => {
    const sent = await requestsDuring(async () => {
      for (let i = 0; i < 50; i++) {
        const { exp: _exp, ...withoutExp } = claims({ key: bogusKey() });
        await refusedAs(kong, junkSignature(forgeJwt(HS256, withoutExp, ALICE_SECRET)), 'AUTH_011', 'malformed');
      }
      await refusedAs(kong, forgeJwt(HS256, claims({ key: bogusKey(), exp: String(now() + 300) }), ALICE_SECRET), 'AUTH_011', 'malformed');
      await refusedAs(kong, forgeJwt(HS256, claims({ key: bogusKey(), exp: 1e308 }), ALICE_SECRET), 'AUTH_011', 'malformed');
      await refusedAs(kong, forgeJwt({ alg: 'none' }, claims({ key: bogusKey() }), ''), 'AUTH_011', 'algorithm');
      await refusedAs(kong, forgeJwt({ alg: 'HS512', typ: 'JWT' }, claims({ key: bogusKey() }), ALICE_SECRET), 'AUTH_011', 'algorithm');
      await refusedAs(kong, `${forgeJwt(HS256, claims({ key: bogusKey() }), ALICE_SECRET)}=`, 'AUTH_011', 'malformed');
      await refusedAs(kong, `${forgeJwt(HS256, claims({ key: bogusKey() }), ALICE_SECRET)}.extra`, 'AUTH_011', 'malformed');
    });
    assert.deepEqual(sent, []);
  });

  test('tokens refused by the clock alone make no Admin API call: expired, not yet valid', async () => {
    const sent = await requestsDuring(async () => {
      for (let i = 0; i < 20; i++)
        await refusedAs(kong, junkSignature(forgeJwt(HS256, claims({ key: bogusKey(), exp: now() - 10 }), ALICE_SECRET)), 'AUTH_010');
      await refusedAs(
        kong,
        junkSignature(forgeJwt(HS256, claims({ key: bogusKey(), nbf: now() + 600 }), ALICE_SECRET)),
        'AUTH_011',
        'not_yet_valid',
      );
    });
    assert.deepEqual(sent, []);
  });

  test('key claims that cannot name a credential (".", "..", control characters, 300 characters) are refused without an Admin API call', async () => {
    const sent = await requestsDuring(async () => {
      for (const key of ['.', '..', 'a\u0000b', 'line\nbreak', '\ud800', 'k'.repeat(300)]) {
        await refusedAs(kong, forgeJwt(HS256, claims({ key }), ALICE_SECRET), 'AUTH_011', 'key_mismatch');
      }
    });
    assert.deepEqual(sent, []);
  });

  test('a key with characters that mean something in a URL is sent as one encoded path segment', async () => {
    const sent = await requestsDuring(() =>
      refusedAs(kong, forgeJwt(HS256, claims({ key: '../consumers/a?b#c' }), ALICE_SECRET), 'AUTH_011', 'key_mismatch'),
    );
    assert.deepEqual(sent, ['GET /jwts/..%2Fconsumers%2Fa%3Fb%23c']);
  });
});

describe('a flood of distinct unknown keys', () => {
  test('200 at once on an Admin API that fails beyond 20 requests at once: every one AUTH_011, the breaker stays closed, a real token is admitted', async (t) => {
    const kong = await KongHarness.start({ kongYml: VALIDATOR_KONG_YML });
    t.after(() => kong.stop());
    kong.adminApi.setFault({ kind: 'overloaded', capacity: 20, delayMs: 100 });
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => gate(kong, junkSignature(forgeJwt(HS256, claims({ key: bogusKey() }), ALICE_SECRET)))),
    );
    const outcomes = new Set(
      answers.map(
        (res) => `${res.status} ${String(res.json().code)} ${String((res.json().extensions as { reason?: string } | undefined)?.reason)}`,
      ),
    );
    assert.deepEqual([...outcomes], ['400 AUTH_011 key_mismatch']);
    assert.equal(kong.adminApi.requests.length, 200, 'one lookup each, none retried');
    const health = (await (await fetch(`${await kong.server.statusUrl()}/health`)).json()) as { circuitBreakerState: string };
    assert.equal(health.circuitBreakerState, 'closed');
    const admitted = await gate(kong, forgeJwt(HS256, claims(), ALICE_SECRET));
    assert.equal(admitted.status, 200, admitted.body);
    assert.equal(admitted.source, 'upstream');
  });
});
