import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { KillSwitchSocket } from '../support/kill-switch-socket.js';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import { RealKong, type RealKongRoutes } from '../support/realkong.js';
import { RealKongStack } from '../support/realkong-stack.js';

const CONSUMERS = parseKongYml(`_format_version: "3.0"
consumers:
  - username: alice
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
  - username: anonymous
  - username: bob
`);

const GATE = { name: 'token-validator', config: { mode: 'gate', issuer: 'https://issuer.test' } };
const ROUTES: RealKongRoutes = {
  '/tokens': [{ name: 'token-issuer', config: { issuer: 'https://issuer.test' } }],
  '/gated': [GATE],
};

/** `count` distinct headers a client adds to push others out of kong.request.get_headers' first 100. */
const filler = (count: number): Array<[string, string]> => Array.from({ length: count }, (_, i) => [`X-Filler-${i}`, String(i)]);
const IDENTITY_SPOOF: Array<[string, string]> = [
  ['X-Token-Scopes', 'admin orders:delete'],
  ['X-Consumer-Custom-ID', 'root'],
  ['X-Credential-Identifier', 'forged'],
  ['X-Anonymous-Consumer', 'false'],
];
const UNDERSCORE_SPOOF: Array<[string, string]> = [
  ['X_Token_Scopes', 'admin'],
  ['X_Consumer_Username', 'admin'],
  ['X-Consumer_Custom-ID', 'root'],
  ['X_Credential_Identifier', 'forged'],
];

/** What an auth plugin leaves for the issuer: Kong's consumer headers, and the consumer (with the credential it used, if any) in ngx.ctx. */
function authenticated(consumer: { id: string; username?: string | null }, credential?: Record<string, unknown>): Array<[string, string]> {
  const headers: Array<[string, string]> = [
    ['X-Consumer-ID', consumer.id],
    ['X-Consumer-Username', String(consumer.username)],
    ['x-test-consumer', JSON.stringify({ id: consumer.id, username: consumer.username })],
  ];
  if (credential) headers.push(['x-test-credential', JSON.stringify(credential)]);
  return headers;
}

const now = () => Math.floor(Date.now() / 1000);
const aliceToken = () =>
  forgeJwt(
    { alg: 'HS256', typ: 'JWT' },
    { sub: 'alice', key: 'alice-jwt-key', jti: 'rk-1', iat: now(), exp: now() + 300, iss: 'https://issuer.test' },
    ALICE_SECRET,
  );

