import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import * as client from 'openid-client';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';
import { startDevStack, type DevStack } from '../support/dev-stack.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const run = promisify(execFile);

/** Another process calling the gate route with the token, as a service holding it would. */
const CALL_GATE = `
const res = await fetch(process.env.ORDERS_URL, process.env.ACCESS_TOKEN ? { headers: { authorization: 'Bearer ' + process.env.ACCESS_TOKEN } } : {});
const body = await res.json();
process.stdout.write(JSON.stringify({ status: res.status, code: body.code, upstream: body.upstream, consumer: body.headers?.['x-consumer-username'], scopes: body.headers?.['x-token-scopes'] }));
`;

async function callGate(url: string, token?: string): Promise<Record<string, unknown>> {
  const env = { PATH: process.env.PATH ?? '', ORDERS_URL: url, ...(token ? { ACCESS_TOKEN: token } : {}) };
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CALL_GATE], { env });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("openid-client's client credentials grant against the dev gateway (make dev)", () => {
  let stack: DevStack;
  let config: client.Configuration;

  before(async () => {
    stack = await startDevStack();
    // The example client of kong.yml, as its owner would configure a library with it.
    const yml = parseKongYml(readFileSync(join(PROJECT_ROOT, 'kong.yml'), 'utf8'));
    const credential = yml.consumers.flatMap((consumer) => consumer.basicauth_credentials)[0];
    assert.ok(credential, 'kong.yml declares an OAuth client');
    config = new client.Configuration(
      { issuer: 'https://auth.example.com', token_endpoint: `${stack.gateway}/oauth2/token` },
      credential.username,
      undefined,
      client.ClientSecretBasic(credential.password),
    );
    client.allowInsecureRequests(config);
  });
  after(async () => {
    assert.equal(await stack?.interrupt(), 0);
  });

  test('fetches a token over HTTP, and a second process gets through the /orders gate with it', async () => {
    const tokens = await client.clientCredentialsGrant(config, { scope: 'orders.read' });
    assert.equal(tokens.token_type, 'bearer', 'openid-client lower-cases the token_type it read');
    assert.equal(tokens.expires_in, 900);
    assert.equal(tokens.scope, 'orders.read');
    assert.equal(tokens.access_token.split('.').length, 3);

    assert.deepEqual(await callGate(`${stack.gateway}/orders/42`, tokens.access_token), {
      status: 200,
      upstream: 'orders-api',
      consumer: ['example-client'],
      scopes: ['orders.read'],
    });
    assert.deepEqual(await callGate(`${stack.gateway}/orders/42`), { status: 400, code: 'AUTH_012' }, 'without the token the gate refuses');
  });

  test('discovery: openid-client reads the RFC 8414 metadata and uses its token, introspection and revocation endpoints', async () => {
    const yml = parseKongYml(readFileSync(join(PROJECT_ROOT, 'kong.yml'), 'utf8'));
    const [clientCredential, serviceCredential] = yml.consumers.flatMap((consumer) => consumer.basicauth_credentials);
    assert.ok(clientCredential && serviceCredential, 'kong.yml declares an OAuth client and a resource server');
    // The metadata names the public host, as in production; the dev gateway stands in for it.
    const ISSUER = 'https://auth.example.com';
    const toGateway: client.CustomFetch = (url, options) => fetch(url.replace(ISSUER, stack.gateway), options as RequestInit);
    const discover = async (credential: { username: string; password: string }) => {
      const found = await client.discovery(new URL(ISSUER), credential.username, undefined, client.ClientSecretBasic(credential.password), {
        algorithm: 'oauth2',
        [client.customFetch]: toGateway,
      });
      found[client.customFetch] = toGateway;
      return found;
    };
    const oauthClient = await discover(clientCredential);
    const metadata = oauthClient.serverMetadata();
    assert.equal(metadata.issuer, ISSUER);
    assert.equal(metadata.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
    const tokens = await client.clientCredentialsGrant(oauthClient, { scope: 'orders.read' });
    assert.equal(tokens.scope, 'orders.read');

    const resourceServer = await discover(serviceCredential);
    const active = await client.tokenIntrospection(resourceServer, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.scope, 'orders.read');
    assert.equal(active.iss, ISSUER, "the tokens' iss is the metadata's issuer");

    await client.tokenRevocation(oauthClient, tokens.access_token);
    assert.deepEqual(await client.tokenIntrospection(resourceServer, tokens.access_token), { active: false });
    assert.deepEqual(await callGate(`${stack.gateway}/orders/42`, tokens.access_token), { status: 401, code: 'AUTH_011' });
  });

  test("a scope the client's tags do not allow surfaces as ResponseBodyError invalid_scope", async () => {
    await assert.rejects(client.clientCredentialsGrant(config, { scope: 'orders.delete' }), (err: unknown) => {
      assert.ok(err instanceof client.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_scope');
      assert.equal(err.status, 400);
      assert.equal(err.error_description, 'The consumer is not allowed every requested scope');
      return true;
    });
  });
});
