import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { createLogger } from '../../lib/ops/logger.js';
import { openKeyDirectory } from '../../lib/tokens/key-directory.js';
import { signJwt } from '../../lib/tokens/signing-keys.js';
import type { SigningCredential } from '../../lib/tokens/signing-credential.js';
import { AuthError } from '../../lib/errors.js';
import { keyClaim } from '../../lib/credentials/entity-name.js';
import { createTokenVerifier, type VerifyOptions } from '../../lib/tokens/verifier.js';
import { signHs256 } from '../../lib/tokens/signer.js';
import { forgeJwt, nonCanonicalSpellings } from '../support/jwt-check.js';
import { keyPair, privatePem, tempKeyDir, writeKeys } from '../support/signing-keys.js';

const T0 = 1_800_000_000;
const credential = (secret: string): SigningCredential => ({ consumerId: 'c-1', key: 'k-1', secret });
const tokenFor = (cred: SigningCredential, claims: Record<string, unknown>) =>
  signHs256({ sub: 'alice', key: cred.key, iat: T0, exp: T0 + 60, aud: 'api', ...claims }, createSecretKey(Buffer.from(cred.secret)));
const options = (extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  audience: ['api'],
  key_claim_name: 'key',
  clock_skew_seconds: 0,
  ...extra,
});

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof AuthError, 'refused');
  return `${err.code} ${String(err.extensions?.reason ?? '')}`;
}

// A token verified once is remembered; these are the checks the memory must never skip.
describe('the verifier remembers accepted tokens, never past what jose would accept', () => {
  test('a remembered token still expires: valid until exp, AUTH_010 from exp on', async () => {
    let now = T0;
    const verifier = createTokenVerifier({ nowSeconds: () => now });
    const cred = credential('secret-one-0123456789abcdef');
    const opts = options();
    const token = tokenFor(cred, {});
    assert.equal((await verifier.verify(token, cred, opts)).sub, 'alice');
    now = T0 + 59;
    assert.equal((await verifier.verify(token, cred, opts)).sub, 'alice');
    now = T0 + 60;
    assert.match(await refusal(verifier.verify(token, cred, opts)), /^AUTH_010/);
  });

  test('a remembered token still gets too old under max_token_age_seconds', async () => {
    let now = T0;
    const verifier = createTokenVerifier({ nowSeconds: () => now });
    const cred = credential('secret-one-0123456789abcdef');
    const opts = options({ max_token_age_seconds: 10 });
    const token = tokenFor(cred, {});
    await verifier.verify(token, cred, opts);
    now = T0 + 11;
    assert.equal(await refusal(verifier.verify(token, cred, opts)), 'AUTH_011 too_old');
  });

  test('a rotated secret (a new credential) verifies the token again, and refuses it', async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    const old = credential('secret-one-0123456789abcdef');
    const opts = options();
    const token = tokenFor(old, {});
    await verifier.verify(token, old, opts);
    assert.equal(await refusal(verifier.verify(token, credential('secret-two-0123456789abcdef'), opts)), 'AUTH_011 signature');
  });

  test('another plugin config checks the remembered token against its own rules', async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    const cred = credential('secret-one-0123456789abcdef');
    const token = tokenFor(cred, {});
    await verifier.verify(token, cred, options());
    assert.equal(await refusal(verifier.verify(token, cred, options({ audience: ['other'] }))), 'AUTH_011 audience');
    assert.equal(await refusal(verifier.verify(token, cred, options({ issuer: 'https://issuer.example' }))), 'AUTH_011 issuer');
  });

  test('the remembered claims cannot be changed by a caller', async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    const cred = credential('secret-one-0123456789abcdef');
    const opts = options();
    const token = tokenFor(cred, {});
    const first = await verifier.verify(token, cred, opts);
    assert.throws(() => {
      (first as Record<string, unknown>).sub = 'mallory';
    }, TypeError);
    assert.equal((await verifier.verify(token, cred, opts)).sub, 'alice');
  });
});

describe("claimsOf: the claims that name a token's credential, before it is verified", () => {
  test("a verified token's claims come from memory (the very object verify returned); another token is decoded; garbage is AUTH_011 malformed", async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    const cred = credential('secret-one-0123456789abcdef');
    const token = tokenFor(cred, {});
    const fresh = verifier.claimsOf(token);
    assert.equal(fresh.key, 'k-1');
    const payload = await verifier.verify(token, cred, options());
    assert.notEqual(fresh, payload, 'decoded before it was verified');
    assert.equal(verifier.claimsOf(token), payload, 'remembered once verified');
    assert.equal(verifier.claimsOf(tokenFor(cred, { key: 'other-key' })).key, 'other-key');
    assert.throws(
      () => verifier.claimsOf('not.a-jwt'),
      (err: unknown) => err instanceof AuthError && err.code === 'AUTH_011' && err.extensions?.reason === 'malformed',
    );
  });
});

