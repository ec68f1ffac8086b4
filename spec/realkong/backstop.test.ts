import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALICE_SECRET } from '../support/fixtures.js';
import { forgeJwt } from '../support/jwt-check.js';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import type { RealKong, RealKongRoutes } from '../support/realkong.js';
import { BACKSTOP_PREFIX, kitWithBackstop } from '../support/realkong-backstop.js';
import { RealKongStack } from '../support/realkong-stack.js';

const CONSUMERS = parseKongYml(`_format_version: "3.0"
consumers:
  - username: alice
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
`);

const gate = (config: Record<string, unknown>) => [
  { name: 'token-validator', config: { mode: 'gate', issuer: 'https://issuer.test', ...config } },
];
const ROUTES: RealKongRoutes = {
  // kong/backstop.lua after the gate
  [`${BACKSTOP_PREFIX}/orders`]: gate({ upstream_headers: 'backstop' }),
  [`${BACKSTOP_PREFIX}/sidecar`]: gate({ upstream_headers: 'sidecar' }),
  [`${BACKSTOP_PREFIX}/preflight`]: gate({ upstream_headers: 'backstop', run_on_preflight: false }),
  // kong/backstop.lua with no plugin: a credential comes from the kit's x-test-credential hook
  [`${BACKSTOP_PREFIX}/lua`]: [],
  // the one-line backstop of earlier releases after the gate
  '/gated/legacy': gate({ upstream_headers: 'backstop' }),
};

/** Client-sent identity headers in dash, underscore and mixed spellings, in several cases. */
const SPOOFED: Array<[string, string]> = [
  ['X-Consumer-ID', 'spoofed-id'],
  ['x-consumer-username', 'admin'],
  ['X_Token_Scopes', 'admin orders:delete'],
  ['X-Consumer_Custom-ID', 'root'],
  ['x_CREDENTIAL-identifier', 'forged'],
  ['X-ANONYMOUS-CONSUMER', 'false'],
  ['X-Token_Id', 'forged'],
  ['x_consumer_id', 'spoofed-again'],
];
const IDENTITY = /^x[-_](consumer|credential|anonymous|token)[-_]/i;
const identityNames = (headers: Record<string, unknown>) =>
  Object.keys(headers)
    .filter((name) => IDENTITY.test(name))
    .sort();

/** The RPCs of a request, without the StartInstance of a route's first one. */
const rpcs = (res: { rpc: string[] }) => res.rpc.filter((call) => call !== 'StartInstance');

const now = () => Math.floor(Date.now() / 1000);
const bearer = (): [string, string] => [
  'Authorization',
  `Bearer ${forgeJwt(
    { alg: 'HS256', typ: 'JWT' },
    {
      sub: 'alice',
      key: 'alice-jwt-key',
      jti: 'rk-backstop-1',
      scope: 'orders:read',
      iat: now(),
      exp: now() + 300,
      iss: 'https://issuer.test',
    },
    ALICE_SECRET,
  )}`,
];

