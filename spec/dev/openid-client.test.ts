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
