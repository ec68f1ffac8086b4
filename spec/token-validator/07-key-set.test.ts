import assert from 'node:assert/strict';
import { createHmac, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import type { GatewayResult } from '../../kong/stand-in/gateway.js';
import { createLogger } from '../../lib/ops/logger.js';
import { openKeyDirectory, type KeyDirectory } from '../../lib/tokens/key-directory.js';
import type { KeyAlg } from '../../lib/tokens/key-manifest.js';
import { signJwt } from '../../lib/tokens/signing-keys.js';
import { KEY_SET_KONG_YML } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { keyPair, privatePem, PRIVATE_MEMBERS, publicPem, writeKeys } from '../support/signing-keys.js';

const ALGS: { alg: KeyAlg; kid: string; route: string }[] = [
  { alg: 'ES256', kid: 'es-2026-12', route: '/es256/tokens' },
  { alg: 'EdDSA', kid: 'ed-2026-12', route: '/eddsa/tokens' },
  { alg: 'RS256', kid: 'rs-2026-12', route: '/rs256/tokens' },
];
const NODE_VERIFY: Record<KeyAlg, (input: Buffer, key: KeyObject, signature: Buffer) => boolean> = {
  ES256: (input, key, sig) => verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig),
  EdDSA: (input, key, sig) => verify(null, input, key, sig),
  RS256: (input, key, sig) => verify('sha256', input, key, sig),
};