describe('the form every token must have, checked before any credential is looked up', () => {
  const cred = credential('secret-one-0123456789abcdef');
  const malformed = (err: unknown) => err instanceof AuthError && err.code === 'AUTH_011' && err.extensions?.reason === 'malformed';

  test('canonical base64url only: padding, a respelled last character or the base64 alphabet in any segment is AUTH_011 malformed, for claimsOf and verify', async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    // One of three payload lengths leaves unused bits in the payload's last character, as the signature's has;
    // six bytes 0x7E hold one aligned 3-byte group, which encodes as "fn5-": a "-" to respell as "+".
    const token =
      ['', 'x', 'xx'].map((pad) => tokenFor(cred, { pad, note: '~~~~~~' })).find((t) => (t.split('.')[1] ?? '').length % 4 !== 0) ??
      assert.fail();
    const spellings = nonCanonicalSpellings(token);
    assert.equal(spellings.length, 4, 'payload and signature: padded and respelled');
    for (const spelling of [
      ...spellings,
      `${token}=`,
      token.replace(/-/g, '+').replace(/_/g, '/'),
      `${token}.`,
      token.replace('.', '..'),
    ]) {
      assert.notEqual(spelling, token);
      assert.throws(() => verifier.claimsOf(spelling), malformed, spelling);
      assert.equal(await refusal(verifier.verify(spelling, cred, options())), 'AUTH_011 malformed', spelling);
    }
    assert.equal((await verifier.verify(token, cred, options())).sub, 'alice', 'the canonical spelling verifies');
  });

  test('exp must be there, and exp, iat and nbf NumericDates between 1970 and the end of the year 9999', async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    // An undefined claim is left out of the token.
    const refused = [
      { exp: undefined },
      { exp: 1e308 },
      { exp: 253402300800 },
      { exp: '1800000060' },
      { exp: null },
      { iat: 1e20 },
      { iat: -1 },
      { nbf: -1 },
      { nbf: 'now' },
    ];
    for (const claims of refused) {
      const token = tokenFor(cred, claims);
      const label = JSON.stringify(claims, (_name, value: unknown) => (value === undefined ? 'left out' : value));
      assert.throws(() => verifier.claimsOf(token), malformed, label);
      assert.equal(await refusal(verifier.verify(token, cred, options())), 'AUTH_011 malformed', label);
    }
    assert.equal((await verifier.verify(tokenFor(cred, { exp: 253402300799, nbf: 0 }), cred, options())).exp, 253402300799);
    const [header, payload, signature] = tokenFor(cred, {}).split('.');
    const encoded = (json: string) => Buffer.from(json).toString('base64url');
    for (const token of [
      `${encoded('[]')}.${payload}.${signature}`,
      `${header}.${encoded('[1]')}.${signature}`,
      `${header}.${encoded('{"exp":')}.${signature}`,
      `${header}..${signature}`,
    ]) {
      assert.throws(() => verifier.claimsOf(token), malformed, 'a header or payload that is not a JSON object');
    }
  });

  test('an alg other than HS256 is AUTH_011 algorithm from claimsOf already', () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    const [, payload, signature] = tokenFor(cred, {}).split('.');
    for (const alg of ['none', 'HS512', 'RS256', undefined]) {
      const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
      assert.throws(
        () => verifier.claimsOf(`${header}.${payload}.${signature}`),
        (err: unknown) => err instanceof AuthError && err.extensions?.reason === 'algorithm',
        String(alg),
      );
    }
  });

  test("with the plugin's options, claimsOf also refuses what time alone refuses, exactly as verify does: nbf, exp with the skew, the maximum age", async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 + 100 });
    const token = tokenFor(cred, {}); // iat T0, exp T0 + 60
    assert.equal(verifier.claimsOf(token).sub, 'alice', 'without options: the form only');
    assert.equal(verifier.claimsOf(token, options({ clock_skew_seconds: 41 })).sub, 'alice', 'inside the skew');
    const young = tokenFor(cred, { exp: T0 + 600 });
    assert.equal(verifier.claimsOf(young, options({ max_token_age_seconds: 100 })).sub, 'alice', 'exactly the maximum age');
    const cases: Array<[string, VerifyOptions, string]> = [
      [token, options(), 'AUTH_010 Token has expired'],
      [token, options({ clock_skew_seconds: 40 }), 'AUTH_010 Token has expired'],
      [tokenFor(cred, { nbf: T0 + 200, exp: T0 + 600 }), options(), 'AUTH_011 not_yet_valid'],
      [young, options({ max_token_age_seconds: 99 }), 'AUTH_011 too_old'],
      [tokenFor(cred, { iat: undefined, exp: T0 + 600 }), options({ max_token_age_seconds: 99 }), 'AUTH_011 too_old'],
      [tokenFor(cred, { iat: T0 + 200, exp: T0 + 600 }), options({ max_token_age_seconds: 99 }), 'AUTH_011 too_old'],
    ];
    for (const [tok, opts, expected] of cases) {
      assert.equal(await refusal(Promise.resolve().then(() => verifier.claimsOf(tok, opts))), expected);
      assert.equal(await refusal(verifier.verify(tok, cred, opts)), expected, 'as verify answers');
    }
  });
});

