import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_CLIENT_SECRET, ALICE_SECRET, CLIENT_CREDENTIALS_KONG_YML, DANA_CLIENT_SECRET, DANA_SECRET } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import type { GatewayRequest, GatewayResult } from '../../kong/stand-in/gateway.js';

type TokenAnswer = { access_token: string; token_type: string; expires_in: number; scope?: string };

const FORM = 'application/x-www-form-urlencoded';
const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
const DANA = basic('dana-client', DANA_CLIENT_SECRET);
const ALICE = basic('alice-client', ALICE_CLIENT_SECRET);

describe('token-issuer: OAuth 2.0 client credentials (RFC 6749 §4.4)', () => {
  let kong: KongHarness;

  /** A form POST to the OAuth route, as a client library sends it. */
  const tokenRequest = (
    body: string | Uint8Array,
    opts: { path?: string; authorization?: string | null; headers?: GatewayRequest['headers'] } = {},
  ) =>
    kong.request({
      method: 'POST',
      path: opts.path ?? '/oauth2/token',
      headers: {
        ...(opts.authorization === null ? {} : { authorization: opts.authorization ?? DANA }),
        'content-type': FORM,
        ...opts.headers,
      },
      body,
    });

  /** What the plugin asked Kong for during `run`. */
  const pdkCallsOf = async (run: () => Promise<GatewayResult>) => {
    const before = kong.pdkCalls.length;
    const res = await run();
    return { res, pdk: kong.pdkCalls.slice(before) };
  };

  /** An RFC 6749 §5.2 answer, exactly: status, body, and the headers that come with it. */
  const assertOAuthError = (res: GatewayResult, status: number, error: string, description: string, code: string) => {
    assert.equal(res.status, status, res.body);
    assert.equal(res.source, 'exit');
    assert.deepEqual(res.json(), { error, error_description: description });
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['pragma'], 'no-cache');
    assert.equal(res.headers['x-auth-error-code'], code);
  };

  const granted = (res: GatewayResult, secret = DANA_SECRET) => {
    assert.equal(res.status, 200, res.body);
    const body = res.json<TokenAnswer>();
    return { body, claims: verifyHs256(body.access_token, secret).claims };
  };

  before(async () => {
    kong = await KongHarness.start({ kongYml: CLIENT_CREDENTIALS_KONG_YML });
  });
  after(() => kong.stop());

  test('§5.1: grant_type=client_credentials with HTTP Basic gets exactly access_token, token_type, expires_in and scope, never cached', async () => {
    const { res, pdk } = await pdkCallsOf(() => tokenRequest('grant_type=client_credentials', { headers: { 'x-request-id': 'cc-1' } }));
    const { body, claims } = granted(res);
    assert.deepEqual(Object.keys(body), ['access_token', 'token_type', 'expires_in', 'scope']);
    assert.deepEqual(
      { ...body, access_token: 'x' },
      { access_token: 'x', token_type: 'Bearer', expires_in: 600, scope: 'orders.read orders.write' },
    );
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['pragma'], 'no-cache');
    assert.equal(res.headers['x-request-id'], 'cc-1');
    assert.equal(res.headers['x-auth-error-code'], undefined);
    assert.equal(claims.sub, 'dana');
    assert.equal(claims.scope, 'orders.read orders.write');
    assert.equal(claims.iss, 'https://issuer.test');
    assert.equal(claims.aud, 'api-a');
    assert.equal(Number(claims.exp) - Number(claims.iat), 600);
    assert.deepEqual(pdk, [
      'kong.request.get_headers',
      'kong.request.get_query',
      'kong.request.get_raw_body',
      'kong.client.get_credential',
      'kong.response.exit',
    ]);
  });

  test('a requested scope is granted as asked and named in the answer; a client without scope tags asking for none gets none', async () => {
    const asked = granted(await tokenRequest('grant_type=client_credentials&scope=orders.read'));
    assert.equal(asked.body.scope, 'orders.read');
    assert.equal(asked.claims.scope, 'orders.read');
    const twice = granted(await tokenRequest('scope=orders.write+orders.write&grant_type=client_credentials'));
    assert.equal(twice.body.scope, 'orders.write');
    const plain = granted(await tokenRequest('grant_type=client_credentials', { authorization: ALICE }), ALICE_SECRET);
    assert.deepEqual(Object.keys(plain.body), ['access_token', 'token_type', 'expires_in']);
    assert.equal(plain.claims.scope, undefined);
    assert.equal(plain.claims.sub, 'alice');
  });

  test('a client without scope tags that asks for a scope is refused with invalid_scope: an answer without scope would say it was granted', async () => {
    const res = await tokenRequest('grant_type=client_credentials&scope=orders.read', { authorization: ALICE });
    assertOAuthError(res, 400, 'invalid_scope', 'The consumer is not allowed every requested scope', 'AUTH_014');
  });

  test('unknown parameters (and a scope in the query string) are ignored, a client_id naming the authenticated client is accepted, charset=utf-8 is accepted', async () => {
    granted(await tokenRequest('grant_type=client_credentials&audience=x&resource=https%3A%2F%2Fapi'));
    granted(await tokenRequest('grant_type=client_credentials&client_id=dana-client'));
    const queryScope = granted(await tokenRequest('grant_type=client_credentials', { path: '/oauth2/token?scope=admin' }));
    assert.equal(queryScope.body.scope, 'orders.read orders.write', "the query's scope is not read for a form");
    granted(await tokenRequest('grant_type=client_credentials', { headers: { 'content-type': `${FORM}; charset=UTF-8` } }));
  });

  test('with client_credentials_only, any request that is not a form is invalid_request, before any other round trip', async () => {
    const refusals: GatewayRequest[] = [
      {
        path: '/oauth2/token',
        method: 'POST',
        body: `{"grant_type":"client_credentials"}`,
        headers: { authorization: DANA, 'content-type': 'application/json' },
      },
      { path: '/oauth2/token', method: 'POST', headers: { authorization: DANA } },
    ];
    for (const request of refusals) {
      const { res, pdk } = await pdkCallsOf(() => kong.request(request));
      assertOAuthError(res, 400, 'invalid_request', 'A token request is an application/x-www-form-urlencoded POST', 'AUTH_015');
      assert.deepEqual(pdk, ['kong.request.get_headers', 'kong.response.exit']);
    }
  });

  test('a client authenticated by key-auth gets a token the same way', async () => {
    const { body, claims } = granted(
      await tokenRequest('grant_type=client_credentials', {
        path: '/key/oauth2/token',
        authorization: null,
        headers: { apikey: 'dana-key' },
      }),
    );
    assert.equal(body.token_type, 'Bearer');
    assert.equal(claims.sub, 'dana');
  });

  test('§5.2 invalid_request: grant_type missing or empty, a parameter sent twice', async () => {
    const missing = 'The grant_type parameter is missing';
    for (const [body, description] of [
      ['scope=orders.read', missing],
      ['', missing],
      ['grant_type=', missing],
      ['grant_type=client_credentials&grant_type=client_credentials', 'The parameter "grant_type" must be sent once'],
      ['grant_type=client_credentials&scope=orders.read&scope=orders.write', 'The parameter "scope" must be sent once'],
    ] as const) {
      assertOAuthError(await tokenRequest(body), 400, 'invalid_request', description, 'AUTH_015');
    }
  });

  test('§5.2 invalid_request: client credentials in the query string or the body are refused, even next to valid Basic auth', async () => {
    const inQuery = 'Client credentials must not be sent in the query string';
    for (const query of ['client_secret=s', 'client_id=dana-client', 'client_id', 'scope=x&client_secret=']) {
      const { res, pdk } = await pdkCallsOf(() => tokenRequest('grant_type=client_credentials', { path: `/oauth2/token?${query}` }));
      assertOAuthError(res, 400, 'invalid_request', inQuery, 'AUTH_015');
      assert.ok(!pdk.includes('kong.request.get_raw_body'), 'refused before the body is read');
    }
    for (const [body, description] of [
      [
        `grant_type=client_credentials&client_secret=${DANA_CLIENT_SECRET}`,
        'The client authenticates with HTTP Basic, not with a client_secret parameter',
      ],
      ['grant_type=client_credentials&client_id=alice-client', 'The client_id parameter does not name the authenticated client'],
    ] as const) {
      assertOAuthError(await tokenRequest(body), 400, 'invalid_request', description, 'AUTH_015');
    }
  });

  test('§5.2 unsupported_grant_type for every other grant type, AUTH_016 in X-Auth-Error-Code', async () => {
    const grants = [
      'password',
      'authorization_code',
      'refresh_token',
      'Client_Credentials',
      'urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer',
    ];
    for (const grant of grants) {
      const res = await tokenRequest(`grant_type=${grant}`);
      assertOAuthError(res, 400, 'unsupported_grant_type', 'Only the client_credentials grant type is supported', 'AUTH_016');
    }
  });

  test('§5.2 invalid_scope for a scope the tags do not allow and for a malformed one, AUTH_014', async () => {
    const malformed = 'The scope parameter must be sent once, as scope tokens separated by single spaces';
    for (const [scope, description] of [
      ['orders.read+admin', 'The consumer is not allowed every requested scope'],
      ...['', '%20orders.read', 'orders.read%20%20orders.write', 'a%22b', 'caf%C3%A9'].map((bad) => [bad, malformed] as const),
    ] as const) {
      assertOAuthError(await tokenRequest(`grant_type=client_credentials&scope=${scope}`), 400, 'invalid_scope', description, 'AUTH_014');
    }
  });

  test('§5.2 invalid_client (401 with a Basic challenge) for the anonymous consumer of basic-auth, AUTH_009', async () => {
    const res = await tokenRequest('grant_type=client_credentials', { path: '/open/oauth2/token', authorization: null });
    assertOAuthError(res, 401, 'invalid_client', 'Anonymous consumers are not allowed to request tokens', 'AUTH_009');
    assert.equal(res.headers['www-authenticate'], 'Basic realm="kong"');
    const anonymous = kong.store.consumerByIdOrUsername('anonymous');
    assert.equal(kong.store.jwtCredentialsOf(anonymous!.id).length, 0, 'nothing provisioned for it');
  });

  test("a wrong or missing secret is Kong's basic-auth 401; the plugin is never reached", async () => {
    for (const authorization of [basic('dana-client', 'wrong'), basic('nobody', DANA_CLIENT_SECRET), null, 'Basic !!!', 'Bearer x']) {
      const { res, pdk } = await pdkCallsOf(() => tokenRequest('grant_type=client_credentials', { authorization }));
      assert.equal(res.status, 401, res.body);
      assert.equal(res.headers['www-authenticate'], 'Basic realm="service"');
      assert.equal(JSON.parse(res.body).message, 'Unauthorized');
      assert.deepEqual(pdk, []);
    }
  });

  test('a body over 8 KB is invalid_request from its Content-Length alone: get_raw_body is never called, Kong never fails the request', async () => {
    for (const size of [8193, 20_000, 200_000]) {
      const body = `grant_type=client_credentials&pad=${'x'.repeat(size - 34)}`;
      assert.equal(body.length, size);
      const { res, pdk } = await pdkCallsOf(() => tokenRequest(body));
      assertOAuthError(res, 400, 'invalid_request', 'A form body is at most 8192 bytes', 'AUTH_015');
      assert.ok(!pdk.includes('kong.request.get_raw_body'), pdk.join(' '));
    }
    const atLimit = `grant_type=client_credentials&pad=${'x'.repeat(8192 - 34)}`;
    granted(await tokenRequest(atLimit));
    const chunked = await tokenRequest('grant_type=client_credentials', { headers: { 'transfer-encoding': 'chunked' } });
    assertOAuthError(chunked, 400, 'invalid_request', 'A form body needs a Content-Length, not a chunked body', 'AUTH_015');
  });

  test('bad UTF-8, stray % and odd encodings or charsets are invalid_request', async () => {
    const cases: Array<[string | Uint8Array, string]> = [
      ['grant_type=client%ZZcredentials', 'The form body has a % not followed by two hex digits'],
      ['grant_type=client_credentials%', 'The form body has a % not followed by two hex digits'],
      ['grant_type=client_credentials&scope=%FF', 'The form body percent-encodes bytes that are not UTF-8'],
      ['grant_type=client_credentials&scope=%C0%AF', 'The form body percent-encodes bytes that are not UTF-8'],
      ['grant_type=client_credentials&scope=%ED%A0%80', 'The form body percent-encodes bytes that are not UTF-8'],
      [Buffer.concat([Buffer.from('grant_type=client_credentials&scope='), Buffer.from([0xc3, 0x28])]), 'The form body is not UTF-8'],
      [Buffer.from([0xff, 0xfe, 0x00, 0x61]), 'The form body is not UTF-8'],
    ];
    for (const [body, description] of cases) assertOAuthError(await tokenRequest(body), 400, 'invalid_request', description, 'AUTH_015');
    for (const type of [`${FORM}; charset=iso-8859-1`, `${FORM}-extended`, `${FORM}; boundary=x`]) {
      assertOAuthError(
        await tokenRequest('grant_type=client_credentials', { headers: { 'content-type': type } }),
        400,
        'invalid_request',
        'The body must be application/x-www-form-urlencoded (UTF-8)',
        'AUTH_015',
      );
    }
  });

  test('a plain GET /tokens keeps its round trips and never reads a body; other requests keep problem+json', async () => {
    const plain = await pdkCallsOf(() => kong.request({ path: '/tokens', headers: { apikey: 'dana-key' } }));
    assert.equal(plain.res.status, 200, plain.res.body);
    assert.deepEqual(plain.pdk, ['kong.request.get_headers', 'kong.client.get_credential', 'kong.request.get_query', 'kong.response.exit']);
    const json = await pdkCallsOf(() =>
      kong.request({
        method: 'POST',
        path: '/tokens',
        headers: { apikey: 'dana-key', 'content-type': 'application/json' },
        body: '{"grant_type":"x"}',
      }),
    );
    assert.equal(json.res.status, 200, json.res.body);
    assert.ok(!json.pdk.includes('kong.request.get_raw_body'));
    const refused = await kong.request({ path: '/tokens?scope=admin', headers: { apikey: 'dana-key' } });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers['content-type'], 'application/problem+json');
    assert.equal(refused.json().code, 'AUTH_014');
  });
});