const segment = (token: string, i: number) =>
  JSON.parse(Buffer.from(token.split('.')[i] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
const withHeader = (token: string, header: Record<string, unknown>) =>
  [Buffer.from(JSON.stringify(header)).toString('base64url'), ...token.split('.').slice(1)].join('.');
/** The token's header and claims under an ES256 signature by `key`. */
const signedWith = (key: KeyObject, token: string) => {
  const input = token.split('.').slice(0, 2).join('.');
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};
const refusal = (res: GatewayResult) => {
  const body = res.json<{ code: string; extensions?: { reason?: string } }>();
  return `${res.status} ${body.code} ${body.extensions?.reason ?? ''}`.trim();
};

describe('tokens of the sidecar key set: issued with each algorithm, verified locally by kid', () => {
  let kong: KongHarness;
  let directory: KeyDirectory;
  const pairs = Object.fromEntries(ALGS.map(({ alg }) => [alg, keyPair(alg)])) as Record<KeyAlg, ReturnType<typeof keyPair>>;
  const issue = async (route: string, apikey = 'alice-key') => {
    const res = await kong.request({ path: route, headers: { apikey } });
    assert.equal(res.status, 200, res.body);
    return res.json<{ access_token: string }>().access_token;
  };
  const gate = (token: string, path = '/orders/1') => kong.request({ path, headers: { authorization: `Bearer ${token}` } });
  const jwks = () => createLocalJWKSet(JSON.parse(directory.keys()!.jwks.body));

  const dir = mkdtempSync(join(tmpdir(), 'key-set-'));
  before(async () => {
    writeKeys(
      dir,
      ALGS.map(({ alg, kid }) => ({ file: `${kid}.pem`, kid, alg, state: 'current' as const, content: privatePem(pairs[alg].privateKey) })),
    );
    kong = await KongHarness.start({ kongYml: KEY_SET_KONG_YML, env: { SIGNING_KEYS_DIR: dir } });
    // Nothing of a private key may ever be printed: its PEM, or any private JWK member.
    for (const { privateKey } of Object.values(pairs)) {
      kong.secretsAlsoToHide.push(privatePem(privateKey));
      const jwk = privateKey.export({ format: 'jwk' }) as Record<string, string | undefined>;
      for (const member of PRIVATE_MEMBERS) if (jwk[member] !== undefined) kong.secretsAlsoToHide.push(jwk[member]);
    }
    // The published set, as the JWKS route serves it: the same directory, read the same way.
    directory = await openKeyDirectory(
      { log: createLogger({ level: 'silent', serviceVersion: 'test' }), nowMs: Date.now },
      { dir, pollMs: 60_000 },
    );
  });
  after(async () => {
    directory.close();
    await kong.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const { alg, kid, route } of ALGS) {
    test(`${alg}: header {alg, kid, typ}, the consumer in client_id and no credential key; verifies with node:crypto and with jose from the JWKS alone`, async () => {
      const token = await issue(route);
      const alice = kong.store.consumerByIdOrUsername('alice')!;
      assert.deepEqual(segment(token, 0), { alg, kid, typ: 'JWT' });
      const claims = segment(token, 1);
      assert.deepEqual(Object.keys(claims), ['sub', 'name', 'client_id', 'jti', 'iat', 'nbf', 'exp', 'iss', 'aud']);
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.client_id, alice.id);
      assert.equal(claims.exp, (claims.iat as number) + 900);

      const [header, payload, signature] = token.split('.') as [string, string, string];
      const independent = createPublicKey(publicPem(pairs[alg].publicKey));
      assert.equal(NODE_VERIFY[alg](Buffer.from(`${header}.${payload}`), independent, Buffer.from(signature, 'base64url')), true);
      const verified = await jwtVerify(token, jwks(), { issuer: 'https://issuer.test', audience: 'api-a', algorithms: [alg] });
      assert.deepEqual(verified.payload, claims);
    });

    test(`${alg}: the gate admits it as the consumer of client_id, without an Admin API call once the consumer is cached`, async () => {
      await gate(await issue(route));
      const calls = kong.adminApi.requests.length;
      const res = await gate(await issue(route));
      assert.equal(res.status, 200, res.body);
      const alice = kong.store.consumerByIdOrUsername('alice')!;
      assert.deepEqual(res.upstreamHeaders!['x-consumer-id'], [alice.id]);
      assert.deepEqual(res.upstreamHeaders!['x-consumer-username'], ['alice']);
      assert.equal(kong.adminApi.requests.length, calls, 'no Admin API call on the hot path');
    });
  }

  test('RFC 9068: typ at+jwt, with iss, aud, sub, client_id, iat, exp and jti; the gate admits it', async () => {
    const token = await issue('/rfc9068/tokens');
    assert.deepEqual(segment(token, 0), { alg: 'ES256', kid: 'es-2026-12', typ: 'at+jwt' });
    const claims = segment(token, 1);
    for (const claim of ['iss', 'aud', 'sub', 'client_id', 'iat', 'exp', 'jti']) assert.ok(claim in claims, claim);
    const verified = await jwtVerify(token, jwks(), { typ: 'at+jwt', issuer: 'https://issuer.test', audience: 'api-a' });
    assert.equal(verified.payload.client_id, kong.store.consumerByIdOrUsername('alice')!.id);
    assert.equal((await gate(token)).status, 200);
  });

  test('a gate that allows only HS256 (the default) refuses them: AUTH_011 algorithm', async () => {
    assert.equal(refusal(await gate(await issue('/es256/tokens'), '/hs256/orders/1')), '400 AUTH_011 algorithm');
  });

  test('RFC 8725: none, HS256 under a public key’s kid, a key named by the token, crit, a kid not in the set, a header alg not its key’s → AUTH_011', async () => {
    const token = await issue('/rs256/tokens');
    const [, payload, signature] = token.split('.') as [string, string, string];
    // Alg confusion: the RSA key's PEM used as an HMAC secret, under its kid.
    const confusedInput = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'rs-2026-12', typ: 'JWT' })).toString('base64url')}.${payload}`;
    const confused = `${confusedInput}.${createHmac('sha256', publicPem(pairs.RS256.publicKey)).update(confusedInput).digest('base64url')}`;
    const cases: [string, string, string][] = [
      ['none', `${withHeader(token, { alg: 'none', kid: 'rs-2026-12' }).split('.').slice(0, 2).join('.')}.`, '400 AUTH_011 algorithm'],
      ['HS256 under the RSA kid', confused, '400 AUTH_011 algorithm'],
      ['the EC kid under RS256', withHeader(token, { alg: 'RS256', kid: 'es-2026-12', typ: 'JWT' }), '400 AUTH_011 algorithm'],
      ['HS512', withHeader(token, { alg: 'HS512', kid: 'rs-2026-12' }), '400 AUTH_011 algorithm'],
      ['unknown kid', withHeader(token, { alg: 'RS256', kid: 'rs-2026-11', typ: 'JWT' }), '400 AUTH_011 key_mismatch'],
      ['no kid', withHeader(token, { alg: 'RS256', typ: 'JWT' }), '400 AUTH_011 key_mismatch'],
      [
        'claims changed',
        `${token.split('.')[0]}.${Buffer.from(JSON.stringify({ ...segment(token, 1), sub: 'mallory' })).toString('base64url')}.${signature}`,
        '400 AUTH_011 signature',
      ],
    ];
    for (const name of ['jku', 'x5u', 'x5c', 'jwk', 'crit'])
      cases.push([
        name,
        withHeader(token, { alg: 'RS256', kid: 'rs-2026-12', typ: 'JWT', [name]: name === 'crit' ? ['exp'] : 'https://attacker.test/k' }),
        '400 AUTH_011 malformed',
      ]);
    for (const [name, forged, expected] of cases) assert.equal(refusal(await gate(forged)), expected, name);
    // The same refusals for an HS256 token: a header that names a key is refused before any credential is read.
    const hs = forgeJwt({ alg: 'HS256', typ: 'JWT', jku: 'https://attacker.test/k' }, { ...segment(token, 1), key: 'alice-jwt-key' }, 'x');
    assert.equal(refusal(await gate(hs)), '400 AUTH_011 malformed');
    assert.equal((await gate(token)).status, 200, 'the untouched token passes');
  });

  test('a key of the same kid that is not ours fails its signature', async () => {
    const token = await issue('/es256/tokens');
    assert.equal(refusal(await gate(signedWith(keyPair('ES256').privateKey, token))), '400 AUTH_011 signature');
  });

  test('endpoint mode: the token must be for the consumer Kong authenticated', async () => {
    const token = await issue('/eddsa/tokens');
    const mine = await kong.request({ path: '/tokens/validate', headers: { apikey: 'alice-key', authorization: `Bearer ${token}` } });
    assert.equal(mine.status, 200, mine.body);
    assert.equal(mine.json().subject, 'alice');
    const theirs = await kong.request({ path: '/tokens/validate', headers: { apikey: 'bob-key', authorization: `Bearer ${token}` } });
    assert.equal(refusal(theirs), '400 AUTH_011 key_mismatch');
  });

  test('introspection: active, with the consumer of client_id', async () => {
    const token = await issue('/es256/tokens');
    const res = await kong.request({
      method: 'POST',
      path: '/tokens/introspect',
      headers: { apikey: 'bob-key', 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${token}`,
    });
    assert.equal(res.status, 200, res.body);
    const body = res.json();
    assert.equal(body.active, true);
    assert.equal(body.client_id, kong.store.consumerByIdOrUsername('alice')!.id);
    assert.equal(body.username, 'alice');
  });

  test("Kong's jwt plugin accepts them with a credential of the key's algorithm, its public PEM in rsa_public_key, and key_claim_name kid", async () => {
    for (const { alg, kid } of ALGS)
      kong.store.addJwtCredential('sidecar-tokens', { key: kid, algorithm: alg, rsa_public_key: publicPem(pairs[alg].publicKey) });
    for (const { alg, route } of ALGS) {
      const token = await issue(route);
      const res = await kong.request({ path: '/api/things', headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, `${alg}: ${res.body}`);
      assert.deepEqual(res.upstreamHeaders!['x-consumer-username'], ['sidecar-tokens']);
      const [header, payload] = token.split('.') as [string, string];
      const tampered = `${header}.${payload}.${Buffer.alloc(alg === 'ES256' ? 64 : alg === 'EdDSA' ? 64 : 256).toString('base64url')}`;
      const refused = await kong.request({ path: '/api/things', headers: { authorization: `Bearer ${tampered}` } });
      assert.deepEqual([refused.status, refused.json().message], [401, 'Invalid signature'], alg);
    }
  });

  test('an HS256 secret shorter than 32 bytes no longer signs (500 AUTH_003 weak_secret); tokens it signed still verify', async () => {
    const res = await kong.request({ path: '/tokens', headers: { apikey: 'weak-key' } });
    assert.equal(refusal(res), '500 AUTH_003 weak_secret');
    const iat = Math.floor(Date.now() / 1000);
    const old = forgeJwt(
      { alg: 'HS256', typ: 'JWT' },
      { sub: 'weak', key: 'weak-jwt-key', iat, exp: iat + 60, iss: 'https://issuer.test', aud: 'api-a' },
      'only-twenty-bytes-ok',
    );
    assert.equal((await gate(old)).status, 200);
  });

  test('no private key material in the metrics', async () => {
    const text = await (await fetch(`${await kong.server.statusUrl()}/metrics/prometheus`)).text();
    for (const secret of kong.secretsAlsoToHide) assert.equal(text.includes(secret), false);
  });
  // Last: the outage opens the Admin API breaker.
  test('a consumer Kong does not know (deleted) → 401 AUTH_002; with the Admin API down and no copy → 503 AUTH_004, never admitted', async () => {
    const key = directory.keys()!.set.current.get('EdDSA')!;
    const iat = Math.floor(Date.now() / 1000);
    const tokenFor = (clientId: string) =>
      signJwt({ sub: 'gone', client_id: clientId, jti: randomUUID(), iat, exp: iat + 60, iss: 'https://issuer.test', aud: 'api-a' }, key);
    assert.equal(refusal(await gate(tokenFor(randomUUID()))), '401 AUTH_002');
    kong.adminApi.setFault({ kind: 'down' });
    try {
      assert.equal(refusal(await gate(tokenFor(randomUUID()))), '503 AUTH_004');
    } finally {
      kong.adminApi.setFault(undefined);
    }
  });
});

describe('without a key directory', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: KEY_SET_KONG_YML });
  });
  after(() => kong.stop());

  test('an asymmetric issuer answers 500 AUTH_003 no_signing_key (one log line, the process keeps serving); HS256 still issues', async () => {
    const res = await kong.request({ path: '/es256/tokens', headers: { apikey: 'alice-key' } });
    assert.equal(refusal(res), '500 AUTH_003 no_signing_key');
    assert.match(res.json<{ detail: string }>().detail, /SIGNING_KEYS_DIR/);
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
  });

  test('a gate refuses a token of a key set: AUTH_011 key_mismatch', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const unsigned = [
      { alg: 'ES256', kid: 'k', typ: 'JWT' },
      { client_id: 'x', iat, exp: iat + 60, iss: 'https://issuer.test', aud: 'api-a' },
    ]
      .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
      .join('.');
    const token = signedWith(keyPair('ES256').privateKey, `${unsigned}.`);
    const res = await kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } });
    assert.equal(refusal(res), '400 AUTH_011 key_mismatch');
  });
});
