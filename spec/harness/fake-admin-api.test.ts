import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { test, type TestContext } from 'node:test';
import { startFakeAdminApi, type FakeAdminApi, type FakeAdminApiOptions } from '../../kong/stand-in/fake-admin-api.js';
import { createKongStore, seedFromKongYml, type KongStore } from '../../kong/stand-in/kong-store.js';
import { KongYmlError, parseKongYml } from '../../kong/stand-in/kong-yml.js';

const ALICE_ID = '0b7a4b7e-1f0e-4a43-9a34-2a0c5f1d9e01';
const ALICE_JWT_ID = '7f000000-0000-4000-8000-000000000001';

const KONG_YML = `
_format_version: "3.0"
services:
  - name: orders
    url: http://orders.internal:8080/v1
    routes:
      - name: orders-route
        paths: [/orders]
        methods: [GET, POST]
        plugins:
          - name: key-auth
            config: { key_names: [apikey] }
    plugins:
      - name: rate-limiting
        enabled: false
        config: { minute: 60 }
routes:
  - name: health
    paths: [/health]
    service: orders
plugins:
  - name: correlation-id
consumers:
  - id: ${ALICE_ID}
    username: alice
    custom_id: alice-42
    tags: [team-a]
    keyauth_credentials:
      - key: alice-api-key
    jwt_secrets:
      - id: ${ALICE_JWT_ID}
        key: alice-jwt-key
        secret: alice-secret-0123456789abcdef
  - custom_id: bob-only-custom
`;

