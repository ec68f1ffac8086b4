import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { exportJWK } from 'jose';
import { cacheSecondsOf, createRemoteJwks, MAX_JWKS_BYTES, type RemoteJwksOptions } from '../../lib/credentials/remote-jwks.js';
import { describeSkipped, parseRemoteJwks, RemoteJwksError, verifiesWith } from '../../lib/tokens/remote-key-set.js';
import { splitCompact } from '../../lib/tokens/compact-jws.js';
import { JwksServer, providerKey, signWith, type ProviderKey } from '../support/jwks-server.js';
import { capturedLogger, PRIVATE_MEMBERS } from '../support/signing-keys.js';
import { eventually } from '../support/eventually.js';

const publicJwk = async (key: Parameters<typeof exportJWK>[0], extra: Record<string, unknown>) => ({ ...(await exportJWK(key)), ...extra });

describe('remote key set: parsing a JWKS', () => {
  test('keeps signature keys with a kid (RSA for RS256 and PS256 unless its alg says one, P-256, Ed25519) and counts the rest', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');
    const doc = {
      keys: [
        await publicJwk(rsa.publicKey, { kid: 'rsa-any' }),
        await publicJwk(rsa.publicKey, { kid: 'rsa-ps', alg: 'PS256', use: 'sig' }),
        await publicJwk(ec.publicKey, { kid: 'ec' }),
        await publicJwk(ed.publicKey, { kid: 'ed', key_ops: ['verify'] }),
        // Left out: no kid, an encryption key, a private key, a symmetric key, too small, another curve, alg not the key's, a kid seen before, not an object.
        await publicJwk(ec.publicKey, {}),
        await publicJwk(rsa.publicKey, { kid: 'enc', use: 'enc' }),
        { ...(await exportJWK(ec.privateKey)), kid: 'private' },
        { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', kid: 'oct' },
        await publicJwk(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, { kid: 'small' }),
        await publicJwk(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, { kid: 'p384' }),
        await publicJwk(rsa.publicKey, { kid: 'confused', alg: 'ES256' }),
        await publicJwk(ec.publicKey, { kid: 'ec' }),
        'not a key',
      ],
    };
    const set = await parseRemoteJwks(JSON.stringify(doc));
    assert.deepEqual(
      [...set.byKid.values()].map((key) => [key.kid, key.algs]),
      [
        ['rsa-any', ['RS256', 'PS256']],
        ['rsa-ps', ['PS256']],
        ['ec', ['ES256']],
        ['ed', ['EdDSA']],
      ],
    );
    assert.equal(set.skipped, 9);
    assert.deepEqual(Object.fromEntries(set.skippedWhy), {
      'no kid': 1,
      'not for signatures': 1,
      'a private or symmetric key': 2,
      'RSA below 2048 bits': 1,
      'a key type, curve or alg we do not verify': 2,
      'a kid seen before': 1,
      'not an object': 1,
    });
    for (const key of set.byKid.values()) assert.equal(key.publicKey.type, 'public');
  });

  test('a key published alike by the next fetch stays the same object; a new key under the same kid does not', async () => {
    const [a, b] = await Promise.all([providerKey('a', 'ES256'), providerKey('b', 'RS256')]);
    const first = await parseRemoteJwks(JSON.stringify({ keys: [a.jwk, b.jwk] }));
    const again = await parseRemoteJwks(JSON.stringify({ keys: [b.jwk, a.jwk] }), first);
    assert.equal(again.byKid.get('a'), first.byKid.get('a'));
    assert.equal(again.byKid.get('b'), first.byKid.get('b'));
    const rekeyed = await providerKey('a', 'ES256');
    const after = await parseRemoteJwks(JSON.stringify({ keys: [rekeyed.jwk] }), first);
    assert.notEqual(after.byKid.get('a'), first.byKid.get('a'));
  });

  test('a JWKS without a usable key is an empty set, its entries counted by why they were left out', async () => {
    const p384 = await publicJwk(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, { kid: 'es384', alg: 'ES384' });
    const rs512 = await publicJwk(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, { kid: 'rs512', alg: 'RS512' });
    const empty = await parseRemoteJwks('{"keys": []}');
    assert.deepEqual([empty.byKid.size, empty.skipped, empty.skippedWhy.size], [0, 0, 0]);
    const unusable = await parseRemoteJwks(
      JSON.stringify({ keys: [p384, rs512, { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ', kid: 'a' }] }),
    );
    assert.equal(unusable.byKid.size, 0);
    assert.equal(describeSkipped(unusable), '2 a key type, curve or alg we do not verify, 1 a private or symmetric key');
  });

  test('refuses what is not a JWKS, naming the problem and nothing of its content', async () => {
    const cases: Array<[string, RegExp]> = [
      ['<html>sign in</html>', /not JSON/],
      ['[]', /not a JWKS/],
      ['{"keys": {}}', /not a JWKS/],
      ['{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}', /not a JWKS/],
      [JSON.stringify({ keys: Array.from({ length: 101 }, () => ({})) }), /101 keys, more than 100/],
    ];
    for (const [text, message] of cases) {
      await assert.rejects(parseRemoteJwks(text), (err: unknown) => {
        assert.ok(err instanceof RemoteJwksError);
        assert.match(err.message, message);
        assert.ok(!err.message.includes('c2VjcmV0'), 'no key material in the message');
        return true;
      });
    }
  });

  test('each algorithm verifies a jose-signed token with node:crypto, and nothing else', async () => {
    for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA'] as const) {
      const key = await providerKey(`k-${alg}`, alg);
      const set = await parseRemoteJwks(JSON.stringify({ keys: [key.jwk] }));
      const parts = splitCompact(await signWith(key, { sub: 'someone' }))!;
      const remote = set.byKid.get(key.kid)!;
      assert.equal(verifiesWith(alg, remote.publicKey, parts.signingInput, parts.signature), true, alg);
      assert.equal(verifiesWith(alg, remote.publicKey, `${parts.signingInput}x`, parts.signature), false, `${alg}: other input`);
      assert.equal(verifiesWith(alg, remote.publicKey, parts.signingInput, 'AAAA'), false, `${alg}: a short signature`);
    }
  });
});

describe('remote JWKS: Cache-Control', () => {
  test('max-age less Age, no-store and no-cache as 0, nothing without max-age', () => {
    assert.equal(cacheSecondsOf('public, max-age=600', null), 600);
    assert.equal(cacheSecondsOf('max-age=600, must-revalidate', '100'), 500);
    assert.equal(cacheSecondsOf('max-age=60', '100'), 0);
    assert.equal(cacheSecondsOf('no-cache', null), 0);
    assert.equal(cacheSecondsOf('private, no-store, max-age=60', null), 0);
    assert.equal(cacheSecondsOf('public', null), undefined);
    assert.equal(cacheSecondsOf(null, null), undefined);
    assert.equal(cacheSecondsOf('max-age=abc', null), undefined);
  });
});

describe('remote JWKS: fetching through a real HTTP server', () => {
  let server: JwksServer;
  let k1: ProviderKey;
  let k2: ProviderKey;
  const logged = capturedLogger();
  const opened: Array<{ close(): void }> = [];
  /** Added to the clock the JWKS reads: what moves a set past its cache lifetime without waiting for it. */
  let clockShiftMs = 0;
  const open = (over: Partial<RemoteJwksOptions> = {}, log = logged) => {
    const jwks = createRemoteJwks(
      { log: log.log, nowMs: () => Date.now() + clockShiftMs },
      { uri: server.url, minCacheSeconds: 300, maxCacheSeconds: 3600, cooldownSeconds: 30, maxStaleSeconds: 3600, ...over },
    );
    opened.push(jwks);
    return jwks;
  };

  before(async () => {
    server = await JwksServer.start();
    [k1, k2] = await Promise.all([providerKey('k1', 'ES256'), providerKey('k2', 'RS256')]);
  });
  after(async () => {
    for (const jwks of opened) jwks.close();
    await server.down();
  });

  test('fetches once when opened, and every caller waiting shares that fetch (single flight)', async () => {
    server.serveKeys([k1]);
    server.hold();
    const before = server.fetches;
    const jwks = open();
    const early = await Promise.all(Array.from({ length: 20 }, () => jwks.keys(20)));
    assert.ok(
      early.every((set) => set === undefined),
      'nobody waits past the budget for a held answer',
    );
    await eventually(() => server.waiting === 1, 'the one fetch reached the server');
    const waiting = Array.from({ length: 20 }, () => jwks.keys(60_000));
    server.release();
    const sets = await Promise.all(waiting);
    assert.equal(server.fetches - before, 1, 'one fetch for 40 callers');
    assert.ok(sets.every((set) => set?.byKid.has('k1')));
    assert.deepEqual(jwks.stats(), {
      jwks: server.url,
      keys: 1,
      stale: false,
      fetches: { success: 1, no_usable_key: 0, unavailable: 0, invalid: 0 },
    });
  });

  test('refreshes in the background before the lifetime ends, within the configured bounds, and picks up a rotation', async () => {
    server.serveKeys([k1], 'max-age=0');
    const before = server.fetches;
    const jwks = open({ minCacheSeconds: 1, maxCacheSeconds: 1 });
    assert.ok((await jwks.keys(60_000))?.byKid.has('k1'));
    server.serveKeys([k1, k2], 'max-age=86400');
    // No caller between: the fetches are the refresh timer's own.
    await eventually(() => server.fetches - before >= 3, 'two background refreshes', 10_000);
    const set = await jwks.keys(0);
    assert.deepEqual([...set!.byKid.keys()], ['k1', 'k2']);
    assert.equal(jwks.stats().stale, false);
  });

  test('keeps the last good set when the answer is garbage, too large, not a JWKS, an error status, or the server is down', async () => {
    server.serveKeys([k1]);
    const jwks = open({ cooldownSeconds: 1 });
    const good = await jwks.keys(60_000);
    assert.ok(good?.byKid.has('k1'));
    const bad: Array<[string, () => void | Promise<void>, 'invalid' | 'unavailable']> = [
      ['not JSON', () => void (server.answer = { kind: 'body', body: '<html>login</html>', contentType: 'text/html' }), 'invalid'],
      ['too large', () => void (server.answer = { kind: 'body', body: Buffer.alloc(MAX_JWKS_BYTES + 1, 0x20) }), 'invalid'],
      [
        'a JWK, not a set',
        () => void (server.answer = { kind: 'body', body: JSON.stringify({ kty: 'oct', k: 'bm90LWEtcHVibGljLWtleQ' }) }),
        'invalid',
      ],
      ['a 404', () => void (server.answer = { kind: 'body', body: '{"keys":[]}', status: 404 }), 'unavailable'],
      ['a 500', () => void (server.answer = { kind: 'body', body: 'oops', status: 500 }), 'unavailable'],
      ['the server down', () => server.down(), 'unavailable'],
    ];
    for (const [what, serve, outcome] of bad) {
      await serve();
      const counted = jwks.stats().fetches[outcome];
      const set = await jwks.refetch(60_000);
      assert.equal(set, good, `${what}: the last good set stays`);
      assert.ok(jwks.stats().fetches[outcome] > counted, `${what}: counted as ${outcome}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await server.up();
    assert.ok(!logged.text().includes('bm90LWEtcHVibGljLWtleQ'), 'no key material logged');
    for (const member of PRIVATE_MEMBERS) assert.ok(!JSON.stringify(jwks.stats()).includes(`"${member}"`));
    const warnings = logged.lines().filter((line) => line['event.action'] === 'jwks-fetch-failed');
    assert.ok(
      warnings.some((line) =>
        String(line.message).includes('the last good set stays in use for at most 3600 s past its cache lifetime: the answer is not JSON'),
      ),
    );
  });

  test('a kid the set lacks fetches again at most once per cooldown, however many tokens name one', async () => {
    server.serveKeys([k1]);
    const jwks = open({ cooldownSeconds: 3600 });
    await jwks.keys(60_000);
    const before = server.fetches;
    server.serveKeys([k1, k2]);
    const sets = await Promise.all(Array.from({ length: 10 }, () => jwks.refetch(60_000)));
    for (let i = 0; i < 10; i++) await jwks.refetch(60_000);
    assert.equal(server.fetches - before, 1);
    assert.ok(
      sets.every((set) => set?.byKid.has('k2')),
      'the callers of the one refetch see its set',
    );
  });

  test('without any set and the server down: undefined at once, and no fetch per caller', async () => {
    const dead = await JwksServer.start();
    await dead.down();
    const jwks = createRemoteJwks(
      { log: logged.log, nowMs: Date.now },
      { uri: dead.url, minCacheSeconds: 300, maxCacheSeconds: 3600, cooldownSeconds: 3600, maxStaleSeconds: 3600 },
    );
    opened.push(jwks);
    await eventually(() => jwks.stats().fetches.unavailable >= 1, 'the first fetch failed');
    const counted = jwks.stats().fetches.unavailable;
    for (let i = 0; i < 20; i++) assert.equal(await jwks.keys(60_000), undefined);
    assert.ok(jwks.stats().fetches.unavailable <= counted + 1, 'callers do not fetch; the retry schedule does');
  });

  test('a JWKS without a usable key replaces the set at once (a withdrawn key), with one warning naming what was left out', async () => {
    server.serveKeys([k1, k2]);
    // Its own log: the sets opened by the tests before fetch from the same server.
    const own = capturedLogger();
    const jwks = open({ cooldownSeconds: 1 }, own);
    assert.deepEqual([...(await jwks.keys(60_000))!.byKid.keys()], ['k1', 'k2']);
    const p384 = await publicJwk(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, { kid: 'k1', alg: 'ES384' });
    const withdrawals: Array<[string, unknown[], string]> = [
      ['an empty set', [], 'has no usable signature key:'],
      [
        'only keys we skip',
        [p384, { kty: 'oct', k: 'bm90LWEtcHVibGljLWtleQ', kid: 'k2' }],
        'has no usable signature key, 2 left out (1 a key type, curve or alg we do not verify, 1 a private or symmetric key):',
      ],
    ];
    for (const [what, keys, message] of withdrawals) {
      server.answer = { kind: 'body', body: JSON.stringify({ keys }) };
      const counted = jwks.stats().fetches.no_usable_key;
      await new Promise((resolve) => setTimeout(resolve, 1000)); // past the refetch cooldown
      const set = await jwks.refetch(60_000);
      assert.equal(set?.byKid.size, 0, `${what}: no key is trusted any more`);
      assert.equal((await jwks.keys(0))?.byKid.size, 0, `${what}: the empty set is what keys() serves`);
      assert.deepEqual([jwks.stats().keys, jwks.stats().stale], [0, false]);
      assert.equal(jwks.stats().fetches.no_usable_key, counted + 1, `${what}: counted as no_usable_key`);
      const warnings = own
        .lines()
        .filter((line) => line['event.action'] === 'jwks-no-usable-key' && String(line.message).includes(message));
      assert.equal(warnings.length, 1, `${what}: one warning line`);
    }
    assert.ok(!own.text().includes('bm90LWEtcHVibGljLWtleQ') && !own.text().includes(String(p384.x)), 'no key material logged');
    // The provider publishes a key again: it is used from the next fetch on.
    server.serveKeys([k2]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual([...(await jwks.refetch(60_000))!.byKid.keys()], ['k2']);
  });

  test('the last good set is used at most maxStaleSeconds past its cache lifetime while fetches fail, then none until a fetch succeeds', async () => {
    server.serveKeys([k1], 'max-age=300');
    clockShiftMs = 0;
    const jwks = open({ minCacheSeconds: 300, maxCacheSeconds: 300, maxStaleSeconds: 60, cooldownSeconds: 1 });
    const good = await jwks.keys(60_000);
    assert.ok(good?.byKid.has('k1'));
    await server.down();
    try {
      // Past the cache lifetime, within the stale bound: the fetch it starts fails, the last good set stays.
      clockShiftMs = 330_000;
      assert.equal(await jwks.keys(60_000), good);
      assert.ok(jwks.stats().fetches.unavailable >= 1);
      assert.deepEqual([jwks.stats().keys, jwks.stats().stale], [1, true]);
      // Past lifetime + maxStaleSeconds: no set, fail closed, and the background retries go on.
      clockShiftMs = 361_000;
      assert.equal(await jwks.keys(60_000), undefined);
      assert.equal(await jwks.refetch(60_000), undefined);
      assert.deepEqual([jwks.stats().keys, jwks.stats().stale], [0, true]);
      const retried = jwks.stats().fetches.unavailable;
      await eventually(() => jwks.stats().fetches.unavailable > retried, 'the background retries go on');
      await eventually(
        () => logged.lines().some((line) => line['event.action'] === 'jwks-stale-refused' && line['url.original'] === server.url),
        'one error line says the set is too old to use',
      );
    } finally {
      await server.up();
    }
    server.serveKeys([k1, k2]);
    await eventually(async () => (await jwks.keys(0))?.byKid.has('k2') === true, 'a set again once a fetch succeeds');
    assert.deepEqual([jwks.stats().keys, jwks.stats().stale], [2, false]);
    clockShiftMs = 0;
  });
});
