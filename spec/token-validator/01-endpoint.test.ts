import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, aliceClaims, BOB_SECRET, VALIDATOR_KONG_YML } from '../support/fixtures.js';
import { forgeJwt, nonCanonicalSpellings } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

const HS256 = { alg: 'HS256', typ: 'JWT' };
const now = () => Math.floor(Date.now() / 1000);

const claims = (overrides: Record<string, unknown> = {}) => aliceClaims({ name: 'alice', jti: 'jti-1', ...overrides });

describe('token-validator, endpoint mode', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: VALIDATOR_KONG_YML });
  });
  after(() => kong.stop());

  const validate = (authorization: string | undefined, path = '/tokens/validate', apikey = 'alice-key') =>
    kong.request({ path, headers: authorization === undefined ? { apikey } : { apikey, authorization } });

  async function refusal(res: Awaited<ReturnType<typeof validate>>, status: number, code: string, extensions?: Record<string, unknown>) {
    assert.equal(res.status, status, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const body = res.json();
    assert.equal(body.code, code);
    if (extensions) assert.deepEqual(body.extensions, extensions);
    return body;
  }

  const invalid = (reason: string) => async (token: string) => refusal(await validate(`Bearer ${token}`), 400, 'AUTH_011', { reason });

  test('required_scopes in endpoint mode: 403 AUTH_013 with the RFC 6750 challenge; the scopes reported when present', async () => {
    const scoped = await validate(
      `Bearer ${forgeJwt(HS256, claims({ scope: 'orders:read orders:write' }), ALICE_SECRET)}`,
      '/scoped/validate',
    );
    assert.equal(scoped.status, 200, scoped.body);
    assert.equal(scoped.json().scope, 'orders:read orders:write');
    const missing = await validate(`Bearer ${forgeJwt(HS256, claims({ scope: 'orders:write' }), ALICE_SECRET)}`, '/scoped/validate');
    await refusal(missing, 403, 'AUTH_013', { requiredScopes: ['orders:read'], scopesMatch: 'all' });
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="kong", error="insufficient_scope", scope="orders:read"');
    assert.equal(missing.json().title, 'Insufficient Scope');
  });

  test('a token from token-issuer validates, with the documented success body', async () => {
    const issued = (await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).json<{ access_token: string }>()
      .access_token;
    const res = await validate(`Bearer ${issued}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['valid', 'tokenId', 'subject', 'issuer', 'audience', 'issuedAt', 'expiresAt', 'expiresIn']);
    assert.equal(body.valid, true);
    assert.equal(body.subject, 'alice');
    assert.equal(body.issuer, 'https://issuer.test');
    assert.equal(body.audience, 'api-a');
    assert.equal(Date.parse(String(body.expiresAt)) - Date.parse(String(body.issuedAt)), 60_000);
    assert.ok(Number(body.expiresIn) > 55 && Number(body.expiresIn) <= 60);
  });

  test('AUTH_012 without an Authorization header, or with another scheme; the Bearer scheme is case-insensitive', async () => {
    const missing = await validate(undefined);
    await refusal(missing, 400, 'AUTH_012');
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="kong"');
    await refusal(await validate('Basic YWxpY2U6cHc='), 400, 'AUTH_012');
    assert.equal((await validate(`bEaReR ${forgeJwt(HS256, claims(), ALICE_SECRET)}`)).status, 200);
  });

  test('AUTH_011 malformed for an empty or garbled token', async () => {
    const empty = await refusal(await validate('Bearer '), 400, 'AUTH_011', { reason: 'malformed' });
    assert.equal(empty.detail, 'Token cannot be empty');
    await invalid('malformed')('not.a.jwt');
    await invalid('malformed')('abc');
  });

  test('AUTH_007 for an Authorization header with control characters', async () => {
    await refusal(await validate(`Bearer ${forgeJwt(HS256, claims(), ALICE_SECRET)}\u0001`), 400, 'AUTH_007');
  });

  test('AUTH_011 signature: wrong secret, tampered payload', async () => {
    await invalid('signature')(forgeJwt(HS256, claims(), 'not-the-secret-0123456789'));
    const [h, , s] = forgeJwt(HS256, claims(), ALICE_SECRET).split('.');
    const tampered = Buffer.from(JSON.stringify(claims({ sub: 'admin' }))).toString('base64url');
    await invalid('signature')(`${h}.${tampered}.${s}`);
  });

  test('AUTH_011 algorithm: alg none, HS384, RS256 header (alg confusion)', async () => {
    await invalid('algorithm')(forgeJwt({ alg: 'none', typ: 'JWT' }, claims(), ''));
    await invalid('algorithm')(forgeJwt({ alg: 'HS384', typ: 'JWT' }, claims(), ALICE_SECRET));
    await invalid('algorithm')(forgeJwt({ alg: 'RS256', typ: 'JWT' }, claims(), ALICE_SECRET));
  });

  test('AUTH_010 with extensions.expiredAt for a token expired by 1 s, and a Bearer invalid_token challenge', async () => {
    const exp = now() - 1;
    const res = await validate(`Bearer ${forgeJwt(HS256, claims({ iat: exp - 60, nbf: exp - 60, exp }), ALICE_SECRET)}`);
    const body = await refusal(res, 401, 'AUTH_010');
    assert.equal((body.extensions as { expiredAt: string }).expiredAt, new Date(exp * 1000).toISOString());
    assert.match(res.headers['www-authenticate'] ?? '', /^Bearer realm="kong", error="invalid_token", error_description="/);
  });

  test('AUTH_011 not_yet_valid, issuer, audience, key_mismatch (missing key claim, key of another consumer)', async () => {
    await invalid('not_yet_valid')(forgeJwt(HS256, claims({ nbf: now() + 60 }), ALICE_SECRET));
    await invalid('issuer')(forgeJwt(HS256, claims({ iss: 'https://evil.test' }), ALICE_SECRET));
    await invalid('audience')(forgeJwt(HS256, claims({ aud: 'api-b' }), ALICE_SECRET));
    const { key: _key, ...withoutKey } = claims();
    await invalid('key_mismatch')(forgeJwt(HS256, withoutKey, ALICE_SECRET));
    await invalid('key_mismatch')(forgeJwt(HS256, claims({ key: 'bob-jwt-key' }), ALICE_SECRET));
  });

  test('a token of another consumer does not validate for the caller', async () => {
    await invalid('signature')(forgeJwt(HS256, claims({ sub: 'bob', key: 'bob-jwt-key' }), BOB_SECRET));
  });

  test('a token without exp is refused', async () => {
    const { exp: _exp, ...withoutExp } = claims();
    await invalid('malformed')(forgeJwt(HS256, withoutExp, ALICE_SECRET));
  });

  test('a time claim no date can hold (exp 1e308, past the year 9999, before 1970) is AUTH_011 malformed, never a 500', async () => {
    for (const overrides of [{ exp: 1e308 }, { exp: 253402300800 }, { iat: 1e20 }, { nbf: -1 }, { exp: '2099-01-01' }]) {
      await invalid('malformed')(forgeJwt(HS256, claims(overrides), ALICE_SECRET));
    }
    const lastSecond = await validate(`Bearer ${forgeJwt(HS256, claims({ exp: 253402300799 }), ALICE_SECRET)}`);
    assert.equal(lastSecond.status, 200, lastSecond.body);
    assert.equal(lastSecond.json().expiresAt, '9999-12-31T23:59:59.000Z');
  });

  test('only canonical base64url: a valid token with "=" padding or a last character with unused bits set is AUTH_011 malformed', async () => {
    // Six bytes 0x7E hold one aligned 3-byte group, which encodes as "fn5-": the token has a "-" to respell as "+".
    const token = forgeJwt(HS256, claims({ note: '~~~~~~' }), ALICE_SECRET);
    assert.equal((await validate(`Bearer ${token}`)).status, 200);
    const spellings = nonCanonicalSpellings(token);
    assert.ok(spellings.length >= 2, 'the signature has a padded and a respelled form at least');
    for (const spelling of [...spellings, `${token}=`, `${token}==`]) await invalid('malformed')(spelling);
    await invalid('malformed')(token.replace(/-/g, '+').replace(/_/g, '/'));
  });

  test('non-ASCII claims decode as UTF-8', async () => {
    const res = await validate(`Bearer ${forgeJwt(HS256, claims({ sub: 'Zoë Ågren 日本' }), ALICE_SECRET)}`);
    assert.equal(res.status, 200);
    assert.equal(res.json().subject, 'Zoë Ågren 日本');
  });

  test('clock_skew_seconds and max_token_age_seconds', async () => {
    const expiredRecently = forgeJwt(
      HS256,
      claims({ iat: now() - 100, nbf: now() - 100, exp: now() - 10, iss: undefined, aud: undefined }),
      ALICE_SECRET,
    );
    assert.equal((await validate(`Bearer ${expiredRecently}`, '/lenient/validate')).status, 200, 'inside 30 s of skew');
    const old = forgeJwt(HS256, claims({ iat: now() - 200, exp: now() + 300 }), ALICE_SECRET);
    await refusal(await validate(`Bearer ${old}`, '/lenient/validate'), 400, 'AUTH_011', { reason: 'too_old' });
  });

  test('consumer headers are required in endpoint mode (the contract of the service it replaces)', async () => {
    const res = await kong.request({
      path: '/open/validate',
      headers: { authorization: `Bearer ${forgeJwt(HS256, claims(), ALICE_SECRET)}` },
    });
    await refusal(res, 401, 'AUTH_001');
  });

  test('rotation: a token signed with the new secret validates on its first try while the old secret is cached', async () => {
    // bob: no earlier test spent his once-per-interval re-read on a bad signature.
    const bobToken = (secret: string) => forgeJwt(HS256, claims({ sub: 'bob', key: 'bob-jwt-key' }), secret);
    assert.equal((await validate(`Bearer ${bobToken(BOB_SECRET)}`, '/tokens/validate', 'bob-key')).status, 200, 'old secret now cached');
    const bob = kong.store.consumerByIdOrUsername('bob')!;
    const [credential] = kong.store.jwtCredentialsOf(bob.id);
    kong.store.rotateJwtSecret(credential!.id, 'bob-rotated-secret-0123456789');
    kong.secretsAlsoToHide.push('bob-rotated-secret-0123456789');
    const res = await validate(`Bearer ${bobToken('bob-rotated-secret-0123456789')}`, '/tokens/validate', 'bob-key');
    assert.equal(res.status, 200, res.body);
    const old = await validate(`Bearer ${bobToken(BOB_SECRET)}`, '/tokens/validate', 'bob-key');
    await refusal(old, 400, 'AUTH_011', { reason: 'signature' });
  });
});