async function startFromYml(
  t: TestContext,
  options: Omit<FakeAdminApiOptions, 'store'> = {},
): Promise<{ api: FakeAdminApi; store: KongStore }> {
  const store = createKongStore();
  seedFromKongYml(store, parseKongYml(KONG_YML));
  const api = await startFakeAdminApi({ store, ...options });
  t.after(() => api.close());
  return { api, store };
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  return getJson(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

// ---- kong.yml -------------------------------------------------------------

test('parseKongYml types services, routes, plugins and consumers, keeping file ids', () => {
  const yml = parseKongYml(KONG_YML);
  assert.equal(yml._format_version, '3.0');
  assert.equal(yml.services[0]?.name, 'orders');
  assert.equal(yml.services[0]?.url, 'http://orders.internal:8080/v1');
  assert.deepEqual(yml.services[0]?.routes[0]?.paths, ['/orders']);
  assert.deepEqual(yml.services[0]?.routes[0]?.plugins[0], { name: 'key-auth', config: { key_names: ['apikey'] } });
  assert.equal(yml.services[0]?.plugins[0]?.enabled, false);
  assert.equal(yml.routes[0]?.service, 'orders');
  assert.deepEqual(yml.plugins, [{ name: 'correlation-id' }]);
  assert.deepEqual(yml.consumers[0]?.jwt_secrets, [{ id: ALICE_JWT_ID, key: 'alice-jwt-key', secret: 'alice-secret-0123456789abcdef' }]);
  assert.deepEqual(yml.consumers[1], {
    custom_id: 'bob-only-custom',
    keyauth_credentials: [],
    basicauth_credentials: [],
    jwt_secrets: [],
    acls: [],
    plugins: [],
  });
});

test('parseKongYml names the offending path of a malformed file', () => {
  const cases: Array<[string, RegExp]> = [
    ['_format_version: "3.0"\nconsumers:\n  - tags: [x]\n', /^kong\.yml: consumers\[0\]: a consumer needs a username or a custom_id$/],
    [
      '_format_version: "3.0"\nconsumers:\n  - username: a\n    jwt_secrets:\n      - key: k\n',
      /^kong\.yml: consumers\[0\]\.jwt_secrets\[0\]\.secret: required field missing$/,
    ],
    [
      '_format_version: "3.0"\nconsumers:\n  - username: a\n    jwt_secrets:\n      - { key: k, secret: s, algorithm: HS999 }\n',
      /consumers\[0\]\.jwt_secrets\[0\]\.algorithm: expected one of HS256/,
    ],
    [
      '_format_version: "3.0"\nconsumers:\n  - username: a\n  - username: a\n',
      /consumers\[1\]\.username: duplicate username "a" \(already used at consumers\[0\]\.username\)/,
    ],
    ['_format_version: "3.0"\nservices:\n  - name: s\n', /services\[0\]: a service needs a url or a host/],
    [
      '_format_version: "3.0"\nservices:\n  - { name: s, host: h, routes: [{ name: r, paths: [orders] }] }\n',
      /services\[0\]\.routes\[0\]\.paths\[0\]: a path must start with "\/"/,
    ],
    ['_format_version: "3.0"\nplugins:\n  - config: {}\n', /plugins\[0\]\.name: required field missing/],
    ['_format_version: "3.0"\nconsumers:\n  - { id: not-a-uuid, username: a }\n', /consumers\[0\]\.id: expected a UUID/],
    ['_format_version: "1.1"\n', /_format_version: expected "3\.0", got "1\.1"/],
    ['consumers: [\n', /^kong\.yml: not valid YAML/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseKongYml(text),
      (err: unknown) => err instanceof KongYmlError && message.test(err.message),
      text,
    );
  }
});

// ---- consumers ---------------------------------------------------------------

test("GET /consumers/{username or id} answers Kong's consumer shape and headers", async (t) => {
  const { api } = await startFromYml(t);
  const expected = { id: ALICE_ID, username: 'alice', custom_id: 'alice-42', created_at: 0, updated_at: 0, tags: ['team-a'] };

  for (const idOrUsername of ['alice', ALICE_ID]) {
    const res = await getJson(`${api.url}/consumers/${idOrUsername}`);
    assert.equal(res.status, 200);
    const body = res.body as typeof expected;
    assert.ok(Number.isInteger(body.created_at) && body.created_at > 1_600_000_000, 'created_at is unix seconds');
    assert.deepEqual({ ...body, created_at: 0, updated_at: 0 }, expected);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.match(res.headers.get('server') ?? '', /^kong\/3\./);
    assert.match(res.headers.get('x-kong-admin-latency') ?? '', /^\d+$/);
  }
});

test('a consumer without username answers null fields; unknown consumers and paths are 404, wrong methods 405', async (t) => {
  const { api, store } = await startFromYml(t);
  const bob = store.consumers().find((consumer) => consumer.custom_id === 'bob-only-custom');
  assert.ok(bob);
  const res = await getJson(`${api.url}/consumers/${bob.id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    id: bob.id,
    username: null,
    custom_id: 'bob-only-custom',
    created_at: bob.created_at,
    updated_at: bob.updated_at,
    tags: null,
  });

  // Kong looks a UUID up by id only, never by username, and custom_id is not a lookup key.
  for (const path of [
    '/consumers/nobody',
    '/consumers/bob-only-custom',
    `/consumers/${crypto.randomUUID()}`,
    '/consumers/nobody/jwt',
    '/services',
    '/jwts/nope',
  ]) {
    const notFound = await getJson(api.url + path);
    assert.equal(notFound.status, 404, path);
    assert.deepEqual(notFound.body, { message: 'Not found' }, path);
  }
  for (const [method, path] of [
    ['DELETE', '/consumers/alice'],
    ['PUT', '/consumers/alice/jwt'],
    ['POST', '/jwts/alice-jwt-key'],
  ] as const) {
    const wrong = await getJson(api.url + path, { method });
    assert.equal(wrong.status, 405, `${method} ${path}`);
    assert.deepEqual(wrong.body, { message: 'Method not allowed' });
  }
});

// ---- jwt credentials -----------------------------------------------------------

test("GET /consumers/{x}/jwt lists credentials in Kong's shape, ordered by id rather than created_at", async (t) => {
  const store = createKongStore();
  const consumer = store.addConsumer({ username: 'carol' });
  // The newest credential has the smallest id, so a client that trusts list order picks the wrong one.
  store.addJwtCredential('carol', { id: '20000000-0000-4000-8000-000000000000', key: 'old', secret: 's-old', created_at: 1_700_000_000 });
  store.addJwtCredential('carol', { id: '10000000-0000-4000-8000-000000000000', key: 'new', secret: 's-new', created_at: 1_700_000_100 });
  const api = await startFakeAdminApi({ store });
  t.after(() => api.close());

  const res = await getJson(`${api.url}/consumers/carol/jwt`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    data: [
      {
        id: '10000000-0000-4000-8000-000000000000',
        consumer: { id: consumer.id },
        key: 'new',
        secret: 's-new',
        algorithm: 'HS256',
        rsa_public_key: null,
        created_at: 1_700_000_100,
        tags: null,
      },
      {
        id: '20000000-0000-4000-8000-000000000000',
        consumer: { id: consumer.id },
        key: 'old',
        secret: 's-old',
        algorithm: 'HS256',
        rsa_public_key: null,
        created_at: 1_700_000_000,
        tags: null,
      },
    ],
    next: null,
  });
  const empty = store.addConsumer({ username: 'dave' });
  assert.deepEqual((await getJson(`${api.url}/consumers/${empty.id}/jwt/`)).body, { data: [], next: null });
});

test('jwt lists page with an opaque offset: pageSize as the default, `size` per request, `next` to follow', async (t) => {
  const store = createKongStore();
  store.addConsumer({ username: 'erin' });
  const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
  for (const key of keys) store.addJwtCredential('erin', { key, secret: `secret-${key}` });
  const api = await startFakeAdminApi({ store, pageSize: 2 });
  t.after(() => api.close());

  const seen: string[] = [];
  const pageLengths: number[] = [];
  let path: string | null = '/consumers/erin/jwt';
  while (path !== null) {
    const res = await getJson(api.url + path);
    assert.equal(res.status, 200);
    const body = res.body as { data: Array<{ key: string }>; next: string | null; offset?: string };
    pageLengths.push(body.data.length);
    seen.push(...body.data.map((credential) => credential.key));
    if (body.next !== null) {
      assert.equal(typeof body.offset, 'string');
      assert.equal(body.next, `/consumers/erin/jwt?offset=${encodeURIComponent(body.offset ?? '')}`);
    } else {
      assert.equal('offset' in body, false, 'the last page has no offset');
    }
    path = body.next;
  }
  assert.deepEqual(pageLengths, [2, 2, 1]);
  assert.deepEqual([...seen].sort(), keys);

  const big = await getJson(`${api.url}/consumers/erin/jwt?size=10`);
  assert.equal((big.body as { data: unknown[] }).data.length, 5);
  assert.equal((big.body as { next: unknown }).next, null);

  assert.deepEqual((await getJson(`${api.url}/consumers/erin/jwt?size=1001`)).body, {
    code: 9,
    name: 'invalid size',
    message: 'size must be an integer between 1 and 1000',
  });
  assert.deepEqual((await getJson(`${api.url}/consumers/erin/jwt?size=abc`)).body, {
    code: 9,
    name: 'invalid size',
    message: 'size must be a number',
  });
  const badOffset = await getJson(`${api.url}/consumers/erin/jwt?offset=!!`);
  assert.equal(badOffset.status, 400);
  assert.deepEqual(badOffset.body, { code: 7, name: 'invalid offset', message: "'!!' is not a valid offset: bad base64 encoding" });
});

test('POST /consumers/{x}/jwt creates a credential, generating key and secret like Kong', async (t) => {
  const { api } = await startFromYml(t);

  const generated = await postJson(`${api.url}/consumers/alice/jwt`, {});
  assert.equal(generated.status, 201);
  const body = generated.body as Record<string, unknown>;
  assert.match(String(body['key']), /^[A-Za-z0-9]{32}$/);
  assert.match(String(body['secret']), /^[A-Za-z0-9]{32}$/);
  assert.deepEqual(Object.keys(body).sort(), ['algorithm', 'consumer', 'created_at', 'id', 'key', 'rsa_public_key', 'secret', 'tags']);
  assert.deepEqual(
    { ...body, id: 'x', key: 'x', secret: 'x', created_at: 0 },
    { id: 'x', consumer: { id: ALICE_ID }, key: 'x', secret: 'x', algorithm: 'HS256', rsa_public_key: null, created_at: 0, tags: null },
  );

  const given = await postJson(`${api.url}/consumers/${ALICE_ID}/jwt`, { key: 'chosen-key', secret: 'chosen-secret', algorithm: 'HS256' });
  assert.equal(given.status, 201);
  assert.equal((given.body as { key: string }).key, 'chosen-key');

  const form = await getJson(`${api.url}/consumers/alice/jwt`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'key=form-key&secret=form-secret&algorithm=HS384',
  });
  assert.equal(form.status, 201);
  assert.deepEqual([(form.body as { key: string }).key, (form.body as { algorithm: string }).algorithm], ['form-key', 'HS384']);

  const listed = await getJson(`${api.url}/consumers/alice/jwt`);
  assert.equal((listed.body as { data: unknown[] }).data.length, 4);
});

test("POST with a taken key answers 409 with Kong's unique-violation body", async (t) => {
  const { api } = await startFromYml(t);
  const res = await postJson(`${api.url}/consumers/alice/jwt`, { key: 'alice-jwt-key', secret: 'another' });
  assert.equal(res.status, 409);
  assert.deepEqual(res.body, {
    code: 5,
    name: 'unique constraint violation',
    message: `UNIQUE violation detected on '{key="alice-jwt-key"}'`,
    fields: { key: 'alice-jwt-key' },
  });
});

test('POST errors: unknown consumer 404, schema violations 400, unparsable JSON 400', async (t) => {
  const { api } = await startFromYml(t);
  assert.deepEqual(await statusAndBody(postJson(`${api.url}/consumers/nobody/jwt`, { key: 'k' })), [404, { message: 'Not found' }]);
  assert.deepEqual(await statusAndBody(postJson(`${api.url}/consumers/alice/jwt`, { key: 'k', colour: 'red' })), [
    400,
    { code: 2, name: 'schema violation', message: 'schema violation (colour: unknown field)', fields: { colour: 'unknown field' } },
  ]);
  assert.deepEqual(await statusAndBody(postJson(`${api.url}/consumers/alice/jwt`, { key: 'k', algorithm: 'RS256' })), [
    400,
    {
      code: 2,
      name: 'schema violation',
      message:
        "2 schema violations (failed conditional validation given value of field 'algorithm'; rsa_public_key: required field missing)",
      fields: { rsa_public_key: 'required field missing', '@entity': ["failed conditional validation given value of field 'algorithm'"] },
    },
  ]);
  const broken = await getJson(`${api.url}/consumers/alice/jwt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"key":',
  });
  assert.deepEqual([broken.status, broken.body], [400, { message: 'Cannot parse JSON body' }]);
});

test('GET /jwts/{key or id} and /consumers/{x}/jwt/{key or id} answer the credential with its consumer', async (t) => {
  const { api, store } = await startFromYml(t);
  const expected = {
    id: ALICE_JWT_ID,
    consumer: { id: ALICE_ID },
    key: 'alice-jwt-key',
    secret: 'alice-secret-0123456789abcdef',
    algorithm: 'HS256',
    rsa_public_key: null,
  };
  for (const path of [
    '/jwts/alice-jwt-key',
    `/jwts/${ALICE_JWT_ID}`,
    '/consumers/alice/jwt/alice-jwt-key',
    `/consumers/${ALICE_ID}/jwt/${ALICE_JWT_ID}`,
  ]) {
    const res = await getJson(api.url + path);
    assert.equal(res.status, 200, path);
    assert.deepEqual(
      { ...(res.body as Record<string, unknown>), created_at: undefined, tags: undefined },
      { ...expected, created_at: undefined, tags: undefined },
      path,
    );
  }
  const bob = store.consumers().find((consumer) => consumer.custom_id === 'bob-only-custom');
  assert.equal(
    (await getJson(`${api.url}/consumers/${bob?.id}/jwt/alice-jwt-key`)).status,
    404,
    "another consumer's credential is not found",
  );
  assert.equal((await getJson(`${api.url}/jwts/${crypto.randomUUID()}`)).status, 404);
});

test('store mutations show through the API: rotate, remove, conflicts', async (t) => {
  const { api, store } = await startFromYml(t);
  store.rotateJwtSecret(ALICE_JWT_ID, 'rotated-secret');
  assert.equal(((await getJson(`${api.url}/jwts/alice-jwt-key`)).body as { secret: string }).secret, 'rotated-secret');
  assert.equal(store.removeJwtCredential(ALICE_JWT_ID), true);
  assert.equal((await getJson(`${api.url}/jwts/alice-jwt-key`)).status, 404);
  assert.equal(store.removeJwtCredential(ALICE_JWT_ID), false);
  assert.equal(store.consumerByKeyAuthKey('alice-api-key')?.username, 'alice');
  assert.equal(store.consumerByKeyAuthKey('nope'), undefined);
  store.addJwtCredential('alice', { key: 'again' });
  assert.throws(() => store.addJwtCredential('alice', { key: 'again' }), { name: 'KongStoreConflictError' });
  assert.throws(() => store.addJwtCredential('nobody', {}), { name: 'KongStoreNotFoundError' });
});

// ---- auth ----------------------------------------------------------------------

test('with an admin token every request needs Kong-Admin-Token', async (t) => {
  const { api } = await startFromYml(t, { adminToken: 's3cret' });
  assert.deepEqual(await statusAndBody(getJson(`${api.url}/consumers/alice`)), [
    401,
    { message: 'Invalid credentials. Token or User credentials required' },
  ]);
  assert.deepEqual(await statusAndBody(getJson(`${api.url}/consumers/alice`, { headers: { 'kong-admin-token': 'wrong' } })), [
    401,
    { message: 'Invalid RBAC credentials' },
  ]);
  assert.equal((await getJson(`${api.url}/nothing-here`)).status, 401, 'auth comes before routing');
  assert.equal((await getJson(`${api.url}/consumers/alice`, { headers: { 'Kong-Admin-Token': 's3cret' } })).status, 200);
  assert.equal(api.requests.length, 4);
  assert.equal(api.requests[3]?.headers['kong-admin-token'], 's3cret');
});

// ---- faults and connections ----------------------------------------------------------

test('fault down: connections are destroyed without an answer, until the fault is cleared', async (t) => {
  const { api } = await startFromYml(t);
  assert.equal((await getJson(`${api.url}/consumers/alice`)).status, 200); // leaves a keep-alive connection behind
  api.setFault({ kind: 'down' });
  await assert.rejects(fetch(`${api.url}/consumers/alice`), TypeError);
  await assert.rejects(fetch(`${api.url}/consumers/alice/jwt`), TypeError);
  assert.ok(api.droppedConnections >= 2);
  assert.equal(api.requests.length, 1, 'a down server reads no request');
  api.setFault(undefined);
  assert.equal((await getJson(`${api.url}/consumers/alice`)).status, 200);
});

test("fault status: every request answers the status with Kong's body and Retry-After", async (t) => {
  const { api } = await startFromYml(t);
  api.setFault({ kind: 'status', status: 503, retryAfterSeconds: 7 });
  const unavailable = await getJson(`${api.url}/consumers/alice`);
  assert.deepEqual(
    [unavailable.status, unavailable.body, unavailable.headers.get('retry-after')],
    [503, { message: 'Service unavailable' }, '7'],
  );
  api.setFault({ kind: 'status', status: 429, retryAfterSeconds: 1 });
  const limited = await getJson(`${api.url}/consumers/alice/jwt`);
  assert.deepEqual([limited.status, limited.body, limited.headers.get('retry-after')], [429, { message: 'API rate limit exceeded' }, '1']);
  api.setFault({ kind: 'status', status: 500 });
  const failed = await getJson(`${api.url}/jwts/alice-jwt-key`);
  assert.deepEqual(
    [failed.status, failed.body, failed.headers.get('retry-after')],
    [500, { message: 'An unexpected error occurred' }, null],
  );
  api.setFault({ kind: 'status', status: 502 });
  assert.deepEqual(await statusAndBody(getJson(`${api.url}/consumers/alice`)), [502, { message: 'Bad gateway' }]);
  assert.equal(api.requests.length, 4);
});

test('fault slow: the right answer after the delay; close() does not wait for pending answers', async (t) => {
  const { api } = await startFromYml(t);
  api.setFault({ kind: 'slow', delayMs: 150 });
  const startedAt = performance.now();
  const res = await getJson(`${api.url}/consumers/alice`);
  assert.equal(res.status, 200);
  assert.ok(performance.now() - startedAt >= 140, 'answer was delayed');

  api.setFault({ kind: 'slow', delayMs: 60_000 });
  const pending = fetch(`${api.url}/consumers/alice`);
  const settled = pending.then(
    () => 'answered',
    () => 'failed',
  );
  await waitFor(() => api.requests.length === 2);
  const closeStartedAt = performance.now();
  await api.close();
  assert.ok(performance.now() - closeStartedAt < 1000, 'close() was prompt');
  assert.equal(await settled, 'failed');
});

test('keep-alive connections are reused, and close() ends them promptly', async (t) => {
  const { api } = await startFromYml(t);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await rawGet(agent, `${api.url}/consumers/alice`);
  const second = await rawGet(agent, `${api.url}/consumers/alice/jwt`);
  assert.deepEqual([first.status, second.status], [200, 200]);
  assert.equal(first.reusedSocket, false);
  assert.equal(second.reusedSocket, true);
  const startedAt = performance.now();
  await api.close();
  assert.ok(performance.now() - startedAt < 1000);
});

// ---- Konnect -----------------------------------------------------------------------------

test('KONNECT mode: control-plane URL, Bearer auth, core-entities paths', async (t) => {
  const { api } = await startFromYml(t, { mode: 'KONNECT', adminToken: 'kpat_test' });
  assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+\/v2\/control-planes\/[0-9a-f-]{36}$/);
  assert.equal(api.url.endsWith(`/v2/control-planes/${api.controlPlaneId}`), true);
  const auth = { authorization: 'Bearer kpat_test' };

  assert.deepEqual(await statusAndBody(getJson(`${api.url}/core-entities/consumers/alice`)), [
    401,
    { message: 'Unauthorized', status: 401 },
  ]);
  assert.equal((await getJson(`${api.url}/core-entities/consumers/alice`, { headers: { authorization: 'Bearer nope' } })).status, 401);

  const consumer = await getJson(`${api.url}/core-entities/consumers/${ALICE_ID}`, { headers: auth });
  assert.equal(consumer.status, 200);
  assert.equal((consumer.body as { username: string }).username, 'alice');
  assert.equal((await getJson(`${api.url}/core-entities/jwts/alice-jwt-key`, { headers: auth })).status, 200);
  assert.equal(
    (await getJson(`${api.url}/consumers/alice`, { headers: auth })).status,
    404,
    'Kong paths without the core-entities prefix do not exist',
  );
  const otherPlane = api.url.replace(api.controlPlaneId ?? '', crypto.randomUUID());
  assert.equal((await getJson(`${otherPlane}/core-entities/consumers/alice`, { headers: auth })).status, 404);

  const created = await postJson(`${api.url}/core-entities/consumers/alice/jwt`, { key: 'konnect-key', secret: 'konnect-secret' }, auth);
  assert.equal(created.status, 201);
  assert.equal((created.body as { consumer: { id: string } }).consumer.id, ALICE_ID);
});

