import assert from 'node:assert/strict';
import { createHash, createHmac, createPublicKey, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import { createLocalJWKSet, importPKCS8, jwtVerify, SignJWT } from 'jose';
import { AuthError } from '../../lib/errors.js';
import { jwksOf } from '../../lib/tokens/jwks.js';
import { KEY_ALGS, type ManifestEntry } from '../../lib/tokens/key-manifest.js';
import { buildKeySet } from '../../lib/tokens/key-set.js';
import { signJwt, verifyJwt } from '../../lib/tokens/signing-keys.js';
import { keyPair, privateJwk, privatePem, PRIVATE_MEMBERS, publicPem } from '../support/signing-keys.js';

const NOW_MS = Date.parse('2026-12-01T12:00:00Z');
const claims = { sub: 'alice', iss: 'https://auth.example.test', aud: 'api', iat: 1_800_000_000, exp: 1_800_000_900, scope: 'a b' };

type Entry = ManifestEntry & { content: string };

async function setOf(entries: Entry[]) {
  const files = new Map(entries.map((e) => [e.file, Buffer.from(e.content)]));
  const { set } = await buildKeySet({ keys: entries.map(({ content: _, ...entry }) => entry) }, files, { nowMs: NOW_MS });
  return set;
}

const segment = (token: string, i: number) =>
  JSON.parse(Buffer.from(token.split('.')[i] as string, 'base64url').toString('utf8')) as unknown;
const resign = (token: string, header: Record<string, unknown>) =>
  [Buffer.from(JSON.stringify(header)).toString('base64url'), ...token.split('.').slice(1)].join('.');

function refusedWith(reason: string) {
  return (err: unknown) => err instanceof AuthError && err.code === 'AUTH_011' && err.extensions?.reason === reason;
}

describe('signing with the key set (node:crypto)', () => {
  for (const alg of KEY_ALGS) {
    test(`${alg}: the token's header is {alg, kid, typ}; it verifies with node:crypto, with jose from the JWKS alone, and with verifyJwt`, async () => {
      const { privateKey, publicKey } = keyPair(alg);
      const set = await setOf([{ file: 'k.pem', alg, state: 'current', content: privatePem(privateKey) }]);
      const key = set.current.get(alg)!;
      const token = signJwt(claims, key);
      assert.deepEqual(segment(token, 0), { alg, kid: key.kid, typ: 'JWT' });

      const [header, payload, signature] = token.split('.') as [string, string, string];
      const input = Buffer.from(`${header}.${payload}`);
      const sig = Buffer.from(signature, 'base64url');
      const independent = createPublicKey(publicPem(publicKey));
      const ok =
        alg === 'ES256'
          ? verify('sha256', input, { key: independent, dsaEncoding: 'ieee-p1363' }, sig)
          : verify(alg === 'EdDSA' ? null : 'sha256', input, independent, sig);
      assert.equal(ok, true);
      if (alg === 'ES256') assert.equal(sig.length, 64, 'JOSE r‖s form, not DER');

      const jwks = createLocalJWKSet(JSON.parse(jwksOf(set).body));
      const verified = await jwtVerify(token, jwks, { currentDate: new Date(1_800_000_100_000) });
      assert.deepEqual(verified.payload, claims);
      assert.deepEqual(verified.protectedHeader, { alg, kid: key.kid, typ: 'JWT' });

      assert.deepEqual(verifyJwt(token, set).claims, claims);
    });

    test(`${alg}: a token jose's SignJWT made with the same key verifies with verifyJwt`, async () => {
      const { privateKey } = keyPair(alg);
      const set = await setOf([{ file: 'k.pem', alg, state: 'current', content: privatePem(privateKey) }]);
      const kid = set.current.get(alg)!.kid;
      const token = await new SignJWT(claims).setProtectedHeader({ alg, kid }).sign(await importPKCS8(privatePem(privateKey), alg));
      assert.deepEqual(verifyJwt(token, set).claims, claims);
    });
  }

  test('typ at+jwt for RFC 9068 access tokens', async () => {
    const set = await setOf([{ file: 'k.pem', alg: 'EdDSA', state: 'current', content: privatePem(keyPair('EdDSA').privateKey) }]);
    const key = set.current.get('EdDSA')!;
    assert.deepEqual(segment(signJwt(claims, key, 'at+jwt'), 0), { alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' });
  });

  test('the kid is the RFC 7638 thumbprint unless the manifest gives one', async () => {
    const { privateKey, publicKey } = keyPair('ES256');
    const jwk = publicKey.export({ format: 'jwk' });
    const thumbprint = createHash('sha256')
      .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
      .digest('base64url');
    const set = await setOf([
      { file: 'a.pem', alg: 'ES256', state: 'current', content: privatePem(privateKey) },
      { file: 'b.pem', kid: 'named-2026-12', alg: 'EdDSA', state: 'next', content: privatePem(keyPair('EdDSA').privateKey) },
    ]);
    assert.deepEqual(
      set.keys.map((k) => k.kid),
      [thumbprint, 'named-2026-12'],
    );
  });
});

describe('verifying against the key set', () => {
  test('the key is found by exact kid; the algorithm is the key’s, never the header’s alone', async () => {
    const es = keyPair('ES256');
    const rs = keyPair('RS256');
    const set = await setOf([
      { file: 'es.pem', kid: 'es', alg: 'ES256', state: 'current', content: privatePem(es.privateKey) },
      { file: 'rs.pem', kid: 'rs', alg: 'RS256', state: 'current', content: privatePem(rs.privateKey) },
    ]);
    const token = signJwt(claims, set.byKid.get('rs')!);
    // Alg confusion: HS256 keyed with the public key's PEM, under the RSA key's kid.
    const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'rs', typ: 'JWT' })).toString('base64url')}.${token.split('.')[1]}`;
    const confused = `${input}.${createHmac('sha256', publicPem(rs.publicKey)).update(input).digest('base64url')}`;
    assert.throws(() => verifyJwt(confused, set), refusedWith('algorithm'));
    assert.throws(() => verifyJwt(resign(token, { alg: 'ES256', kid: 'rs' }), set), refusedWith('algorithm'));
    assert.throws(() => verifyJwt(resign(token, { alg: 'none', kid: 'rs' }), set), refusedWith('algorithm'));
    // The EC key's kid with the header's alg RS256: the key decides.
    assert.throws(() => verifyJwt(resign(token, { alg: 'RS256', kid: 'es' }), set), refusedWith('algorithm'));
    for (const kid of ['unknown', 'RS', 'rs ', '__proto__', 'constructor', 42, undefined])
      assert.throws(() => verifyJwt(resign(token, { alg: 'RS256', kid }), set), refusedWith('key_mismatch'), String(kid));
    for (const name of ['jku', 'x5u', 'x5c', 'jwk', 'crit'])
      assert.throws(() => verifyJwt(resign(token, { alg: 'RS256', kid: 'rs', [name]: 'x' }), set), refusedWith('malformed'), name);
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url')}.${s}`;
    assert.throws(() => verifyJwt(forged, set), refusedWith('signature'));
    assert.throws(() => verifyJwt('not.a.jwt', set), refusedWith('malformed'));
    assert.deepEqual(verifyJwt(token, set).claims, claims);
  });
});