describe("Kong's basic-auth plugin in the stand-in", () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: CLIENT_CREDENTIALS_KONG_YML });
  });
  after(() => kong.stop());

  test('a valid Basic credential sets the consumer headers, X-Credential-Identifier = its username, and hides the header', async () => {
    const dana = kong.store.consumerByIdOrUsername('dana')!;
    const res = await kong.request({ path: '/echo', headers: { authorization: DANA, 'x-anonymous-consumer': 'true' } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.upstreamHeaders?.['authorization'], undefined);
    assert.deepEqual(res.upstreamHeaders?.['x-consumer-id'], [dana.id]);
    assert.deepEqual(res.upstreamHeaders?.['x-consumer-username'], ['dana']);
    assert.deepEqual(res.upstreamHeaders?.['x-credential-identifier'], ['dana-client']);
    assert.equal(res.upstreamHeaders?.['x-anonymous-consumer'], undefined);
    assert.equal(res.authenticatedConsumer?.id, dana.id);
    assert.equal(res.authenticatedCredential?.username, 'dana-client');
    assert.deepEqual(res.authenticatedCredential?.consumer, { id: dana.id });
    assert.notEqual(res.authenticatedCredential?.password, DANA_CLIENT_SECRET, 'Kong holds a digest, not the password');
  });

  test('Proxy-Authorization is tried first; without hide_credentials the header goes upstream', async () => {
    const res = await kong.request({
      path: '/visible/echo',
      headers: { 'proxy-authorization': ALICE, authorization: 'Basic bm9ib2R5Og==' },
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.upstreamHeaders?.['x-consumer-username'], ['alice']);
    assert.deepEqual(res.upstreamHeaders?.['authorization'], ['Basic bm9ib2R5Og==']);
  });

  test('a missing, malformed or wrong credential is 401 with the realm in WWW-Authenticate', async () => {
    for (const authorization of [
      undefined,
      'Basic',
      'Basic =',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
      basic('dana-client', 'x'),
    ]) {
      const res = await kong.request({ path: '/echo', headers: authorization === undefined ? {} : { authorization } });
      assert.equal(res.status, 401, `${authorization}: ${res.body}`);
      assert.equal(res.headers['www-authenticate'], 'Basic realm="echo"');
      assert.equal(JSON.parse(res.body).message, 'Unauthorized');
    }
    // The password is everything after the first colon.
    const colon = await kong.request({ path: '/echo', headers: { authorization: basic('dana-client', `${DANA_CLIENT_SECRET}:`) } });
    assert.equal(colon.status, 401);
  });
});

