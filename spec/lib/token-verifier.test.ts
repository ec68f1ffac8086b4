import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, test } from 'node:test';
import type { SigningCredential } from '../../lib/credentials.js';
import { AuthError } from '../../lib/errors.js';
import { createTokenVerifier, type VerifyOptions } from '../../lib/token-verifier.js';
import { signHs256 } from '../../lib/tokens.js';

const T0 = 1_800_000_000;
const credential = (secret: string): SigningCredential => ({ consumerId: 'c-1', key: 'k-1', secret });
const tokenFor = (cred: SigningCredential, claims: Record<string, unknown>) => signHs256({ sub: 'alice', key: cred.key, iat: T0, exp: T0 + 60, aud: 'api', ...claims }, createSecretKey(Buffer.from(cred.secret)));
const options = (extra: Partial<VerifyOptions> = {}): VerifyOptions => ({ audience: ['api'], keyClaimName: 'key', clockSkewSeconds: 0, ...extra });

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
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
    const opts = options({ maxTokenAgeSeconds: 10 });
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

describe('claimsOf: the claims that name a token\'s credential, before it is verified', () => {
  test('a verified token\'s claims come from memory (the very object verify returned); another token is decoded; garbage is AUTH_011 malformed', async () => {
    const verifier = createTokenVerifier({ nowSeconds: () => T0 });
    const cred = credential('secret-one-0123456789abcdef');
    const token = tokenFor(cred, {});
    const fresh = verifier.claimsOf(token);
    assert.equal(fresh.key, 'k-1');
    const payload = await verifier.verify(token, cred, options());
    assert.notEqual(fresh, payload, 'decoded before it was verified');
    assert.equal(verifier.claimsOf(token), payload, 'remembered once verified');
    assert.equal(verifier.claimsOf(tokenFor(cred, { key: 'other-key' })).key, 'other-key');
    assert.throws(() => verifier.claimsOf('not.a-jwt'), (err: unknown) => err instanceof AuthError && err.code === 'AUTH_011' && err.extensions?.reason === 'malformed');
  });
});
