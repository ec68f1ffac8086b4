import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import type { GatewayResult } from '../../kong/stand-in/gateway.js';
import { ORDERS_SERVICE_BEHIND_BACKSTOP } from '../support/fixtures.js';
import { JwksServer, providerKey, signRaw, signWith, type ProviderKey } from '../support/jwks-server.js';
import { eventually, sleep } from '../support/eventually.js';
import { metricValue, scrape } from '../support/prometheus.js';
import { forgeJwt } from '../support/jwt-check.js';
import { exportJWK } from 'jose';

const ISSUER = 'https://idp.test/realms/orders';
const AUDIENCE = 'orders-api';
const now = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'user-1',
  jti: randomUUID(),
  iat: now(),
  exp: now() + 300,
  scope: 'orders:read',
  ...over,
});

/** A gate route verifying with the JWKS at `url`; `extra` adds config fields (YAML flow mapping entries). */
const remoteRoute = (name: string, url: string, extra = '') => `      - name: ${name}
        paths: [/${name}]
        plugins:
          - name: token-validator
            config: { mode: gate, jwks_uri: "${url}", issuer: "${ISSUER}", audience: [${AUDIENCE}], algorithms: [ES256, RS256, PS256, EdDSA]${extra} }
`;

const body = (res: GatewayResult) => JSON.parse(res.body) as { code?: string; extensions?: { reason?: string } };

