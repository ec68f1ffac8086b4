import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthError } from '../../lib/errors.js';
import { createLogger, type Logger } from '../../lib/ops/logger.js';
import type { RedisRevocationStore } from '../../lib/credentials/redis-revocation-store.js';
import { REVOKED_BEFORE_TTL_SECONDS, REVOKED_TOKEN_LEEWAY_SECONDS } from '../../lib/tokens/revocation-list.js';
import { tokenIdAt } from '../../lib/tokens/token-id.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { revocationStoreOn } from '../support/redis-revocations.js';

type After = { after(fn: () => Promise<void> | void): void };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims of a token issued now that ends in `lifetimeSeconds`. */
function tokenClaims(lifetimeSeconds = 900) {
  const issuedMs = Date.now();
  return { jti: tokenIdAt(issuedMs), iat: Math.floor(issuedMs / 1000), exp: Math.floor(issuedMs / 1000) + lifetimeSeconds };
}

/** Polls until `check` holds; returns how long it took. */
async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const startedAt = Date.now();
  while (!(await check())) {
    if (Date.now() - startedAt > timeoutMs) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
  return Date.now() - startedAt;
}

async function redisFor(t: After): Promise<RedisServer> {
  const redis = await startRedis();
  t.after(() => redis.stop());
  return redis;
}

/** A real logger whose lines stay in memory, parsed. */
function capturedLog(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const log = createLogger({ level: 'debug', serviceVersion: 'test', destination: { write: (line: string) => void raw.push(line) } });
  return { log, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

async function currentStoreOn(t: After, url: string, opts: Parameters<typeof revocationStoreOn>[2] = {}): Promise<RedisRevocationStore> {
  const store = revocationStoreOn(t, url, opts);
  await eventually(() => store.isCurrent(), 'the store is current');
  return store;
}

async function assertUnavailable(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'AUTH_018');
    assert.equal(err.status, 503);
    assert.equal(err.retryAfterSeconds, 5);
    return true;
  });
}