describe('the JWKS document', () => {
  test('public members, kid, alg and use only, for every key type, PEM or JWK file, private or public only', async () => {
    const pairs = { es: keyPair('ES256'), ed: keyPair('EdDSA'), rs: keyPair('RS256'), old: keyPair('RS256') };
    const set = await setOf([
      { file: 'es.pem', kid: 'es', alg: 'ES256', state: 'current', content: privatePem(pairs.es.privateKey) },
      { file: 'ed.json', kid: 'ed', alg: 'EdDSA', state: 'next', content: privateJwk(pairs.ed.privateKey) },
      { file: 'rs.json', kid: 'rs', alg: 'RS256', state: 'current', content: privateJwk(pairs.rs.privateKey) },
      {
        file: 'old.pem',
        kid: 'old',
        alg: 'RS256',
        state: 'retired',
        retired_at: '2026-12-01T11:00:00Z',
        content: publicPem(pairs.old.publicKey),
      },
    ]);
    const jwks = jwksOf(set);
    const pub = (pair: { publicKey: import('node:crypto').KeyObject }) => pair.publicKey.export({ format: 'jwk' });
    assert.deepEqual(JSON.parse(jwks.body), {
      keys: [
        { kty: 'EC', crv: 'P-256', x: pub(pairs.es).x, y: pub(pairs.es).y, kid: 'es', alg: 'ES256', use: 'sig' },
        { kty: 'OKP', crv: 'Ed25519', x: pub(pairs.ed).x, kid: 'ed', alg: 'EdDSA', use: 'sig' },
        { kty: 'RSA', n: pub(pairs.rs).n, e: 'AQAB', kid: 'rs', alg: 'RS256', use: 'sig' },
        { kty: 'RSA', n: pub(pairs.old).n, e: 'AQAB', kid: 'old', alg: 'RS256', use: 'sig' },
      ],
    });
    for (const key of JSON.parse(jwks.body).keys as Record<string, unknown>[])
      for (const member of PRIVATE_MEMBERS) assert.equal(member in key, false, `${String(key.kid)} has ${member}`);
    for (const pair of Object.values(pairs)) {
      const secret = pair.privateKey.export({ format: 'jwk' }) as Record<string, string | undefined>;
      for (const member of PRIVATE_MEMBERS) if (secret[member]) assert.equal(jwks.body.includes(secret[member]), false);
    }
    assert.equal(jwks.etag, `"${createHash('sha256').update(jwks.body).digest('base64url')}"`);
  });

  test('the ETag changes with the set and only with it', async () => {
    const content = privatePem(keyPair('ES256').privateKey);
    const one = jwksOf(await setOf([{ file: 'a.pem', alg: 'ES256', state: 'current', content }]));
    const same = jwksOf(await setOf([{ file: 'renamed.pem', alg: 'ES256', state: 'current', content }]));
    const more = jwksOf(
      await setOf([
        { file: 'a.pem', alg: 'ES256', state: 'current', content },
        { file: 'b.pem', alg: 'ES256', state: 'next', content: privatePem(keyPair('ES256').privateKey) },
      ]),
    );
    assert.equal(same.etag, one.etag);
    assert.notEqual(more.etag, one.etag);
  });
});