test('KONNECT mode pages with `offset` only: no `next` link', async (t) => {
  const store = createKongStore();
  store.addConsumer({ username: 'frank' });
  for (const key of ['a', 'b', 'c']) store.addJwtCredential('frank', { key, secret: `s-${key}` });
  const api = await startFakeAdminApi({ store, mode: 'KONNECT', pageSize: 2 });
  t.after(() => api.close());
  assert.match(api.adminToken ?? '', /^kpat_/, 'a token is generated when none is given');
  const auth = { authorization: `Bearer ${api.adminToken}` };

  const first = (await getJson(`${api.url}/core-entities/consumers/frank/jwt`, { headers: auth })).body as {
    data: Array<{ key: string }>;
    offset?: string;
  };
  assert.deepEqual(Object.keys(first).sort(), ['data', 'offset']);
  assert.equal(first.data.length, 2);
  const second = (
    await getJson(`${api.url}/core-entities/consumers/frank/jwt?offset=${encodeURIComponent(first.offset ?? '')}`, { headers: auth })
  ).body as {
    data: Array<{ key: string }>;
  };
  assert.deepEqual(Object.keys(second), ['data']);
  assert.deepEqual([...first.data, ...second.data].map((credential) => credential.key).sort(), ['a', 'b', 'c']);
});

// ---- helpers ---------------------------------------------------------------------------------

async function statusAndBody(response: Promise<{ status: number; body: unknown }>): Promise<[number, unknown]> {
  const { status, body } = await response;
  return [status, body];
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), 'condition never became true');
}

function rawGet(agent: Agent, url: string): Promise<{ status: number; reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

test("fault overloaded: answers after the delay up to `capacity` at once; a request beyond it gets Kong's 500 at once", async (t) => {
  const { api } = await startFromYml(t);
  api.setFault({ kind: 'overloaded', capacity: 2, delayMs: 300 });
  const answers = await Promise.all(Array.from({ length: 3 }, () => getJson(`${api.url}/consumers/alice`)));
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 500]);
  assert.deepEqual(answers.find((a) => a.status === 500)?.body, { message: 'An unexpected error occurred' });
  assert.equal((await getJson(`${api.url}/consumers/alice`)).status, 200, 'capacity is free again once answered');
});