describe("Kong's own plugin-server bridge (realkong): identity from Kong, never from headers", () => {
  let stack: RealKongStack;
  let kong: RealKong;
  const consumer = (name: string) => stack.consumer(name);

  before(async () => {
    stack = await RealKongStack.start(CONSUMERS, ROUTES);
    kong = stack.kong;
  });
  after(() => stack?.stop());

  test('the gate: client identity headers after 100 others are refused, never passed upstream', async () => {
    const res = await kong.request('/gated/orders', [['Authorization', `Bearer ${aliceToken()}`], ...filler(100), ...IDENTITY_SPOOF]);
    assert.equal(res.status, 400, res.body);
    assert.equal(res.json().code, 'AUTH_007');
    assert.equal(res.upstream, undefined);
  });

  test('the gate: underscore and mixed spellings of identity headers are cleared in the call that sets ours', async () => {
    const res = await kong.request('/gated/orders', [['Authorization', `Bearer ${aliceToken()}`], ...IDENTITY_SPOOF, ...UNDERSCORE_SPOOF]);
    assert.equal(res.status, 200, res.body);
    const seen = Object.keys(res.upstream!.headers).filter((name) => /consumer|credential|token|anonymous/i.test(name));
    assert.deepEqual(seen.sort(), ['x-consumer-id', 'x-consumer-username', 'x-token-id']);
    assert.equal(res.upstream!.headers['x-consumer-id'], consumer('alice').id);
    assert.equal(res.upstream!.headers['x-consumer-username'], 'alice');
    // get_headers, one set_headers (ours set, every other identity header cleared), authenticate (the mark, last).
    assert.deepEqual(res.rpc, ['HandleEvent', 'StepMultiMap', 'Step', 'StepCredential']);
  });

  test('the issuer: no token for the anonymous consumer whose X-Anonymous-Consumer Kong appended after 100 headers', async () => {
    const anonymous = consumer('anonymous');
    const before = stack.adminApi.requests.length;
    const res = await kong.request('/tokens', [
      ['X-Consumer-ID', 'x'],
      ['X-Consumer-Username', 'x'],
      ...filler(100),
      ['x-test-keyauth-anonymous', JSON.stringify({ id: anonymous.id, username: 'anonymous' })],
    ]);
    assert.equal(res.status, 400, res.body);
    assert.equal(res.json().code, 'AUTH_007');
    assert.deepEqual(stack.adminApi.requests.slice(before), [], 'no credential read or provisioned');
    assert.equal(stack.store.jwtCredentialsOf(anonymous.id).length, 0);
  });

  test("the issuer: a consumer Kong authenticated without a credential (anonymous) gets AUTH_009 from Kong's own signal", async () => {
    const anonymous = consumer('anonymous');
    const res = await kong.request('/tokens', authenticated(anonymous));
    assert.equal(res.status, 401, res.body);
    assert.equal(res.json().code, 'AUTH_009');
    assert.equal(stack.store.jwtCredentialsOf(anonymous.id).length, 0);
  });

  test('the issuer: the same consumer with the credential Kong authenticated it by gets a token, in one call to Kong for its identity', async () => {
    const alice = consumer('alice');
    const res = await kong.request('/tokens', authenticated(alice, { id: 'key-auth-credential', consumer: { id: alice.id } }));
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().token_type, 'Bearer');
    assert.deepEqual(
      res.rpc.filter((call) => call !== 'StartInstance'),
      ['HandleEvent', 'StepMultiMap', 'StepCredential'],
    );
  });

  test("the issuer: a name in the headers that is not the consumer's (a plugin that left the client's) is never the token's; the consumer is re-read once", async () => {
    const bob = consumer('bob');
    const spoofed = authenticated(bob, { id: 'key-auth-credential', consumer: { id: bob.id } }).map(([name, value]): [string, string] =>
      name === 'X-Consumer-Username' ? [name, 'admin'] : [name, value],
    );
    const reads = () => stack.adminApi.requests.filter((r) => r.path === `/consumers/${bob.id}`).length;
    const before = reads();
    for (let n = 0; n < 3; n++) {
      const res = await kong.request('/tokens', spoofed);
      assert.equal(res.status, 200, res.body);
      const claims = JSON.parse(Buffer.from(res.json<{ access_token: string }>().access_token.split('.')[1]!, 'base64url').toString());
      assert.equal(claims.sub, 'bob');
    }
    assert.equal(reads() - before, 2, 'the first read and one re-read, however often the header disagrees');
  });

  test('the issuer: the credential Kong authenticated decides, even where a custom plugin set another consumer or none', async () => {
    const alice = consumer('alice');
    const credential = JSON.stringify({ id: 'custom-credential', consumer: { id: alice.id } });
    const otherConsumer = await kong.request('/tokens', [
      ['X-Consumer-ID', alice.id],
      ['X-Consumer-Username', 'alice'],
      ['x-test-consumer', JSON.stringify({ id: consumer('bob').id, username: 'bob' })],
      ['x-test-credential', credential],
    ]);
    assert.equal(otherConsumer.status, 200, otherConsumer.body);
    const noConsumer = await kong.request('/tokens', [
      ['X-Consumer-ID', alice.id],
      ['X-Consumer-Username', 'alice'],
      ['x-test-credential', credential],
    ]);
    assert.equal(noConsumer.status, 200, noConsumer.body);
  });

  test("the issuer: a credential whose consumer is null, or that names none, with no consumer authenticated, falls back to Kong's consumer", async () => {
    const alice = consumer('alice');
    const nullConsumer = await kong.request('/tokens', authenticated(alice, { id: 'c', consumer: null }));
    assert.equal(nullConsumer.status, 200, nullConsumer.body);
    assert.deepEqual(
      nullConsumer.rpc.filter((call) => call !== 'StartInstance'),
      ['HandleEvent', 'StepMultiMap', 'StepCredential', 'StepConsumer'],
    );
    const alone = await kong.request('/tokens', [
      ['X-Consumer-ID', alice.id],
      ['X-Consumer-Username', 'alice'],
      ['x-test-credential', JSON.stringify({ id: 'c', username: 'alice' })],
    ]);
    assert.equal(alone.status, 401, alone.body);
    assert.equal(alone.json().code, 'AUTH_001');
  });

  // The last Step is get_path, for the problem's instance: paid on the error path only.
  test('the issuer: no auth plugin, a client sending a real consumer id itself: AUTH_001 after asking Kong', async () => {
    const alice = consumer('alice');
    const res = await kong.request('/tokens', [
      ['X-Consumer-ID', alice.id],
      ['X-Consumer-Username', 'alice'],
    ]);
    assert.equal(res.status, 401, res.body);
    assert.equal(res.json().code, 'AUTH_001');
    assert.deepEqual(
      res.rpc.filter((call) => call !== 'StartInstance'),
      ['HandleEvent', 'StepMultiMap', 'StepCredential', 'StepConsumer', 'Step'],
    );
  });

  test("the issuer: a credential of another consumer than the headers name is AUTH_001, whatever Kong's consumer", async () => {
    const alice = consumer('alice');
    const bob = consumer('bob');
    const res = await kong.request('/tokens', authenticated(alice, { id: 'key-auth-credential', consumer: { id: bob.id } }));
    assert.equal(res.status, 401, res.body);
    assert.equal(res.json().code, 'AUTH_001');
    assert.deepEqual(res.json().extensions, { reason: 'consumer_mismatch' });
  });

  test("the issuer: a credential that names no consumer (ldap-auth's) has Kong's consumer read too, and the token is named from Kong's data", async () => {
    const alice = consumer('alice');
    const headers = authenticated(alice, { id: 'ldap-credential', username: 'alice' });
    const spoofed = headers.map(([name, value]): [string, string] => (name === 'X-Consumer-Username' ? [name, 'admin'] : [name, value]));
    const res = await kong.request('/tokens', spoofed);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(
      res.rpc.filter((call) => call !== 'StartInstance'),
      ['HandleEvent', 'StepMultiMap', 'StepCredential', 'StepConsumer'],
    );
    const claims = JSON.parse(Buffer.from(res.json<{ access_token: string }>().access_token.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.sub, 'alice', 'never the X-Consumer-Username a plugin left in place');
    const stranger = await kong.request('/tokens', [
      ['X-Consumer-ID', alice.id],
      ['X-Consumer-Username', 'alice'],
      ['x-test-consumer', JSON.stringify({ id: consumer('bob').id, username: 'bob' })],
      ['x-test-credential', JSON.stringify({ id: 'ldap-credential', username: 'bob' })],
    ]);
    assert.equal(stranger.status, 401, stranger.body);
    assert.equal(stranger.json().code, 'AUTH_001');
  });
});

