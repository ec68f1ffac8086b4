import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthError } from '../../lib/errors.js';
import { createTokenService } from '../../lib/tokens.js';
import { verifyHs256 } from '../support/jwt-check.js';

const credential = { consumerId: 'c', key: 'the-key', secret: 'sécret-ünïcode-0123' };
const tokens = createTokenService({ nowSeconds: () => 1_700_000_000 });

describe('token service', () => {
  test('signs with the UTF-8 bytes of the secret', async () => {
    const { accessToken } = await tokens.issue('Zoë', credential, { ttlSeconds: 900, audience: [], keyClaimName: 'key' });
    const { claims } = verifyHs256(accessToken, credential.secret);
    assert.deepEqual(claims, { sub: 'Zoë', name: 'Zoë', key: 'the-key', jti: claims.jti, iat: 1_700_000_000, nbf: 1_700_000_000, exp: 1_700_000_900 });
  });

  test('AUTH_003 when signing fails (a zero-length HMAC key)', async () => {
    const err = await tokens.issue('a', { ...credential, secret: '' }, { ttlSeconds: 900, audience: [], keyClaimName: 'key' }).catch((e: unknown) => e);
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'AUTH_003');
    assert.equal(err.status, 500);
  });
});