/** A small seeded generator, so a failing case can be replayed from its seed. */
function random(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const PIECES = [
  'grant_type',
  'client_credentials',
  'scope',
  'orders.read',
  'orders.write',
  'admin',
  'client_id',
  'client_secret',
  'dana-client',
  '=',
  '=',
  '&',
  '&',
  '&&',
  '+',
  '%',
  '%2',
  '%20',
  '%3D',
  '%26',
  '%2B',
  '%C3%A9',
  '%FF',
  '%C0%AF',
  '%ED%A0%80',
  '%00',
  '%0A',
  'é',
  '\u0000',
  '💥',
  ';',
  '\r\n',
  '"',
  '\\',
  ' ',
];
const CONTENT_TYPES = [
  FORM,
  `${FORM}; charset=utf-8`,
  `${FORM};charset="UTF-8"`,
  FORM.toUpperCase(),
  `${FORM}; charset=latin1`,
  `${FORM}, text/plain`,
];

describe('token-issuer: fuzzed form bodies', () => {
  test('random bodies (odd encodings, duplicates, huge, binary) always get a 200 or a §5.2 400, never a 500, and the server keeps serving', async (t) => {
    const kong = await KongHarness.start({ kongYml: CLIENT_CREDENTIALS_KONG_YML });
    t.after(() => kong.stop());
    const seed = Number(process.env.FUZZ_SEED ?? 20261203);
    const next = random(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    const pieces = (count: number) => Array.from({ length: count }, () => pick(PIECES)).join('');
    const bodies: Array<() => string | Uint8Array> = [
      () => pieces(1 + Math.floor(next() * 30)),
      () => `grant_type=client_credentials&${pieces(Math.floor(next() * 12))}`,
      () => `grant_type=client_credentials&scope=${pieces(Math.floor(next() * 6))}`,
      () =>
        Array.from({ length: 1 + Math.floor(next() * 4) }, () =>
          pick(['grant_type=client_credentials', 'grant_type=password', 'scope=orders.read', 'client_id=dana-client']),
        ).join('&'),
      () => Uint8Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256)),
      () => `grant_type=client_credentials&pad=${'x'.repeat(7000 + Math.floor(next() * 20_000))}`,
    ];
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const body = pick(bodies)();
      const headers: Record<string, string | string[]> = { authorization: DANA, 'content-type': pick(CONTENT_TYPES) };
      if (next() < 0.05) headers['content-type'] = [FORM, FORM];
      if (next() < 0.03) headers['transfer-encoding'] = 'chunked';
      const path = next() < 0.1 ? `/oauth2/token?${pick(['client_id=x', 'scope=admin', 'client_secret', 'a=%FF'])}` : '/oauth2/token';
      const res = await kong.request({ method: 'POST', path, headers, body });
      const replay = `seed ${seed}, case ${i}: ${Buffer.from(body).toString('hex').slice(0, 200)} → ${res.status} ${res.body.slice(0, 200)}`;
      assert.equal(res.source, 'exit', replay);
      if (res.status === 200) {
        verifyHs256(res.json<TokenAnswer>().access_token, DANA_SECRET);
      } else {
        assert.equal(res.status, 400, replay);
        const answer = res.json();
        assert.deepEqual(Object.keys(answer), ['error', 'error_description'], replay);
        assert.ok(['invalid_request', 'unsupported_grant_type', 'invalid_scope'].includes(String(answer.error)), replay);
        assert.match(String(res.headers['x-auth-error-code']), /^AUTH_01[456]$/, replay);
      }
      const outcome = String(res.json().error ?? res.status);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    for (const outcome of ['200', 'invalid_request', 'unsupported_grant_type', 'invalid_scope'])
      assert.ok((outcomes.get(outcome) ?? 0) > 0, `the cases reach ${outcome}: ${JSON.stringify([...outcomes])}`);
    assert.deepEqual(
      kong.rpcCalls.filter((call) => call === 'plugin.StepError'),
      [],
    );
    const failures = kong.server.logLines().filter((line) => line['error.code'] === 'AUTH_008');
    assert.deepEqual(failures, [], 'no unexpected failure');
    granted(
      await kong.request({
        method: 'POST',
        path: '/oauth2/token',
        headers: { authorization: DANA, 'content-type': FORM },
        body: 'grant_type=client_credentials',
      }),
    );
  });
});

function granted(res: GatewayResult): void {
  assert.equal(res.status, 200, res.body);
  verifyHs256(res.json<TokenAnswer>().access_token, DANA_SECRET);
}
