import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import { ALICE_SECRET } from '../support/fixtures.js';
import { RealKongStack } from '../support/realkong-stack.js';
import { RealKong } from '../support/realkong.js';

const CONSUMERS = parseKongYml(`_format_version: "3.0"
consumers:
  - username: alice
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
`);

describe("Kong's own bridge (realkong): a revocation form body through get_raw_body, then the gate refuses the token", () => {
  let stack: RealKongStack;
  let kong: RealKong;
  let alice: Array<[string, string]>;

  before(async () => {
    stack = await RealKongStack.start(CONSUMERS, {
      '/tokens': [{ name: 'token-issuer', config: { issuer: 'https://issuer.test' } }],
      '/revoke': [{ name: 'token-revocation', config: {} }],
      '/gated': [{ name: 'token-validator', config: { mode: 'gate', issuer: 'https://issuer.test' } }],
    });
    kong = stack.kong;
    // What key-auth leaves for our plugins: Kong's consumer headers and the consumer with its credential.
    const id = stack.consumer('alice').id;
    alice = [
      ['X-Consumer-ID', id],
      ['X-Consumer-Username', 'alice'],
      ['x-test-consumer', JSON.stringify({ id, username: 'alice' })],
      ['x-test-credential', JSON.stringify({ id: 'key-auth-credential', consumer: { id } })],
    ];
  });
  after(() => stack?.stop());

  test('POST token=… is read through get_raw_body (a MessagePack bin), the token is revoked, and the gate on the same Kong answers 401 revoked', async () => {
    const token = (await kong.request('/tokens', alice)).json<{ access_token: string }>().access_token;
    assert.equal((await kong.request('/gated/orders', [['Authorization', `Bearer ${token}`]])).status, 200);

    const form: Array<[string, string]> = [...alice, ['Content-Type', 'application/x-www-form-urlencoded']];
    const res = await kong.request('/revoke', form, 'POST', `token=${token}&token_type_hint=access_token`);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, '{}');
    assert.equal(res.headers['cache-control'], 'no-store');
    // get_headers, get_credential (it names its consumer), get_raw_body (a plain Step carrying the bin), exit.
    assert.deepEqual(
      res.rpc.filter((call) => call !== 'StartInstance'),
      ['HandleEvent', 'StepMultiMap', 'StepCredential', 'Step'],
    );

    const refused = await kong.request('/gated/orders', [['Authorization', `Bearer ${token}`]]);
    assert.equal(refused.status, 401, refused.body);
    assert.equal(refused.json().code, 'AUTH_011');
    assert.deepEqual(refused.json().extensions, { reason: 'revoked' });
    assert.equal(
      refused.headers['www-authenticate'],
      'Bearer realm="kong", error="invalid_token", error_description="The token has been revoked"',
    );
    assert.equal(refused.upstream, undefined);
  });

  test('a form with the token twice is invalid_request, read from the same raw body', async () => {
    const form: Array<[string, string]> = [...alice, ['Content-Type', 'application/x-www-form-urlencoded']];
    const res = await kong.request('/revoke', form, 'POST', 'token=a&token=b');
    assert.equal(res.status, 400, res.body);
    assert.deepEqual(res.json(), { error: 'invalid_request', error_description: 'The parameter "token" must be sent once' });
    assert.equal(res.headers['x-auth-error-code'], 'AUTH_015');
  });
});
