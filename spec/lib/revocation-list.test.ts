import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRevocationList, REVOKED_BEFORE_TTL_SECONDS } from '../../lib/tokens/revocation-list.js';
import { issuedAtMs, tokenIdAt } from '../../lib/tokens/token-id.js';

const T0 = 1_700_000_000_123;

function clock(startMs: number) {
  let now = startMs;
  return { nowMs: () => now, advance: (ms: number) => (now += ms) };
}

/** Claims of a token issued at `ms`, as the issuer writes them. */
const tokenAt = (ms: number) => ({ jti: tokenIdAt(ms), iat: Math.floor(ms / 1000), exp: Math.floor(ms / 1000) + 900 });

describe('token ids', () => {
  test('a token id is a UUIDv7 carrying the issue time in milliseconds', () => {
    const jti = tokenIdAt(T0);
    assert.match(jti, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(issuedAtMs({ jti, iat: Math.floor(T0 / 1000) }), T0);
    assert.notEqual(tokenIdAt(T0), jti);
  });

  test('ids of tokens issued in turn at different milliseconds each carry their own time', () => {
    for (const ms of [T0, T0 + 1, T0, T0 + 86_400_000, 0, T0 + 1]) {
      const jti = tokenIdAt(ms);
      assert.equal(parseInt(jti.slice(0, 8) + jti.slice(9, 13), 16), ms, jti);
      assert.equal(jti[14], '7');
    }
  });

  test('without a UUIDv7 jti inside its iat second, a token counts as issued at the start of its iat second', () => {
    assert.equal(issuedAtMs({ jti: 'legacy-id', iat: 1_700_000_000 }), 1_700_000_000_000);
    assert.equal(issuedAtMs({ jti: tokenIdAt(T0 + 5000), iat: 1_700_000_000 }), 1_700_000_000_000);
    assert.equal(issuedAtMs({ jti: tokenIdAt(T0) }), -Infinity);
  });
});

describe('the revocation list', () => {
  test('a revoked token id is revoked until its end; other tokens are not', () => {
    const time = clock(T0);
    const list = createRevocationList(time);
    const revoked = tokenAt(T0);
    const other = tokenAt(T0);
    list.revokeToken(revoked.jti, revoked.exp);
    assert.equal(list.isRevoked(revoked, 'c1'), true);
    assert.equal(list.isRevoked(other, 'c1'), false);
    time.advance(901_000 + 60_000);
    assert.equal(list.isRevoked(revoked, 'c1'), false);
    assert.deepEqual(list.size(), { tokens: 0, consumers: 0 });
  });

  test('revoke-all covers tokens issued up to the mark, in the same second too, and not one issued after it', () => {
    const time = clock(T0);
    const list = createRevocationList(time);
    const before = tokenAt(T0 - 400);
    const sameMs = tokenAt(T0);
    const after = tokenAt(T0 + 1);
    list.revokeConsumer('c1', T0);
    assert.equal(after.iat, sameMs.iat, 'the later token is of the same iat second');
    assert.equal(list.isRevoked(before, 'c1'), true);
    assert.equal(list.isRevoked(sameMs, 'c1'), true);
    assert.equal(list.isRevoked(after, 'c1'), false);
    assert.equal(list.isRevoked(before, 'c2'), false);
    assert.equal(list.isRevoked({ jti: 'legacy', iat: after.iat }, 'c1'), true, 'an id without time counts from its second');
  });

  test('an earlier mark never replaces a later one; expired entries are not kept', () => {
    const time = clock(T0);
    const list = createRevocationList(time);
    list.revokeConsumer('c1', T0);
    list.revokeConsumer('c1', T0 - 10_000);
    assert.equal(list.isRevoked(tokenAt(T0 - 5000), 'c1'), true);
    list.revokeToken('gone', Math.floor(T0 / 1000) - 1);
    list.revokeConsumer('c2', T0 - REVOKED_BEFORE_TTL_SECONDS * 1000 - 1);
    assert.deepEqual(list.size(), { tokens: 0, consumers: 1 });
    time.advance(REVOKED_BEFORE_TTL_SECONDS * 1000 + 60_000);
    assert.equal(list.isRevoked(tokenAt(T0 - 5000), 'c1'), false);
    assert.deepEqual(list.size(), { tokens: 0, consumers: 0 });
  });
});
