import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthError } from '../../lib/errors.js';
import { SignJWT } from 'jose';
import { createTokenService, type IssueOptions } from '../../lib/tokens/signer.js';
import { verifyHs256 } from '../support/jwt-check.js';

const credential = { consumerId: 'c', key: 'the-key', secret: 'sécret-ünïcode-0123456789abcdef' };
const tokens = createTokenService({ nowMs: () => 1_700_000_000_000 });

describe('token service', () => {
  test('signs with the UTF-8 bytes of the secret', async () => {
    const { accessToken } = tokens.issue('Zoë', credential, { ttl_seconds: 900, audience: [], key_claim_name: 'key' });
    const { claims } = verifyHs256(accessToken, credential.secret);
    assert.deepEqual(claims, {
      sub: 'Zoë',
      name: 'Zoë',
      key: 'the-key',
      jti: claims.jti,
      iat: 1_700_000_000,
      nbf: 1_700_000_000,
      exp: 1_700_000_900,
    });
  });

  test("tokens are byte-identical to jose's SignJWT for the same claims", async () => {
    const cases: IssueOptions[] = [
      { ttl_seconds: 900, audience: [], key_claim_name: 'key' },
      { ttl_seconds: 60, issuer: 'https://issuer.test', audience: ['api-a'], key_claim_name: 'key', unique_name_prefix: 'corp#' },
      { ttl_seconds: 86400, issuer: 'https://ü.test/ñ?a=b&c="d"', audience: ['a', 'b', 'c'], key_claim_name: 'kid_key' },
    ];
    for (const [index, opts] of cases.entries()) {
      for (const subject of ['alice', 'Zoë Ågren 日本 🚀', 'quote"back\\slash/</script>']) {
        const { accessToken } = tokens.issue(subject, credential, opts);
        const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString('utf8')) as Record<
          string,
          unknown
        >;
        const byJose = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .sign(new TextEncoder().encode(credential.secret));
        assert.equal(accessToken, byJose, `case ${index}, ${subject}`);
      }
    }
  });

  test('AUTH_003 when the credential cannot sign (no secret)', () => {
    assert.throws(
      () => tokens.issue('a', { ...credential, secret: '' }, { ttl_seconds: 900, audience: [], key_claim_name: 'key' }),
      (err: unknown) => {
        assert.ok(err instanceof AuthError);
        assert.equal(err.code, 'AUTH_003');
        assert.equal(err.status, 500);
        return true;
      },
    );
  });
});