describe('the Redis revocation store', () => {
  test('a token revoked through one store is known to another store on the same Redis within 1 s', async (t) => {
    const redis = await redisFor(t);
    const [a, b] = await Promise.all([currentStoreOn(t, redis.url), currentStoreOn(t, redis.url)]);
    const revoked = tokenClaims();
    const other = tokenClaims();
    await a.revokeToken(revoked.jti, revoked.exp);
    assert.equal(a.isRevoked(revoked, 'c1'), true, 'known at once where it was recorded');
    const tookMs = await eventually(() => b.isRevoked(revoked, 'c1'), 'the other store knows', 1000);
    assert.ok(tookMs < 1000, `took ${tookMs} ms`);
    assert.equal(b.isRevoked(other, 'c1'), false);
    assert.deepEqual(b.size(), { tokens: 1, consumers: 0 });
    assert.equal(b.stats().messages, 1);
  });

  test("a consumer's revoke-all reaches another store within 1 s; a token issued after the answer stays valid", async (t) => {
    const redis = await redisFor(t);
    const [a, b] = await Promise.all([currentStoreOn(t, redis.url), currentStoreOn(t, redis.url)]);
    const before = tokenClaims();
    const mark = await a.revokeConsumer('c1');
    const after = tokenClaims();
    assert.ok(mark >= before.iat * 1000 && Date.now() > mark);
    await eventually(() => b.isRevoked(before, 'c1'), 'the other store knows the mark', 1000);
    assert.equal(b.isRevoked(after, 'c1'), false);
    assert.equal(a.isRevoked(after, 'c1'), false);
    assert.equal(b.isRevoked(before, 'c2'), false);
  });

  test('a store started later is not current until it has read the revocations already in Redis, then knows them all', async (t) => {
    const redis = await redisFor(t);
    const a = await currentStoreOn(t, redis.url);
    const revoked = tokenClaims();
    await a.revokeToken(revoked.jti, revoked.exp);
    const before = tokenClaims();
    await a.revokeConsumer('c1');
    // Neither of these is ours: the re-read skips them.
    await redis.command('SET', 'test:{revocations}:jti:not-a-time', 'soon');
    await redis.command('SET', 'other:{revocations}:jti:x', String(nowSeconds() + 60));

    const { log, lines } = capturedLog();
    const restarted = revocationStoreOn(t, redis.url, { log });
    assert.equal(restarted.isCurrent(), false, 'not current before the first re-read');
    await eventually(() => restarted.isCurrent(), 'the re-read completes');
    assert.equal(restarted.isRevoked(revoked, 'c9'), true);
    assert.equal(restarted.isRevoked(before, 'c1'), true);
    assert.deepEqual(restarted.size(), { tokens: 1, consumers: 1 });
    const subscribed = lines().filter((line) => line['event.action'] === 'revocations-subscribed');
    assert.equal(subscribed.length, 1);
    assert.equal(subscribed[0]?.['revocation.tokens'], 1);
    assert.equal(subscribed[0]?.['revocation.consumers'], 1);
    assert.ok(!JSON.stringify(lines()).includes(revoked.jti), 'no token id in a log line');
    assert.deepEqual(restarted.stats(), { rereads: 1, rereadFailures: 0, subscriptionsLost: 0, messages: 0 });
  });

  test('keys live as long as the tokens they cover: a revoked id for its remaining lifetime plus leeway, a mark for the longest token', async (t) => {
    const redis = await redisFor(t);
    const store = await currentStoreOn(t, redis.url);
    const token = tokenClaims(600);
    await store.revokeToken(token.jti, token.exp);
    const tokenKey = `test:{revocations}:jti:${token.jti}`;
    assert.equal(await redis.get(tokenKey), String(token.exp));
    const tokenTtl = Number(await redis.command('TTL', tokenKey));
    const expected = token.exp - nowSeconds() + REVOKED_TOKEN_LEEWAY_SECONDS;
    assert.ok(tokenTtl >= expected - 2 && tokenTtl <= expected + 1, `TTL ${tokenTtl}, expected ≈ ${expected}`);

    const mark = await store.revokeConsumer('c1');
    const markKey = 'test:{revocations}:before:c1';
    assert.equal(await redis.get(markKey), String(mark));
    const markTtl = Number(await redis.command('TTL', markKey));
    assert.ok(markTtl >= REVOKED_BEFORE_TTL_SECONDS - 2 && markTtl <= REVOKED_BEFORE_TTL_SECONDS, `TTL ${markTtl}`);

    const expired = tokenClaims(-REVOKED_TOKEN_LEEWAY_SECONDS - 10);
    await store.revokeToken(expired.jti, expired.exp);
    assert.deepEqual((await redis.keys('*')).sort(), [markKey, tokenKey], 'nothing kept for a token past its end and leeway');
  });

  test('a token end with a fraction of a second is shared as the next whole second', async (t) => {
    const redis = await redisFor(t);
    const [a, b] = await Promise.all([currentStoreOn(t, redis.url), currentStoreOn(t, redis.url)]);
    const token = tokenClaims();
    await a.revokeToken(token.jti, token.exp - 0.5);
    await eventually(() => b.isRevoked(token, 'c1'), 'the other store knows', 1000);
    assert.equal(await redis.get(`test:{revocations}:jti:${token.jti}`), String(token.exp));
  });

  test('an earlier mark never lowers a later one, and the later one is kept for the full lifetime again', async (t) => {
    const redis = await redisFor(t);
    const ahead = await currentStoreOn(t, redis.url, { nowMs: () => Date.now() + 10_000 });
    const store = await currentStoreOn(t, redis.url);
    const later = await ahead.revokeConsumer('c1');
    const markKey = 'test:{revocations}:before:c1';
    await redis.command('EXPIRE', markKey, 60);
    const kept = await store.revokeConsumer('c1');
    assert.equal(kept, later, 'the mark kept is the later one');
    assert.equal(await redis.get(markKey), String(later));
    const ttl = Number(await redis.command('TTL', markKey));
    assert.ok(ttl >= REVOKED_BEFORE_TTL_SECONDS - 2, `TTL ${ttl}`);
    const issuedBetween = { jti: 'legacy', iat: Math.floor((later - 5000) / 1000) };
    assert.equal(store.isRevoked(issuedBetween, 'c1'), true, 'this store applies the later mark');
  });

  test('a revocation whose message was lost is picked up by the re-read after the resubscribe', async (t) => {
    const redis = await redisFor(t);
    const { log, lines } = capturedLog();
    const store = await currentStoreOn(t, redis.url, { log });
    const lost = tokenClaims();
    // As a sidecar would write it, but without the PUBLISH.
    await redis.command('SET', `test:{revocations}:jti:${lost.jti}`, String(lost.exp), 'EX', 600);
    await redis.command('PUBLISH', 'test:revocations', 'not a revocation');
    await sleep(300);
    assert.equal(store.isRevoked(lost, 'c1'), false, 'no message, nothing known yet');

    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(() => store.isRevoked(lost, 'c1'), 'the re-read finds the revocation');
    await eventually(() => store.isCurrent(), 'current again');
    assert.deepEqual(store.stats(), { rereads: 2, rereadFailures: 0, subscriptionsLost: 1, messages: 0 });
    const actions = lines().map((line) => line['event.action']);
    assert.deepEqual(actions, ['revocations-subscribed', 'revocations-lost', 'revocations-restored']);
    assert.equal(lines()[2]?.['revocation.tokens'], 1);
    assert.equal(lines()[1]?.['log.level'], 'warn');
  });

  test('Redis killed: recording rejects with AUTH_018 and the store is not current; Redis back on its port: current again by itself', async (t) => {
    const redis = await redisFor(t);
    const store = await currentStoreOn(t, redis.url);
    const known = tokenClaims();
    await store.revokeToken(known.jti, known.exp);

    await redis.kill();
    await eventually(() => !store.isCurrent(), 'not current once Redis is gone', 3000);
    const token = tokenClaims();
    await assertUnavailable(store.revokeToken(token.jti, token.exp));
    await assertUnavailable(store.revokeConsumer('c1'));
    assert.equal(store.isRevoked(known, 'c1'), true, 'what was known stays known');
    assert.equal(store.isRevoked(token, 'c1'), true, 'this process refuses the token it could not share');

    await redis.restart();
    await eventually(() => store.isCurrent(), 'current again after Redis is back');
    const later = tokenClaims();
    await store.revokeToken(later.jti, later.exp);
    assert.equal(await redis.get(`test:{revocations}:jti:${later.jti}`), String(later.exp));
    assert.equal(store.stats().subscriptionsLost, 1);
  });

  test('a hung Redis (the port open, no answers) makes the store not current within seconds; answering again, current again', async (t) => {
    const redis = await redisFor(t);
    const store = await currentStoreOn(t, redis.url);
    redis.pause();
    t.after(() => redis.resume());
    await sleep(500);
    assert.equal(store.isCurrent(), true, 'one unanswered second is not yet an outage');
    await eventually(() => !store.isCurrent(), 'not current while Redis does not answer', 5000);
    redis.resume();
    await eventually(() => store.isCurrent(), 'current again once Redis answers');
    assert.equal(store.stats().subscriptionsLost, 1);
  });

  test('Redis down when the store starts: not current until Redis comes up and the set is read', async (t) => {
    const redis = await redisFor(t);
    await redis.stop();
    const store = revocationStoreOn(t, redis.url);
    await sleep(500);
    assert.equal(store.isCurrent(), false);
    const token = tokenClaims();
    await assertUnavailable(store.revokeToken(token.jti, token.exp));
    await redis.restart();
    await eventually(() => store.isCurrent(), 'current once Redis is up');
  });

  test('a re-read Redis refuses leaves the store not current and is retried until it succeeds', async (t) => {
    const redis = await redisFor(t);
    await redis.command('ACL', 'SETUSER', 'sidecar', 'on', '>sidecar-pw', '~*', '&*', '+@all', '-scan');
    const { log, lines } = capturedLog();
    const store = revocationStoreOn(t, redis.url.replace('redis://', 'redis://sidecar:sidecar-pw@'), { log });
    await eventually(() => store.stats().rereadFailures >= 3, 'the re-read is retried');
    assert.equal(store.isCurrent(), false);
    const warned = lines().filter((line) => line['event.action'] === 'revocation-reread-failed' && line['log.level'] === 'warn');
    assert.equal(warned.length, 1, 'one warning while it keeps failing');
    await redis.command('ACL', 'SETUSER', 'sidecar', '+scan');
    await eventually(() => store.isCurrent(), 'current once the re-read succeeds');
  });

  test('a key prefix with glob characters re-reads its own keys only', async (t) => {
    const redis = await redisFor(t);
    const token = tokenClaims();
    await redis.command('SET', `a*[b]:{revocations}:jti:${token.jti}`, String(token.exp), 'EX', 600);
    await redis.command('SET', `aX[b]:{revocations}:jti:other`, String(token.exp), 'EX', 600);
    await redis.command('SET', `ab:{revocations}:jti:third`, String(token.exp), 'EX', 600);
    const store = await currentStoreOn(t, redis.url, { keyPrefix: 'a*[b]:' });
    assert.equal(store.isRevoked(token, 'c1'), true);
    assert.deepEqual(store.size(), { tokens: 1, consumers: 0 });
  });
});
