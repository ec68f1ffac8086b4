import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import { DANA_SECRET } from '../support/fixtures.js';
import { verifyHs256 } from '../support/jwt-check.js';
import { RealKongStack } from '../support/realkong-stack.js';
import { RealKong } from '../support/realkong.js';

const CONSUMERS = parseKongYml(`_format_version: "3.0"
consumers:
  - username: dana
    tags: [scope:orders.read, scope:orders.write]
    jwt_secrets: [{ key: dana-jwt-key, secret: ${DANA_SECRET} }]
`);
const FORM: [string, string] = ['Content-Type', 'application/x-www-form-urlencoded'];

describe("Kong's own bridge (realkong): OAuth client credentials through kong.request.get_raw_body", () => {
  let stack: RealKongStack;
  let kong: RealKong;
  /** What basic-auth leaves for the issuer (the kit has no basic-auth: its x-test hooks set Kong's context). */
  let client: Array<[string, string]>;

  before(async () => {
    stack = await RealKongStack.start(CONSUMERS, {
      '/oauth2/token': [{ name: 'token-issuer', config: { issuer: 'https://issuer.test' } }],
    });
    kong = stack.kong;
    const dana = stack.consumer('dana');
    client = [
      ['X-Consumer-ID', dana.id],
      ['X-Consumer-Username', 'dana'],
      ['X-Credential-Identifier', 'dana-client'],
      ['x-test-consumer', JSON.stringify({ id: dana.id, username: 'dana', tags: dana.tags })],
      ['x-test-credential', JSON.stringify({ id: 'basic-auth-credential', username: 'dana-client', consumer: { id: dana.id } })],
    ];
  });
  after(() => stack?.stop());

  test('a form POST gets a §5.1 token: the body arrives as MessagePack bin, read in one round trip', async () => {
    await kong.request('/oauth2/token', [...client, FORM], 'POST', 'grant_type=client_credentials'); // starts the instance
    const res = await kong.request('/oauth2/token', [...client, FORM], 'POST', 'grant_type=client_credentials&scope=orders.read');
    assert.equal(res.status, 200, res.body);
    const body = res.json<{ access_token: string }>();
    assert.deepEqual({ ...body, access_token: 'x' }, { access_token: 'x', token_type: 'Bearer', expires_in: 900, scope: 'orders.read' });
    assert.equal(verifyHs256(body.access_token, DANA_SECRET).claims.scope, 'orders.read');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['pragma'], 'no-cache');
    // get_headers, get_query, get_raw_body, get_credential (it names its consumer); the exit ends the event.
    assert.deepEqual(res.rpc, ['HandleEvent', 'StepMultiMap', 'StepMultiMap', 'Step', 'StepCredential']);
  });

  test("a body at the 8 KB limit is read; a 20 kB body is invalid_request, never Kong's 500 for a spooled body", async () => {
    const atLimit = `grant_type=client_credentials&pad=${'x'.repeat(8192 - 34)}`;
    const read = await kong.request('/oauth2/token', [...client, FORM], 'POST', atLimit);
    assert.equal(read.status, 200, read.body);
    const big = await kong.request('/oauth2/token', [...client, FORM], 'POST', `grant_type=client_credentials&pad=${'x'.repeat(20_000)}`);
    assert.equal(big.status, 400, big.body);
    assert.deepEqual(big.json(), { error: 'invalid_request', error_description: 'A form body is at most 8192 bytes' });
    assert.equal(big.headers['x-auth-error-code'], 'AUTH_015');
    assert.deepEqual(big.rpc, ['HandleEvent', 'StepMultiMap', 'StepMultiMap'], 'get_raw_body is never asked for');
    assert.doesNotMatch(await kong.log(), /\[error\]/);
  });
});
