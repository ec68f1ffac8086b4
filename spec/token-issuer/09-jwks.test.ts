import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { openKeyDirectory } from '../../lib/tokens/key-directory.js';
import { signJwt } from '../../lib/tokens/signing-keys.js';
import { eventually } from '../support/eventually.js';
import {
  capturedLogger,
  keyPair,
  privateJwk,
  privatePem,
  PRIVATE_MEMBERS,
  publicPem,
  tempKeyDir,
  writeKeys,
} from '../support/signing-keys.js';

const JWKS_KONG_YML = `
_format_version: "3.0"
services:
  - name: well-known
    url: http://127.0.0.1:9
    routes:
      - name: jwks
        paths: [/.well-known/jwks.json]
        plugins:
          - name: token-issuer
            config: { mode: jwks }
      - name: jwks-short
        paths: [/short/jwks.json]
        plugins:
          - name: token-issuer
            config: { mode: jwks, max_age_seconds: 60 }
`;

/** The members each key type may publish, beside kid, alg and use. */
const PUBLIC_MEMBERS: Record<string, string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };
const HOUR_MS = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('token-issuer mode jwks: GET /.well-known/jwks.json', () => {
  let kong: KongHarness;
  let dir: string;
  const get = (headers: Record<string, string | string[]> = {}, path = '/.well-known/jwks.json', method = 'GET') =>
    kong.request({ method, path, headers });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jwks-'));
    const now = Date.now();
    writeKeys(dir, [
      { file: 'old.pem', alg: 'ES256', state: 'retired', published_at: iso(now - 72 * HOUR_MS), retired_at: iso(now - 48 * HOUR_MS) },
      { file: 'rs.pem', alg: 'RS256', state: 'retired', retired_at: iso(now - HOUR_MS), content: privatePem(keyPair('RS256').privateKey) },
      { file: 'ec.pem', alg: 'ES256', state: 'current', kid: 'ec-current', content: privatePem(keyPair('ES256').privateKey) },
      { file: 'ed.jwk', alg: 'EdDSA', state: 'next', content: privateJwk(keyPair('EdDSA').privateKey) },
      { file: 'ed-public.pem', alg: 'EdDSA', state: 'retired', retired_at: iso(now), content: publicPem(keyPair('EdDSA').publicKey) },
    ]);
    kong = await KongHarness.start({ kongYml: JWKS_KONG_YML, env: { SIGNING_KEYS_DIR: dir } });
  });
  after(() => kong?.stop());

  test('next, current and unexpired retired keys, public members only, with kid, alg and use; cacheable, with a strong ETag', async () => {
    const res = await get();
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/jwk-set+json');
    assert.equal(res.headers['cache-control'], 'public, max-age=300');
    assert.equal(res.headers['etag'], `"${createHash('sha256').update(res.body).digest('base64url')}"`);
    assert.ok(res.headers['x-request-id']);
    const { keys } = res.json<{ keys: Array<Record<string, string>> }>();
    assert.deepEqual(
      keys.map((key) => [key.alg, key.kty, key.use]),
      [
        ['RS256', 'RSA', 'sig'],
        ['ES256', 'EC', 'sig'],
        ['EdDSA', 'OKP', 'sig'],
        ['EdDSA', 'OKP', 'sig'],
      ],
      'the retired key past its drop time is gone, the others in manifest order',
    );
    assert.equal(keys[1]?.kid, 'ec-current');
    for (const key of keys) {
      assert.deepEqual(Object.keys(key).sort(), [...(PUBLIC_MEMBERS[key.kty as string] as string[]), 'alg', 'kid', 'use'].sort());
      assert.match(key.kid as string, /^[\w-]+$/);
    }
    // On the wire, not only in the parsed object: no private member anywhere in the body.
    for (const member of PRIVATE_MEMBERS) assert.doesNotMatch(res.body, new RegExp(`"${member}":`), member);
    assert.doesNotMatch(kong.server.capturedOutput, /PRIVATE KEY|"d":/);
  });

  test('a token of the current key verifies with jose from the published JWKS alone', async () => {
    const jwks = createLocalJWKSet((await get()).json<JSONWebKeySet>());
    const directory = await openKeyDirectory({ log: capturedLogger().log, nowMs: Date.now }, { dir, pollMs: 60_000 });
    try {
      const key = directory.keys()?.set.current.get('ES256');
      assert.ok(key);
      const token = signJwt({ sub: 'alice', iss: 'https://issuer.test', exp: Math.floor(Date.now() / 1000) + 60 }, key);
      const { protectedHeader, payload } = await jwtVerify(token, jwks, { issuer: 'https://issuer.test' });
      assert.deepEqual(protectedHeader, { alg: 'ES256', kid: 'ec-current', typ: 'JWT' });
      assert.equal(payload.sub, 'alice');
    } finally {
      directory.close();
    }
  });

  test('If-None-Match: the tag, its W/ form, a list, several lines and * answer 304 with the cache headers and no body; another tag 200', async () => {
    const { headers } = await get();
    const etag = headers['etag'] as string;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, ['"other"', `W/${etag}`], '*']) {
      const res = await get({ 'if-none-match': inm, 'x-request-id': 'inm-1' });
      assert.equal(res.status, 304, String(inm));
      assert.equal(res.body, '');
      assert.equal(res.headers['etag'], etag);
      assert.equal(res.headers['cache-control'], 'public, max-age=300');
      assert.equal(res.headers['x-request-id'], 'inm-1');
    }
    for (const inm of ['"other"', etag.slice(1, -1), `W/"x", "y"`]) assert.equal((await get({ 'if-none-match': inm })).status, 200, inm);
  });

  test('HEAD answers the headers of GET without a body; other methods 405 with Allow', async () => {
    const head = await get({}, '/.well-known/jwks.json', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-type'], 'application/jwk-set+json');
    assert.equal(head.headers['etag'], (await get()).headers['etag']);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await get({}, '/.well-known/jwks.json', method);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers['allow'], 'GET, HEAD');
      assert.equal(res.headers['content-type'], 'application/problem+json');
      const body = res.json();
      assert.equal(body.code, 'AUTH_007');
      assert.equal(body.status, 405);
      assert.deepEqual(body.extensions, { reason: 'method_not_allowed' });
    }
  });

  test('max_age_seconds sets the max-age', async () => {
    const res = await get({}, '/short/jwks.json');
    assert.equal(res.headers['cache-control'], 'public, max-age=60');
    assert.equal(res.body, (await get()).body, 'the same set on every route');
  });

  test('a change of the key directory is published within a poll, under a new ETag; a broken directory keeps the last good set', async () => {
    const before = await get();
    const etag = before.headers['etag'] as string;
    const manifest = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as { keys: Array<Record<string, unknown>> };
    writeFileSync(join(dir, 'new.pem'), privatePem(keyPair('ES256').privateKey), { mode: 0o600 });
    manifest.keys.push({ file: 'new.pem', kid: 'ec-next', alg: 'ES256', state: 'next' });
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(manifest));
    await eventually(async () => (await get({ 'if-none-match': etag })).status === 200, 'the new key is published');
    const after = await get();
    assert.notEqual(after.headers['etag'], etag);
    assert.deepEqual(
      after
        .json<{ keys: Array<{ kid: string }> }>()
        .keys.map((key) => key.kid)
        .at(-1),
      'ec-next',
    );

    writeFileSync(join(dir, 'keys.json'), '{"keys": [');
    await kong.server.waitForLogLine((line) => line['event.action'] === 'signing-keys-invalid', 10_000);
    const kept = await get();
    assert.equal(kept.status, 200);
    assert.equal(kept.body, after.body, 'the last good set, never an empty one');
  });
});

