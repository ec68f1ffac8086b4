import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { configValidator, KongHarness, queryPluginInfo } from '../../kong/stand-in/kong-harness.js';

const METADATA_KONG_YML = `
_format_version: "3.0"
services:
  - name: well-known
    url: http://127.0.0.1:9
    routes:
      - name: metadata
        paths: [/.well-known/oauth-authorization-server]
        plugins:
          - name: token-issuer
            config:
              mode: metadata
              issuer: https://auth.example.test
              token_endpoint: https://auth.example.test/oauth2/token
              jwks_uri: https://auth.example.test/.well-known/jwks.json
              revocation_endpoint: https://auth.example.test/oauth2/revoke
              introspection_endpoint: https://auth.example.test/oauth2/introspect
              scopes_supported: [orders.read, orders.write]
              max_age_seconds: 3600
      - name: metadata-minimal
        paths: [/minimal/.well-known/oauth-authorization-server]
        plugins:
          - name: token-issuer
            config:
              mode: metadata
              issuer: http://localhost:8000
              token_endpoint: http://localhost:8000/oauth2/token
              jwks_uri: http://127.0.0.1:8000/.well-known/jwks.json
      - name: no-issuer
        paths: [/no-issuer]
        plugins:
          - name: token-issuer
            config: { mode: metadata, token_endpoint: https://a.test/t, jwks_uri: https://a.test/j }
      - name: issuer-not-https
        paths: [/issuer-not-https]
        plugins:
          - name: token-issuer
            config: { mode: metadata, issuer: http://auth.example.test, token_endpoint: https://a.test/t, jwks_uri: https://a.test/j }
      - name: issuer-with-query
        paths: [/issuer-with-query]
        plugins:
          - name: token-issuer
            config: { mode: metadata, issuer: "https://auth.example.test/?tenant=1", token_endpoint: https://a.test/t, jwks_uri: https://a.test/j }
      - name: no-endpoints
        paths: [/no-endpoints]
        plugins:
          - name: token-issuer
            config: { mode: metadata, issuer: https://auth.example.test }
`;

describe('token-issuer mode metadata: RFC 8414 authorization server metadata', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: METADATA_KONG_YML });
  });
  after(() => kong?.stop());

  test('every field exact, in order, as application/json with Cache-Control and a strong ETag; 304 on If-None-Match', async () => {
    const res = await kong.request({ path: '/.well-known/oauth-authorization-server', headers: {} });
    assert.equal(res.status, 200, res.body);
    assert.equal(
      res.body,
      JSON.stringify({
        issuer: 'https://auth.example.test',
        token_endpoint: 'https://auth.example.test/oauth2/token',
        jwks_uri: 'https://auth.example.test/.well-known/jwks.json',
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        response_types_supported: [],
        scopes_supported: ['orders.read', 'orders.write'],
        revocation_endpoint: 'https://auth.example.test/oauth2/revoke',
        revocation_endpoint_auth_methods_supported: ['client_secret_basic'],
        introspection_endpoint: 'https://auth.example.test/oauth2/introspect',
        introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
      }),
    );
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['cache-control'], 'public, max-age=3600');
    const etag = `"${createHash('sha256').update(res.body).digest('base64url')}"`;
    assert.equal(res.headers['etag'], etag);
    const again = await kong.request({ path: '/.well-known/oauth-authorization-server', headers: { 'if-none-match': `W/${etag}` } });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    const head = await kong.request({ method: 'HEAD', path: '/.well-known/oauth-authorization-server', headers: {} });
    assert.equal(head.status, 200);
    assert.equal(head.headers['etag'], etag);
    const post = await kong.request({ method: 'POST', path: '/.well-known/oauth-authorization-server', headers: {} });
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
  });

  test('without revocation, introspection and scopes those fields are left out; http is accepted for localhost', async () => {
    const res = await kong.request({ path: '/minimal/.well-known/oauth-authorization-server', headers: {} });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json(), {
      issuer: 'http://localhost:8000',
      token_endpoint: 'http://localhost:8000/oauth2/token',
      jwks_uri: 'http://127.0.0.1:8000/.well-known/jwks.json',
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
      response_types_supported: [],
    });
    assert.equal(res.headers['cache-control'], 'public, max-age=300');
  });

  test('an issuer that cannot be an RFC 8414 issuer, or no endpoints: 500 AUTH_008, the reason in the log only', async () => {
    const reasons: Record<string, string> = {
      '/no-issuer': 'token-issuer: metadata mode needs issuer: the `iss` of the tokens, byte for byte',
      '/issuer-not-https': 'token-issuer: issuer must be an https URL (http only for localhost)',
      '/issuer-with-query': 'token-issuer: issuer must have no query and no fragment',
      '/no-endpoints': 'token-issuer: metadata mode needs token_endpoint and jwks_uri',
    };
    for (const [path, reason] of Object.entries(reasons)) {
      const res = await kong.request({ path, headers: { 'x-request-id': `bad-${path.slice(1)}` } });
      assert.equal(res.status, 500, path);
      const body = res.json();
      assert.equal(body.code, 'AUTH_008');
      assert.equal(body.detail, 'An unexpected internal server error occurred');
      const line = await kong.server.waitForLogLine((l) => l['error.code'] === 'AUTH_008' && JSON.stringify(l).includes(reason));
      assert.equal(line?.['log.level'], 'error', `${path}: ${reason} is logged`);
    }
  });
});

describe('token-issuer metadata URLs are checked by the schema, as Kong checks a route config', () => {
  test('absolute https URLs, or http on localhost; anything else is refused with a clear message', async () => {
    const validate = configValidator({ 'token-issuer': await queryPluginInfo('token-issuer') });
    const config = (jwks_uri: string) => ({ name: 'token-issuer', config: { mode: 'metadata', jwks_uri } });
    for (const good of [
      'https://auth.example.com/.well-known/jwks.json',
      'https://auth.example.com',
      'https://auth.example.com:8443/x?y=1',
      'http://localhost:8000/.well-known/jwks.json',
      'http://127.0.0.1/jwks',
    ])
      assert.doesNotThrow(() => validate(config(good)), good);
    const refusals: Array<[string, string]> = [
      ['http://auth.example.com/jwks', 'must be an absolute https URL (http only for localhost and 127.0.0.1)'],
      ['/.well-known/jwks.json', 'must be an absolute https URL (http only for localhost and 127.0.0.1)'],
      ['https://user@auth.example.com/jwks', 'must be an absolute https URL (http only for localhost and 127.0.0.1)'],
      ['http://localhost.evil.test/jwks', 'must be an absolute https URL (http only for localhost and 127.0.0.1)'],
      ['https://auth.example.com/jwks#x', 'must not contain whitespace or a fragment (#)'],
      ['https://auth.example.com/ jwks', 'must not contain whitespace or a fragment (#)'],
    ];
    for (const [bad, message] of refusals)
      assert.throws(() => validate(config(bad)), new RegExp(`"jwks_uri":"${message.replace(/[()]/g, '\\$&')}"`), bad);
  });
});