describe('token-validator gate with a remote JWKS (an identity provider on 127.0.0.1)', () => {
  let kong: KongHarness;
  const servers: Record<'main' | 'rotating' | 'flaky' | 'slow' | 'counted' | 'dead' | 'withdrawing' | 'stale', JwksServer> = {} as never;
  let es: ProviderKey;
  let rs: ProviderKey;
  let ps: ProviderKey;
  let ed: ProviderKey;

  const call = (path: string, token: string | undefined, headers: Record<string, string> = {}) =>
    kong.request({ path: `/${path}/orders`, headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers } });

  before(async () => {
    [es, rs, ps, ed] = await Promise.all([
      providerKey('es-1', 'ES256'),
      providerKey('rs-1', 'RS256'),
      providerKey('ps-1', 'PS256'),
      providerKey('ed-1', 'EdDSA'),
    ]);
    for (const name of ['main', 'rotating', 'flaky', 'slow', 'counted', 'dead', 'withdrawing', 'stale'] as const)
      servers[name] = await JwksServer.start();
    servers.main.serveKeys([es, rs, ps, ed], 'public, max-age=600');
    servers.rotating.serveKeys([es]);
    servers.flaky.serveKeys([es]);
    servers.slow.serveKeys([es]);
    servers.counted.serveKeys([es]);
    servers.withdrawing.serveKeys([es]);
    servers.stale.serveKeys([es]);
    await servers.dead.down();
    kong = await KongHarness.start({
      kongYml: `_format_version: "3.0"
services:
${ORDERS_SERVICE_BEHIND_BACKSTOP}
${remoteRoute('idp', servers.main.url)}${remoteRoute('rotating', servers.rotating.url, ', jwks_min_cache_seconds: 1, jwks_max_cache_seconds: 1')}${remoteRoute('flaky', servers.flaky.url, ', jwks_refetch_cooldown_seconds: 1')}${remoteRoute('slow', servers.slow.url, ', jwks_max_wait_ms: 50')}${remoteRoute('counted', servers.counted.url, ', jwks_refetch_cooldown_seconds: 3600, jwks_max_wait_ms: 10000')}${remoteRoute('dead', servers.dead.url)}${remoteRoute('withdrawing', servers.withdrawing.url, ', jwks_min_cache_seconds: 1, jwks_max_cache_seconds: 1')}${remoteRoute('stale', servers.stale.url, ', jwks_min_cache_seconds: 1, jwks_max_cache_seconds: 1, jwks_max_stale_seconds: 1, jwks_refetch_cooldown_seconds: 1')}${remoteRoute('typed', servers.main.url, ', token_types: [at+jwt]')}${remoteRoute('misconfigured', servers.dead.url, ', jwks_min_cache_seconds: 600, jwks_max_cache_seconds: 60')}
consumers: []
`,
    });
  });
  after(async () => {
    await kong.stop();
    for (const server of Object.values(servers)) await server.down();
  });

  test('each algorithm: admitted with the identity from the verified claims, no Kong consumer, the credential marked for the backstop', async () => {
    for (const key of [es, rs, ps, ed]) {
      const jti = randomUUID();
      const res = await call('idp', await signWith(key, claims({ jti, sub: `user-${key.alg}`, scope: 'orders:read orders:write' })), {
        'x-consumer-id': 'spoofed',
        'x-credential-identifier': 'spoofed',
      });
      assert.equal(res.status, 200, `${key.alg}: ${res.body}`);
      assert.equal(res.source, 'upstream');
      const upstream = res.upstreamHeaders!;
      assert.deepEqual(upstream['x-credential-identifier'], [`user-${key.alg}`]);
      assert.deepEqual(upstream['x-token-id'], [jti]);
      assert.deepEqual(upstream['x-token-scopes'], ['orders:read orders:write']);
      assert.equal(upstream['x-consumer-id'], undefined, 'a client copy is cleared; a remote token names no Kong consumer');
      assert.equal(res.authenticatedConsumer, null, 'kong.client.authenticate(nil, credential)');
      assert.equal(res.authenticatedCredential?.id, `user-${key.alg}`);
      assert.equal(res.authenticatedCredential?.kong_auth_sidecar_gate, true);
    }
    assert.equal(kong.adminApi.requests.length, 0, 'no Admin API call');
  });

  test('refusals: wrong issuer, audience, expired, a kid nobody published, an algorithm not allowed or not the key’s, RFC 8725 headers, none, HS256', async () => {
    const cases: Array<[string, Promise<string> | string, number, string, string?]> = [
      ['issuer', signWith(es, claims({ iss: 'https://other.test' })), 400, 'AUTH_011', 'issuer'],
      ['audience', signWith(es, claims({ aud: 'another-api' })), 400, 'AUTH_011', 'audience'],
      ['expired', signWith(es, claims({ exp: now() - 10 })), 401, 'AUTH_010'],
      ['not yet valid', signWith(es, claims({ nbf: now() + 600 })), 400, 'AUTH_011', 'not_yet_valid'],
      ['unknown kid', signWith({ ...es, kid: 'never-published' }, claims()), 400, 'AUTH_011', 'key_mismatch'],
      ['no kid', signWith(es, claims(), { kid: undefined }), 400, 'AUTH_011', 'key_mismatch'],
      ['the key is for another alg', signWith({ ...rs, kid: 'ps-1' }, claims()), 400, 'AUTH_011', 'algorithm'],
      ['jku', signRaw(es, { jku: 'https://evil.test/jwks' }, claims()), 400, 'AUTH_011', 'malformed'],
      ['x5u', signRaw(es, { x5u: 'https://evil.test/cert' }, claims()), 400, 'AUTH_011', 'malformed'],
      ['jwk', signRaw(es, { jwk: es.jwk }, claims()), 400, 'AUTH_011', 'malformed'],
      ['crit', signRaw(es, { crit: ['exp'], exp: 1 }, claims()), 400, 'AUTH_011', 'malformed'],
      ['none', forgeJwt({ alg: 'none', kid: 'es-1' }, claims(), ''), 400, 'AUTH_011', 'algorithm'],
      // The public key as an HMAC secret (alg confusion).
      ['HS256', forgeJwt({ alg: 'HS256', kid: 'rs-1' }, claims(), JSON.stringify(rs.jwk)), 400, 'AUTH_011', 'algorithm'],
      ['signature', (await signWith(es, claims())).replace(/.{4}$/, 'AAAA'), 400, 'AUTH_011', 'signature'],
      // OpenID Connect ID tokens of the same issuer and audience are not access tokens.
      ['nonce', signWith(es, claims({ nonce: 'n-0S6_WzA2Mj' })), 400, 'AUTH_011', 'token_type'],
      ['at_hash', signWith(es, claims({ at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' })), 400, 'AUTH_011', 'token_type'],
    ];
    for (const [what, token, status, code, reason] of cases) {
      const res = await call('idp', await token);
      assert.equal(res.status, status, `${what}: ${res.body}`);
      assert.equal(res.source, 'exit', `${what}: never upstream`);
      assert.equal(body(res).code, code, what);
      if (reason) assert.equal(body(res).extensions?.reason, reason, what);
    }
  });

  test('a provider that rotates: a new kid is seen by the background refresh before any token names it, the old kid stays valid while published', async () => {
    const server = servers.rotating;
    assert.equal((await call('rotating', await signWith(es, claims()))).status, 200);
    const next = await providerKey('es-2', 'ES256');
    server.serveKeys([es, next]);
    const fetched = server.fetches;
    // No request meanwhile: the fetches are the refresh's own (cache lifetime 1 s, fetched at 3/4 of it).
    await eventually(() => server.fetches >= fetched + 2, 'the background refresh fetched the new set');
    const before = server.fetches;
    const [oldToken, newToken] = await Promise.all([signWith(es, claims()), signWith(next, claims())]);
    assert.equal((await call('rotating', newToken)).status, 200, 'the new kid, without waiting on a fetch');
    assert.equal((await call('rotating', oldToken)).status, 200, 'the old kid, still published');
    assert.ok(server.fetches - before <= 1, 'the requests did not fetch (at most one background refresh in between)');
    // The provider drops the old key: its tokens are refused once the set without it is fetched.
    server.serveKeys([next]);
    await eventually(async () => (await call('rotating', oldToken)).status === 400, 'a dropped key’s tokens are refused');
    assert.equal(body(await call('rotating', oldToken)).extensions?.reason, 'key_mismatch');
    assert.equal((await call('rotating', newToken)).status, 200);
  });

  test('a provider that goes down, serves garbage, too much, an error status, then re-keys under the same kid', async () => {
    const server = servers.flaky;
    const token = await signWith(es, claims());
    assert.equal((await call('flaky', token)).status, 200);
    const unknownKid = () => signWith({ ...es, kid: `new-${randomUUID()}` }, claims());
    const failures: Array<[string, () => Promise<void> | void]> = [
      ['down', () => server.down()],
      [
        'garbage',
        async () => {
          await server.up();
          server.answer = { kind: 'body', body: '<html>maintenance</html>', contentType: 'text/html' };
        },
      ],
      ['oversized', () => void (server.answer = { kind: 'body', body: `{"keys":[${' '.repeat(300 * 1024)}]}` })],
      ['an error status', () => void (server.answer = { kind: 'body', body: '{"keys":[]}', status: 404 })],
    ];
    for (const [what, fail] of failures) {
      await fail();
      const fetches = server.fetches;
      await sleep(1100); // past the refetch cooldown (1 s), so the next unknown kid fetches
      assert.equal(body(await call('flaky', await unknownKid())).extensions?.reason, 'key_mismatch', `${what}: an unknown kid refetched`);
      if (what !== 'down') assert.ok(server.fetches > fetches, `${what}: the refetch reached the provider`);
      assert.equal((await call('flaky', token)).status, 200, `${what}: the last good set stays in use`);
    }
    // Re-keyed under the same kid: a token of the new key fails the old one, which fetches the set again
    // (once per cooldown); from then on tokens of the new key pass and tokens of the old one are refused.
    const rekeyed = { ...(await providerKey('es-1', 'ES256')) };
    server.serveKeys([rekeyed]);
    await sleep(1100);
    const fresh = await signWith(rekeyed, claims());
    assert.equal((await call('flaky', fresh)).status, 200, 'the new key under the old kid, after one refetch');
    const old = await call('flaky', token);
    assert.equal(old.status, 400);
    assert.equal(body(old).extensions?.reason, 'signature', 'a token of the replaced key fails its signature');
    const metrics = await scrape(await kong.server.statusUrl());
    const jwks = server.url;
    assert.ok(metricValue(metrics, 'kong_auth_jwks_fetches_total', { jwks, result: 'unavailable' }) >= 2);
    assert.ok(metricValue(metrics, 'kong_auth_jwks_fetches_total', { jwks, result: 'invalid' }) >= 2);
    assert.equal(metricValue(metrics, 'kong_auth_jwks_keys', { jwks }), 1);
    const text = await (await fetch(`${await kong.server.statusUrl()}/metrics`, { headers: { accept: 'text/plain' } })).text();
    assert.ok(!text.includes(String(rekeyed.jwk.x)), 'no key material in the metrics');
  });

  test('a provider that withdraws its key by publishing no usable key: the key’s tokens are refused from that fetch on', async () => {
    const server = servers.withdrawing;
    const token = await signWith(es, claims());
    assert.equal((await call('withdrawing', token)).status, 200);
    // What is left is of types the gate does not verify (ES384, RS512, a symmetric key): a set with no usable key.
    const [es384, rs512] = await Promise.all([
      exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
      exportJWK(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
    ]);
    server.answer = {
      kind: 'keys',
      keys: [
        { ...es384, kid: 'es-1', alg: 'ES384' },
        { ...rs512, kid: 'rs-512', alg: 'RS512' },
        { kty: 'oct', kid: 'hs', k: 'c2VjcmV0LW9mLXRoZS1wcm92aWRlcg' },
      ],
      cacheControl: 'max-age=1',
    };
    const fetched = server.fetches;
    // The first fetch after the change has been read once the one after it has started (one fetch at a time).
    await eventually(() => server.fetches >= fetched + 2, 'the background refresh fetched the withdrawal');
    const res = await call('withdrawing', token);
    assert.equal(res.status, 400, res.body);
    assert.equal(res.source, 'exit');
    assert.deepEqual([body(res).code, body(res).extensions?.reason], ['AUTH_011', 'key_mismatch']);
    const warning = kong.server.capturedOutput
      .split('\n')
      .find((line) => line.includes('"jwks-no-usable-key"') && line.includes(server.url));
    assert.match(
      warning ?? '',
      /has no usable signature key, 3 left out \(2 a key type, curve or alg we do not verify, 1 a private or symmetric key\)/,
    );
    for (const material of [String(es384.x), String(rs512.n), 'c2VjcmV0LW9mLXRoZS1wcm92aWRlcg'])
      assert.ok(!kong.server.capturedOutput.includes(material), 'no key material in the log');
    const metrics = await scrape(await kong.server.statusUrl());
    assert.ok(metricValue(metrics, 'kong_auth_jwks_fetches_total', { jwks: server.url, result: 'no_usable_key' }) >= 1);
    assert.equal(metricValue(metrics, 'kong_auth_jwks_keys', { jwks: server.url }), 0);
    const text = await (await fetch(`${await kong.server.statusUrl()}/metrics`, { headers: { accept: 'text/plain' } })).text();
    assert.ok(!text.includes('c2VjcmV0LW9mLXRoZS1wcm92aWRlcg'), 'nor in the metrics');
    // The same withdrawal as an empty set, after the key came back.
    server.serveKeys([es], 'max-age=1');
    await eventually(async () => (await call('withdrawing', token)).status === 200, 'the key is trusted again once published');
    server.answer = { kind: 'keys', keys: [], cacheControl: 'max-age=1' };
    const again = server.fetches;
    await eventually(() => server.fetches >= again + 2, 'the background refresh fetched the empty set');
    assert.equal(body(await call('withdrawing', token)).extensions?.reason, 'key_mismatch');
  });

  test('a provider down longer than jwks_max_stale_seconds past the cache lifetime: 503 AUTH_004 (fail closed), admitted again once it is back', async () => {
    const server = servers.stale;
    const token = await signWith(es, claims());
    assert.equal((await call('stale', token)).status, 200);
    await server.down();
    let res: GatewayResult | undefined;
    await eventually(async () => (res = await call('stale', token)).status === 503, 'the stale set is no longer used');
    assert.equal(res!.source, 'exit');
    assert.equal(body(res!).code, 'AUTH_004');
    assert.ok(res!.headers['retry-after'], 'Retry-After');
    const refusedLine = () =>
      kong.server.capturedOutput.split('\n').some((line) => line.includes('"jwks-stale-refused"') && line.includes(server.url));
    // Written by the first background retry that fails past the bound.
    await eventually(refusedLine, 'an error line says the set is too old to use');
    await server.up();
    // The background retries go on without requests; once one succeeds the gate admits again.
    await eventually(async () => (await call('stale', token)).status === 200, 'admitted once the provider is back');
  });

  test('token_types: the header typ must be one of them, case-insensitively and with or without application/', async () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) {
      const res = await call('typed', await signWith(es, claims(), { typ }));
      assert.equal(res.status, 200, `${typ}: ${res.body}`);
    }
    for (const typ of ['JWT', 'application/jwt', 'id_token+jwt', undefined]) {
      const res = await call('typed', await signWith(es, claims(), { typ }));
      assert.equal(res.status, 400, `${String(typ)}: ${res.body}`);
      assert.deepEqual([body(res).code, body(res).extensions?.reason], ['AUTH_011', 'token_type'], String(typ));
    }
    assert.equal((await call('idp', await signWith(es, claims(), { typ: 'JWT' }))).status, 200, 'without token_types: any typ');
  });

  test('a provider slower than the wait budget: 503 AUTH_004 while its answer is held, never the upstream; admitted once it answers', async () => {
    const server = servers.slow;
    server.hold();
    const token = await signWith(es, claims());
    const res = await call('slow', token);
    assert.equal(res.status, 503, res.body);
    assert.equal(res.source, 'exit');
    assert.equal(body(res).code, 'AUTH_004');
    assert.ok(res.headers['retry-after'], 'Retry-After');
    assert.equal(server.waiting, 1, 'the answer was still held when the gate answered');
    server.release();
    await eventually(async () => (await call('slow', token)).status === 200, 'admitted once the set arrived');
  });

  test('concurrent first requests share one fetch; unknown kids fetch again at most once per cooldown', async () => {
    const server = servers.counted;
    server.hold();
    const token = await signWith(es, claims());
    const pending = Array.from({ length: 30 }, () => call('counted', token));
    await eventually(() => server.waiting === 1, 'one fetch reached the provider');
    server.release();
    const answers = await Promise.all(pending);
    assert.deepEqual(new Set(answers.map((res) => res.status)), new Set([200]));
    assert.equal(server.fetches, 1, 'one fetch for 30 concurrent requests');
    const refused = await Promise.all(
      Array.from({ length: 20 }, async () => call('counted', await signWith({ ...es, kid: `random-${randomUUID()}` }, claims()))),
    );
    assert.ok(refused.every((res) => res.status === 400 && body(res).extensions?.reason === 'key_mismatch'));
    assert.equal(server.fetches, 2, 'one refetch for 20 unknown kids within the cooldown');
  });

  test('a provider never reached: 503 AUTH_004 with Retry-After, never fail open', async () => {
    const res = await call('dead', await signWith(es, claims()));
    assert.equal(res.status, 503, res.body);
    assert.equal(res.source, 'exit');
    assert.equal(body(res).code, 'AUTH_004');
    assert.ok(res.headers['retry-after']);
    const metrics = await scrape(await kong.server.statusUrl());
    assert.equal(metricValue(metrics, 'kong_auth_jwks_keys', { jwks: servers.dead.url }), 0);
  });

  test('a cache range Kong cannot refuse (minimum above maximum): the instance does not start, one error line, never the upstream', async () => {
    const res = await call('misconfigured', await signWith(es, claims()));
    assert.equal(res.status, 500);
    assert.notEqual(res.source, 'upstream');
    const errorLine = () => kong.server.capturedOutput.split('\n').find((entry) => entry.includes('"plugin-config-invalid"'));
    await eventually(() => errorLine() !== undefined, 'an error line names the problem');
    const line = errorLine() as string;
    assert.match(line, /jwks_min_cache_seconds \(600\) is above jwks_max_cache_seconds \(60\)/);
  });
});