describe('keyClaim: the credential key a token names', () => {
  test('a key that cannot name a credential is AUTH_011 key_mismatch: empty, not a string, ".", "..", control characters, a lone surrogate, over 256 characters', () => {
    const mismatch = (err: unknown) => err instanceof AuthError && err.code === 'AUTH_011' && err.extensions?.reason === 'key_mismatch';
    for (const key of [undefined, '', 42, '.', '..', 'a\u0000b', 'a\nb', 'a\u007fb', 'a\u202eb', '\ud800', 'k'.repeat(257)]) {
      assert.throws(() => keyClaim({ key }, 'key'), mismatch, JSON.stringify(key));
    }
    for (const key of ['alice-jwt-key', 'a.b', '...', 'Zoë key', 'k'.repeat(256)]) assert.equal(keyClaim({ key }, 'key'), key);
  });
});

describe('token_types: the header typ every verified token must have, when the config names any', () => {
  const typed = options({ token_types: ['at+jwt'] });

  test('HS256: at+jwt in any case, with or without application/, is accepted; JWT, another type or none is AUTH_011 token_type', async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    const cred = credential('secret-one-0123456789abcdef');
    const claims = { sub: 'alice', key: cred.key, iat: T0, exp: T0 + 60, aud: 'api' };
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+Jwt'])
      assert.equal((await verifier.verify(forgeJwt({ alg: 'HS256', typ }, claims, cred.secret), cred, typed)).sub, 'alice', typ);
    for (const typ of ['JWT', 'application/jwt', 'at+jwt; charset=utf-8', 7, undefined])
      assert.equal(
        await refusal(verifier.verify(forgeJwt({ alg: 'HS256', typ }, claims, cred.secret), cred, typed)),
        'AUTH_011 token_type',
        String(typ),
      );
    assert.equal((await verifier.verify(tokenFor(cred, {}), cred, options({ token_types: [] }))).sub, 'alice', 'empty: any typ');
    assert.equal((await verifier.verify(tokenFor(cred, {}), cred, options({ token_types: ['JWT'] }))).sub, 'alice', 'JWT, as configured');
  });

  test("a token of the sidecar's key set: its typ is checked too", async (t) => {
    const dir = tempKeyDir(t);
    writeKeys(dir, [{ file: 'es.pem', kid: 'es-1', alg: 'ES256', state: 'current', content: privatePem(keyPair('ES256').privateKey) }]);
    const directory = await openKeyDirectory(
      { log: createLogger({ level: 'silent', serviceVersion: 'test' }), nowMs: Date.now },
      { dir, pollMs: 60_000 },
    );
    t.after(() => directory.close());
    const verifier = createTokenVerifier({ nowSeconds: () => T0, keys: () => directory.keys()?.set });
    const key = directory.keys()!.set.byKid.get('es-1')!;
    const claims = { sub: 'alice', client_id: 'c-1', iat: T0, exp: T0 + 60, aud: 'api' };
    const opts = { ...typed, algorithms: ['ES256'] };
    assert.equal((await verifier.verifyWithKeySet(signJwt(claims, key, 'at+jwt'), opts)).kid, 'es-1');
    assert.equal(await refusal(verifier.verifyWithKeySet(signJwt(claims, key, 'JWT'), opts)), 'AUTH_011 token_type');
  });
});