describe("kong/backstop.lua in Kong's own bridge (realkong, its post-function place)", () => {
  const kit = kitWithBackstop();
  let stack: RealKongStack;
  let kong: RealKong;

  before(async () => {
    stack = await RealKongStack.start(CONSUMERS, ROUTES, undefined, {}, kit.dir);
    kong = stack.kong;
  });
  after(async () => {
    await stack?.stop();
    kit.remove();
  });

  test('upstream_headers backstop: ours upstream, every client spelling gone, three RPCs instead of four', async () => {
    const res = await kong.request(`${BACKSTOP_PREFIX}/orders/1`, [bearer(), ...SPOOFED]);
    assert.equal(res.status, 200, res.body);
    const upstream = res.upstream!.headers;
    assert.deepEqual(identityNames(upstream), ['x-consumer-id', 'x-consumer-username', 'x-token-id', 'x-token-scopes']);
    assert.equal(upstream['x-consumer-id'], stack.consumer('alice').id);
    assert.equal(upstream['x-consumer-username'], 'alice');
    assert.equal(upstream['x-token-id'], 'rk-backstop-1');
    assert.equal(upstream['x-token-scopes'], 'orders:read');
    assert.equal(typeof upstream['x-request-id'], 'string', 'a request id when the client sent none');
    // get_headers (HandleEvent's answer), authenticate with the headers (StepCredential): no set_headers.
    assert.deepEqual(rpcs(res), ['HandleEvent', 'StepMultiMap', 'StepCredential']);
  });

  test('upstream_headers sidecar behind the same backstop works as before: four RPCs, the same upstream headers', async () => {
    const res = await kong.request(`${BACKSTOP_PREFIX}/sidecar/1`, [bearer(), ...SPOOFED]);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(identityNames(res.upstream!.headers), ['x-consumer-id', 'x-consumer-username', 'x-token-id', 'x-token-scopes']);
    assert.equal(res.upstream!.headers['x-consumer-username'], 'alice');
    assert.deepEqual(rpcs(res), ['HandleEvent', 'StepMultiMap', 'Step', 'StepCredential']);
  });

  test('a preflight let through unchecked carries no client identity headers', async () => {
    const res = await kong.request(`${BACKSTOP_PREFIX}/preflight/1`, SPOOFED, 'OPTIONS');
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(identityNames(res.upstream!.headers), []);
  });

  test('refusals are unchanged: the gate answers, the upstream is never reached', async () => {
    const missing = await kong.request(`${BACKSTOP_PREFIX}/orders/1`, SPOOFED);
    assert.equal(missing.status, 400, missing.body);
    assert.equal(missing.json().code, 'AUTH_012');
    const forged = await kong.request(`${BACKSTOP_PREFIX}/orders/1`, [
      ['Authorization', `Bearer ${forgeJwt({ alg: 'HS256' }, { key: 'alice-jwt-key', exp: now() + 60 }, 'wrong-secret-0123456789')}`],
    ]);
    assert.equal(forged.status, 400, forged.body);
    assert.equal(forged.json().code, 'AUTH_011');
    assert.equal(forged.upstream, undefined);
  });

  test('the one-line backstop of earlier releases behind a backstop-mode gate fails closed: 503 on every request', async () => {
    const res = await kong.request('/gated/legacy/1', [bearer(), ...SPOOFED]);
    assert.equal(res.status, 503, res.body);
    assert.deepEqual(res.json(), { message: 'authentication gate unavailable' });
    assert.equal(res.upstream, undefined);
  });

  test('the Lua alone: a request with no gate mark gets 503; more than 1000 headers get 400, never the upstream', async () => {
    const unmarked = await kong.request(`${BACKSTOP_PREFIX}/lua`, SPOOFED);
    assert.equal(unmarked.status, 503, unmarked.body);
    const mark = ['x-test-credential', JSON.stringify({ id: 'c', kong_auth_sidecar_headers: { 'x-consumer-id': 'from-the-gate' } })] as [
      string,
      string,
    ];
    const marked = await kong.request(`${BACKSTOP_PREFIX}/lua`, [mark, ...SPOOFED]);
    assert.equal(marked.status, 200, marked.body);
    assert.deepEqual(identityNames(marked.upstream!.headers), ['x-consumer-id']);
    assert.equal(marked.upstream!.headers['x-consumer-id'], 'from-the-gate');
    const filler = Array.from({ length: 1000 }, (): [string, string] => ['a', '1']);
    const truncated = await kong.request(`${BACKSTOP_PREFIX}/lua`, [mark, ...SPOOFED, ...filler]);
    assert.equal(truncated.status, 400, truncated.body);
    assert.deepEqual(truncated.json(), { message: 'too many request headers' });
    assert.equal(truncated.upstream, undefined);
  });

  test('with the plugin server down, Kong skips the gate and the backstop answers 503', async () => {
    assert.equal((await kong.request(`${BACKSTOP_PREFIX}/orders/1`, [bearer()])).status, 200);
    await stack.server.crash();
    const res = await kong.request(`${BACKSTOP_PREFIX}/orders/1`, [bearer(), ...SPOOFED]);
    assert.equal(res.status, 503, res.body);
    assert.deepEqual(res.json(), { message: 'authentication gate unavailable' });
    assert.equal(res.upstream, undefined);
    assert.match(await kong.log(), /\[error\]/, 'Kong logged the failed call and went on (fail open), into the backstop');
  });
});
