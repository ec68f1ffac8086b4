import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import { RealKongStack } from '../support/realkong-stack.js';
import { RealKong } from '../support/realkong.js';
import { keyPair, privatePem } from '../support/signing-keys.js';

const CONSUMERS = parseKongYml(`_format_version: "3.0"
consumers:
  - username: alice
`);

describe("Kong's own bridge (realkong): an ES256 token of the key set, issued and then admitted by the gate", () => {
  let stack: RealKongStack;
  let kong: RealKong;
  const { privateKey, publicKey } = keyPair('ES256');

  before(async () => {
    stack = await RealKongStack.startWithKeys(
      CONSUMERS,
      {
        '/tokens': [{ name: 'token-issuer', config: { issuer: 'https://issuer.test', algorithm: 'ES256' } }],
        '/gated': [{ name: 'token-validator', config: { mode: 'gate', issuer: 'https://issuer.test', algorithms: ['ES256'] } }],
      },
      [{ file: 'ec.pem', alg: 'ES256', state: 'current', kid: 'ec-1', content: privatePem(privateKey) }],
    );
    kong = stack.kong;
  });
  after(() => stack?.stop());

  test('the token is signed by the current key (kid, JOSE-form signature); the gate verifies it by kid, authenticates its consumer and passes ours upstream', async () => {
    const alice = stack.consumer('alice');
    // What key-auth leaves for our plugins: Kong's consumer headers and the consumer with its credential.
    const asAlice: Array<[string, string]> = [
      ['X-Consumer-ID', alice.id],
      ['X-Consumer-Username', 'alice'],
      ['x-test-consumer', JSON.stringify({ id: alice.id, username: 'alice' })],
      ['x-test-credential', JSON.stringify({ id: 'key-auth-credential', consumer: { id: alice.id } })],
    ];
    const issued = await kong.request('/tokens', asAlice);
    assert.equal(issued.status, 200, issued.body);
    const token = issued.json<{ access_token: string }>().access_token;
    const [header, claims, signature] = token.split('.') as [string, string, string];
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'ES256', kid: 'ec-1', typ: 'JWT' });
    assert.equal(JSON.parse(Buffer.from(claims, 'base64url').toString()).client_id, alice.id);
    const jose = { key: publicKey, dsaEncoding: 'ieee-p1363' as const };
    assert.ok(verify('sha256', Buffer.from(`${header}.${claims}`), jose, Buffer.from(signature, 'base64url')));

    await kong.request('/gated/orders', [['Authorization', `Bearer ${token}`]]); // starts the instance, reads the consumer
    const admitted = await kong.request('/gated/orders', [
      ['Authorization', `Bearer ${token}`],
      ['X-Consumer-ID', 'spoofed'],
    ]);
    assert.equal(admitted.status, 200, admitted.body);
    assert.equal(admitted.upstream?.headers['x-consumer-id'], alice.id);
    assert.equal(admitted.upstream?.headers['x-consumer-username'], 'alice');
    // get_headers, one set_headers, kong.client.authenticate: no Admin API call for a cached consumer.
    assert.deepEqual(admitted.rpc, ['HandleEvent', 'StepMultiMap', 'Step', 'StepCredential']);

    const tampered = await kong.request('/gated/orders', [['Authorization', `Bearer ${header}.${claims}.${signature.slice(0, -4)}AAAA`]]);
    assert.equal(tampered.status, 400, tampered.body);
    assert.deepEqual([tampered.json().code, tampered.json().extensions], ['AUTH_011', { reason: 'signature' }]);
    assert.equal(tampered.upstream, undefined);
    assert.doesNotMatch(await kong.log(), /\[error\]/);
  });
});