describe('token-issuer mode jwks without a key set', () => {
  test('no SIGNING_KEYS_DIR: 503 AUTH_019, never an empty set', async (t) => {
    const kong = await KongHarness.start({ kongYml: JWKS_KONG_YML });
    t.after(() => kong.stop());
    const res = await kong.request({ path: '/.well-known/jwks.json', headers: {} });
    assert.equal(res.status, 503);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['retry-after'], undefined, 'it does not heal by itself');
    const body = res.json();
    assert.equal(body.code, 'AUTH_019');
    assert.equal(body.title, 'Signing Keys Unavailable');
    assert.equal(body.detail, 'This sidecar has no SIGNING_KEYS_DIR: it has no keys to publish');
  });

  test('a directory that never held a valid set: 503 AUTH_019 with Retry-After until it does, then the set', async (t) => {
    const dir = tempKeyDir(t);
    writeKeys(dir, [{ file: 'ec.pem', alg: 'ES256', state: 'next', content: privatePem(keyPair('ES256').privateKey) }]);
    const kong = await KongHarness.start({ kongYml: JWKS_KONG_YML, env: { SIGNING_KEYS_DIR: dir } });
    t.after(() => kong.stop());
    const res = await kong.request({ path: '/.well-known/jwks.json', headers: {} });
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.json().detail, 'SIGNING_KEYS_DIR holds no valid key set yet');

    writeKeys(dir, [{ file: 'ec.pem', alg: 'ES256', state: 'current' }]);
    await eventually(
      async () => (await kong.request({ path: '/.well-known/jwks.json', headers: {} })).status === 200,
      'the set once valid',
    );
  });
});
