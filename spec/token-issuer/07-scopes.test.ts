import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET, DANA_SECRET, danaTrustingRequest, SCOPES_KONG_YML } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

type TokenAnswer = { access_token: string; token_type: string; expires_in: number; scope?: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('token-issuer scopes from consumer tags', () => {
  let kong: KongHarness;
  const issue = (path: string, apikey = 'dana-key') => kong.request({ path, headers: { apikey } });
  const granted = async (path: string, apikey = 'dana-key', secret = DANA_SECRET) => {
    const res = await issue(path, apikey);
    assert.equal(res.status, 200, res.body);
    const body = res.json<TokenAnswer>();
    return { body, claims: verifyHs256(body.access_token, secret).claims };
  };
  const refusal = async (path: string, extensions: Record<string, unknown>) => {
    const res = await issue(path);
    assert.equal(res.status, 400, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const problem = res.json();
    assert.equal(problem.code, 'AUTH_014', path);
    assert.equal(problem.title, 'Invalid Scope');
    assert.equal(problem.type, 'urn:problem-type:auth-service/auth-014');
    assert.deepEqual(problem.extensions, extensions, path);
    assert.equal(problem.access_token, undefined);
  };

  before(async () => {
    kong = await KongHarness.start({ kongYml: SCOPES_KONG_YML });
  });
  after(() => kong.stop());

  test("without a scope parameter the token carries every scope the consumer's tags allow, and the answer names them", async () => {
    const { body, claims } = await granted('/tokens');
    assert.equal(claims.scope, 'orders.read orders.write billing.read');
    assert.equal(body.scope, 'orders.read orders.write billing.read');
    assert.deepEqual(Object.keys(body), ['access_token', 'token_type', 'expires_in', 'scope']);
  });

  test('scope_tag_prefix chooses which tags allow scopes', async () => {
    const { body, claims } = await granted('/prefixed/tokens');
    assert.equal(claims.scope, 'reports');
    assert.equal(body.scope, 'reports');
  });

  test('a requested subset is granted as asked, duplicates collapsed, and the answer leaves scope out', async () => {
    const { body, claims } = await granted('/tokens?scope=orders.write%20orders.read');
    assert.equal(claims.scope, 'orders.write orders.read');
    assert.equal(body.scope, undefined);
    const twice = await granted('/tokens?scope=orders.read+orders.read');
    assert.equal(twice.claims.scope, 'orders.read');
  });

  test('a requested scope the tags do not allow is refused with 400 AUTH_014 naming it; scopes are case-sensitive', async () => {
    await refusal('/tokens?scope=orders.read%20admin', { reason: 'not_allowed', refusedScopes: ['admin'] });
    await refusal('/tokens?scope=Orders.Read', { reason: 'not_allowed', refusedScopes: ['Orders.Read'] });
    await refusal('/tokens?scope=team-a', { reason: 'not_allowed', refusedScopes: ['team-a'] });
    await refusal('/prefixed/tokens?scope=orders.read', { reason: 'not_allowed', refusedScopes: ['orders.read'] });
  });

  test('a malformed scope parameter is refused with 400 AUTH_014', async () => {
    for (const query of [
      'scope=',
      'scope',
      'scope=a%20%20b',
      'scope=%20a',
      'scope=a%22b',
      'scope=a%5Cb',
      'scope=a%09b',
      'scope=a&scope=b',
    ]) {
      await refusal(`/tokens?${query}`, { reason: 'malformed' });
    }
  });

  test('default_scopes: the allowed ones when the client asks for none; a request still chooses for itself', async () => {
    const { body, claims } = await granted('/defaults/tokens');
    assert.equal(claims.scope, 'orders.read');
    assert.equal(body.scope, 'orders.read');
    const asked = await granted('/defaults/tokens?scope=billing.read');
    assert.equal(asked.claims.scope, 'billing.read');
    assert.equal(asked.body.scope, undefined);
  });

  test('scope_query_parameter false: the query is never read, tokens get default_scopes, without the round trip', async () => {
    await granted('/fixed/tokens'); // starts the route's instance
    const before = kong.rpcCalls.length;
    const { body, claims } = await granted('/fixed/tokens?scope=billing.read');
    assert.deepEqual(kong.rpcCalls.slice(before), ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.StepCredential']);
    assert.equal(claims.scope, 'orders.read');
    assert.equal(body.scope, 'orders.read');
  });

  test('a consumer without scope tags gets a token without a scope claim, and no extra round trip', async () => {
    const before = kong.rpcCalls.length;
    const { body, claims } = await granted('/tokens', 'alice-key', ALICE_SECRET);
    assert.deepEqual(kong.rpcCalls.slice(before), ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.StepCredential']);
    assert.equal(claims.scope, undefined);
    assert.deepEqual(Object.keys(body), ['access_token', 'token_type', 'expires_in']);
    const asked = await granted('/tokens?scope=orders.read', 'alice-key', ALICE_SECRET);
    assert.equal(asked.claims.scope, undefined, 'never a scope the consumer lacks');
  });

  test('with verify_consumer off the tags come from the Admin API consumer, cached', async () => {
    const dana = kong.store.consumerByIdOrUsername('dana');
    assert.ok(dana);
    const path = '/trusting/tokens?scope=billing.read';
    const headers = { 'x-consumer-id': dana.id, 'x-consumer-username': 'dana' };
    const first = await kong.request({ path, headers });
    assert.equal(first.status, 200, first.body);
    assert.equal(verifyHs256(first.json<TokenAnswer>().access_token, DANA_SECRET).claims.scope, 'billing.read');
    assert.ok(kong.adminApi.requests.some((r) => r.method === 'GET' && r.path === `/consumers/${dana.id}`));
    const before = kong.adminApi.requests.length;
    assert.equal((await kong.request({ path, headers })).status, 200);
    assert.equal(kong.adminApi.requests.length, before, 'the consumer and its credential are cached');
  });
});

describe('token-issuer scopes while the Admin API is down', () => {
  test("the consumer's scopes are served from the stale copy", async (t) => {
    const kong = await KongHarness.start({
      kongYml: SCOPES_KONG_YML,
      env: { KONG_ADMIN_RETRY_DELAY_MS: '20', CACHE_TTL_SECONDS: '1', STALE_DATA_TOLERANCE_MINUTES: '1' },
    });
    t.after(() => kong.stop());
    const request = (scope: string) => danaTrustingRequest(kong, scope);
    assert.equal((await request('orders.read')).status, 200);
    kong.adminApi.setFault({ kind: 'down' });
    await sleep(1200);
    const during = await request('orders.write');
    assert.equal(during.status, 200, during.body);
    assert.equal(verifyHs256(during.json<TokenAnswer>().access_token, DANA_SECRET).claims.scope, 'orders.write');
    const refused = await request('admin');
    assert.equal(refused.status, 400, refused.body);
    assert.equal(refused.json().code, 'AUTH_014');
  });
});
