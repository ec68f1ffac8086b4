import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { VALIDATOR_KONG_YML } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';

describe("issued tokens over their lifetime, and Kong's jwt plugin rules", () => {
  let kong: KongHarness;
  let shiftDir: string;
  let shiftFile: string;
  /** Moves the plugin server's clock (spec/support/clock-shift.ts), not the test's. */
  const shiftClock = async (ms: number) => {
    writeFileSync(shiftFile, String(ms));
    await new Promise((r) => setTimeout(r, 100));
  };

  before(async () => {
    shiftDir = mkdtempSync(join(tmpdir(), 'kas-clock-'));
    shiftFile = join(shiftDir, 'offset-ms');
    writeFileSync(shiftFile, '0');
    const preload = pathToFileURL(join(PROJECT_ROOT, 'dist/spec/support/clock-shift.js')).href;
    kong = await KongHarness.start({
      kongYml: VALIDATOR_KONG_YML,
      env: { NODE_OPTIONS: `--import=${preload}`, CLOCK_SHIFT_FILE: shiftFile },
    });
  });
  after(async () => {
    await kong.stop();
    rmSync(shiftDir, { recursive: true, force: true });
  });

  const issue = async () =>
    (await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).json<{ access_token: string }>().access_token;
  const validate = (token: string) =>
    kong.request({ path: '/tokens/validate', headers: { apikey: 'alice-key', authorization: `Bearer ${token}` } });

  test('a token from token-issuer validates for its whole TTL and fails one second after it', async () => {
    await shiftClock(0);
    const token = await issue();
    const { claims } = verifyHs256(token, kong.store.jwtCredentialsOf(kong.store.consumerByIdOrUsername('alice')!.id)[0]!.secret);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    assert.equal(exp - iat, 60);
    const at = async (second: number) => {
      await shiftClock((second - Date.now() / 1000) * 1000);
      return validate(token);
    };
    assert.equal((await at(iat)).status, 200, 'at issue time');
    assert.equal((await at(exp - 1)).status, 200, 'the last second of the TTL');
    const expired = await at(exp + 1);
    assert.equal(expired.status, 401);
    assert.equal(expired.json().code, 'AUTH_010');
    assert.deepEqual(expired.json().extensions, { expiredAt: new Date(exp * 1000).toISOString(), reason: 'Token has expired' });
    await shiftClock(0);
  });

  test("a token we issue satisfies the rules of Kong's bundled jwt plugin (key_claim_name: key, claims_to_verify: exp)", async () => {
    await shiftClock(0);
    const token = await issue();
    const alice = kong.store.consumerByIdOrUsername('alice')!;
    // "retrieves the jwt_secret whose key matches the claim named by key_claim_name"
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part!, 'base64url').toString('utf8')) as Record<string, unknown>);
    const credential = kong.store.jwtCredentialByKeyOrId(String(payload!.key));
    assert.ok(credential, 'the key claim names a jwt_secrets credential');
    assert.equal(credential.consumerId, alice.id, 'of the consumer the token was issued to');
    // "the algorithm of the credential must match the token's alg"; HS256 is the credential default
    assert.equal(header!.alg, credential.algorithm);
    // "secret_is_base64: false" — the secret is the HMAC key as is
    verifyHs256(token, credential.secret);
    // "claims_to_verify: exp — must be a number, and in the future"
    assert.equal(typeof payload!.exp, 'number');
    assert.ok(Number(payload!.exp) > Date.now() / 1000);
    // "maximum_expiration": the lifetime is bounded and known
    assert.equal(Number(payload!.exp) - Number(payload!.iat), 60);
    // and the harness's re-play of the jwt plugin lets it through to the upstream
    const res = await kong.request({ path: '/api/orders', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.upstreamHeaders!['x-consumer-id'], [alice.id]);
  });
});