describe("Kong's own bridge: a gate that dies mid-request leaves no marked request behind", () => {
  let stack: RealKongStack;
  let killSwitch: KillSwitchSocket;
  let kong: RealKong;

  before(async () => {
    // Dies once Kong has run the first of the gate's two writes, whichever it is.
    const firstWrite = (method: string) => method === 'kong.client.authenticate' || method === 'kong.service.request.set_headers';
    stack = await RealKongStack.start(
      CONSUMERS,
      ROUTES,
      (server) =>
        (killSwitch = new KillSwitchSocket(join(server.prefix, 'kill-switch.sock'), server.socketPath, firstWrite, () => server.crash())),
    );
    kong = stack.kong;
  });
  after(() => stack?.stop());

  test("killed between its writes: the backstop answers 503 and the client's identity headers never go upstream", async () => {
    const res = await kong.request('/gated/orders', [
      ['Authorization', `Bearer ${aliceToken()}`],
      ['X-Consumer-Username', 'admin'],
      ['X-Token-Scopes', 'admin'],
    ]);
    await killSwitch.fired;
    assert.equal(killSwitch.pdkCalls[0], 'kong.request.get_headers');
    assert.equal(res.status, 503, `${res.status} ${res.body} after ${killSwitch.pdkCalls.join(', ')}`);
    assert.deepEqual(res.json(), { message: 'authentication gate unavailable' });
    assert.equal(res.upstream, undefined);
    assert.match(await kong.log(), /\[error\]/, 'Kong logged the failed call and went on (fail open), into the backstop');
  });
});
