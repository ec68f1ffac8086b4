import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { createMetrics } from '../../lib/ops/metrics.js';
import { openKeyDirectory, type KeyDirectory } from '../../lib/tokens/key-directory.js';
import type { ManifestEntry } from '../../lib/tokens/key-manifest.js';
import { RETIRED_KEY_KEPT_SECONDS } from '../../lib/tokens/key-set.js';
import { signJwt, verifyJwt } from '../../lib/tokens/signing-keys.js';
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

const START_MS = Date.parse('2026-12-01T12:00:00Z');
type Entry = ManifestEntry & { content?: string };

async function open(t: TestContext, dir: string, pollMs = 60_000) {
  const clock = { nowMs: START_MS };
  const logs = capturedLogger();
  const keys = await openKeyDirectory({ log: logs.log, nowMs: () => clock.nowMs }, { dir, pollMs });
  t.after(() => keys.close());
  return { keys, clock, logs };
}

async function metricsText(keys: KeyDirectory): Promise<string> {
  const metrics = createMetrics();
  const layer = { hits: 0, misses: 0 };
  metrics.watch({
    credentials: () => ({
      memory: layer,
      memoryStale: layer,
      admin: { lookups: 0, notFound: 0, outages: 0 },
      entries: { memory: 0, memoryStale: 0 },
    }),
    redisLayers: () => undefined,
    redisConnection: () => undefined,
    droppedLogLines: () => 0,
    remoteJwks: () => [],
    breakerState: () => 'closed',
    pluginServer: () => ({ events: 0, instances: 0, connections: 0 }),
    signingKeys: () => keys.stats(),
    revocations: () => ({ tokens: 0, consumers: 0, current: true, sync: undefined }),
  });
  return metrics.registry.metrics();
}

const metricValue = (text: string, line: string) => new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1];
const kidsByState = (keys: KeyDirectory) => keys.keys()!.set.keys.map((k) => `${k.kid}:${k.state}`);
const jwksKids = (keys: KeyDirectory) => (JSON.parse(keys.keys()!.jwks.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

const es256 = () => privatePem(keyPair('ES256').privateKey);

describe('the signing key directory', () => {
  test('rotation: next is published before it signs, the retired key verifies and is published until its drop time', async (t) => {
    const dir = tempKeyDir(t);
    const [a, b] = [es256(), es256()];
    writeKeys(dir, [{ file: 'a.pem', kid: 'a', alg: 'ES256', state: 'current', content: a }]);
    const { keys, clock } = await open(t, dir);
    const oldToken = signJwt({ sub: 'x' }, keys.keys()!.set.current.get('ES256')!);

    writeKeys(dir, [
      { file: 'a.pem', kid: 'a', alg: 'ES256', state: 'current' },
      { file: 'b.pem', kid: 'b', alg: 'ES256', state: 'next', content: b },
    ]);
    await keys.refresh();
    assert.deepEqual(kidsByState(keys), ['a:current', 'b:next']);
    assert.deepEqual(jwksKids(keys), ['a', 'b']);
    assert.equal(keys.keys()!.set.current.get('ES256')!.kid, 'a', 'a next key does not sign');

    const retiredAt = new Date(START_MS).toISOString();
    writeKeys(dir, [
      { file: 'a.pem', kid: 'a', alg: 'ES256', state: 'retired', retired_at: retiredAt },
      { file: 'b.pem', kid: 'b', alg: 'ES256', state: 'current' },
    ]);
    await keys.refresh();
    assert.deepEqual(kidsByState(keys), ['a:retired', 'b:current']);
    assert.equal(verifyJwt(oldToken, keys.keys()!.set).key.kid, 'a');

    clock.nowMs = START_MS + RETIRED_KEY_KEPT_SECONDS * 1000 - 1;
    await keys.refresh();
    assert.deepEqual(jwksKids(keys), ['a', 'b'], 'kept until its last token expired, plus leeway');
    clock.nowMs += 1;
    await keys.refresh();
    assert.deepEqual(jwksKids(keys), ['b']);
    assert.throws(() => verifyJwt(oldToken, keys.keys()!.set), /names no key/);
    assert.deepEqual(keys.keys()!.set.dropped, [{ kid: 'a', file: 'a.pem', alg: 'ES256', dropAfterMs: clock.nowMs }]);
  });

  const good: Entry[] = [{ file: 'good.pem', kid: 'good', alg: 'ES256', state: 'current' }];
  const BROKEN: Array<[string, () => Entry[] | string, RegExp]> = [
    [
      'a bad PEM',
      () => [
        ...good,
        { file: 'bad.pem', alg: 'ES256', state: 'next', content: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' },
      ],
      /keys\.json key 2 \(bad\.pem\): not a readable PEM or JWK key$/,
    ],
    [
      'an RSA key of 1024 bits',
      () => [...good, { file: 'rsa.pem', alg: 'RS256', state: 'next', content: privatePem(keyPair('RSA1024').privateKey) }],
      /RS256 needs an RSA key of at least 2048 bits, not 1024 bits$/,
    ],
    [
      'a P-384 key for ES256',
      () => [...good, { file: 'p384.pem', alg: 'ES256', state: 'next', content: privatePem(keyPair('P-384').privateKey) }],
      /ES256 needs a P-256 EC key, not an ec secp384r1 key$/,
    ],
    [
      'an Ed448 key for EdDSA',
      () => [...good, { file: 'ed448.pem', alg: 'EdDSA', state: 'next', content: privatePem(keyPair('Ed448').privateKey) }],
      /EdDSA needs an Ed25519 key, not an ed448 key$/,
    ],
    [
      'an EC key for RS256',
      () => [...good, { file: 'ec.pem', alg: 'RS256', state: 'next', content: es256() }],
      /RS256 needs an RSA key, not an ec prime256v1 key$/,
    ],
    ['no current key', () => [{ ...good[0]!, state: 'next' }], /no current key; promote one with "keys promote"$/],
    [
      'two current keys of one alg',
      () => [...good, { file: 'two.pem', alg: 'ES256', state: 'current', content: es256() }],
      /key 2 \(two\.pem\): a second current ES256 key; exactly one per algorithm signs$/,
    ],
    [
      'a duplicate kid',
      () => [...good, { file: 'dup.pem', kid: 'good', alg: 'EdDSA', state: 'next', content: privatePem(keyPair('EdDSA').privateKey) }],
      /kid "good" is used by another key$/,
    ],
    [
      'a public key as next',
      () => [...good, { file: 'pub.pem', alg: 'ES256', state: 'next', content: publicPem(keyPair('ES256').publicKey) }],
      /a next key needs its private key; only a retired key may be public only$/,
    ],
    ['a missing file', () => [...good, { file: 'gone.pem', alg: 'ES256', state: 'next' }], /key 2 \(gone\.pem\): the file is missing$/],
    [
      'a retired key without retired_at',
      () => [...good, { file: 'r.pem', alg: 'ES256', state: 'retired', content: es256() }],
      /a retired key needs "retired_at"$/,
    ],
    [
      'an unknown manifest field',
      () => '{"keys":[{"file":"good.pem","alg":"ES256","state":"current","retired-at":"x"}]}',
      /unknown field "retired-at"$/,
    ],
    ['a manifest that is not JSON', () => '{"keys": [', /^keys\.json is not JSON$/],
  ];

  for (const [what, broken, message] of BROKEN) {
    test(`${what}: the last good set stays, one error line, the metric raised; the fixed directory is picked up`, async (t) => {
      const dir = tempKeyDir(t);
      const goodPem = es256();
      writeKeys(dir, [{ ...good[0]!, content: goodPem }]);
      const { keys, logs } = await open(t, dir);
      const before = keys.keys();
      assert.equal(metricValue(await metricsText(keys), 'kong_auth_signing_keys_invalid'), '0');

      const content = broken();
      if (typeof content === 'string') writeFileSync(join(dir, 'keys.json'), content);
      else writeKeys(dir, content);
      await keys.refresh();
      await keys.refresh();
      assert.equal(keys.keys(), before, 'the last good set, the very same object');
      const errors = logs.lines().filter((line) => line['log.level'] === 'error');
      assert.equal(errors.length, 1, 'one line, not one per poll');
      assert.equal(errors[0]!['event.action'], 'signing-keys-invalid');
      assert.match(String(errors[0]!['error.message']), message);
      assert.match(String(errors[0]!.message), /^signing keys not loaded, the last good set stays in use: /);
      const text = await metricsText(keys);
      assert.equal(metricValue(text, 'kong_auth_signing_keys_invalid'), '1');
      assert.equal(metricValue(text, 'kong_auth_signing_keys_reloads_total{result="invalid"}'), '1');
      assert.equal(metricValue(text, 'kong_auth_signing_keys{state="current"}'), '1');

      const fresh = es256();
      writeKeys(dir, [
        { ...good[0]!, content: goodPem },
        { file: 'fresh.pem', kid: 'fresh', alg: 'ES256', state: 'next', content: fresh },
      ]);
      await keys.refresh();
      assert.deepEqual(kidsByState(keys), ['good:current', 'fresh:next']);
      const fixed = await metricsText(keys);
      assert.equal(metricValue(fixed, 'kong_auth_signing_keys_invalid'), '0');
      assert.equal(metricValue(fixed, 'kong_auth_signing_keys_reloads_total{result="loaded"}'), '2');
      assert.equal(metricValue(fixed, 'kong_auth_signing_keys{state="next"}'), '1');
    });
  }

  test('a retired key leaves the last good set at its drop time even while the directory is invalid', async (t) => {
    const dir = tempKeyDir(t);
    writeKeys(dir, [
      { file: 'old.pem', kid: 'old', alg: 'ES256', state: 'retired', retired_at: new Date(START_MS).toISOString(), content: es256() },
      { file: 'new.pem', kid: 'new', alg: 'ES256', state: 'current', content: es256() },
    ]);
    const { keys, clock, logs } = await open(t, dir);
    writeFileSync(join(dir, 'keys.json'), 'broken');
    await keys.refresh();
    assert.deepEqual(jwksKids(keys), ['old', 'new']);
    clock.nowMs = START_MS + RETIRED_KEY_KEPT_SECONDS * 1000;
    await keys.refresh();
    assert.deepEqual(jwksKids(keys), ['new']);
    assert.equal(keys.keys()!.set.byKid.has('old'), false);
    assert.equal(keys.stats().valid, false);
    assert.equal(logs.lines().filter((line) => line['log.level'] === 'error').length, 1);
  });

  test('a directory invalid from the start serves no set, logs one line and raises the metric', async (t) => {
    const dir = tempKeyDir(t);
    const { keys, logs } = await open(t, dir);
    assert.equal(keys.keys(), undefined);
    assert.deepEqual(
      logs.lines().map((line) => line.message),
      [`signing keys not loaded, no key set yet: ${join(dir, 'keys.json')} cannot be read (ENOENT)`],
    );
    assert.equal(metricValue(await metricsText(keys), 'kong_auth_signing_keys_invalid'), '1');
  });

  test("an atomic swap of a Kubernetes Secret mount's ..data symlink is picked up by the poll", async (t) => {
    const dir = tempKeyDir(t);
    // The kubelet's layout: timestamped folders, ..data pointing at one, each file a symlink through ..data.
    const publish = (version: string, entries: Entry[]) => {
      mkdirSync(join(dir, version));
      writeKeys(join(dir, version), entries);
      symlinkSync(version, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      for (const name of ['keys.json', ...entries.map((e) => e.file)]) {
        rmSync(join(dir, name), { force: true });
        symlinkSync(join('..data', name), join(dir, name));
      }
    };
    const [a, b] = [es256(), privatePem(keyPair('EdDSA').privateKey)];
    publish('..2026_12_01_12_00_00.1', [{ file: 'a.pem', kid: 'a', alg: 'ES256', state: 'current', content: a }]);
    const { keys } = await open(t, dir, 20);
    assert.deepEqual(kidsByState(keys), ['a:current']);
    publish('..2026_12_01_12_05_00.2', [
      { file: 'a.pem', kid: 'a', alg: 'ES256', state: 'current', content: a },
      { file: 'b.pem', kid: 'b', alg: 'EdDSA', state: 'next', content: b },
    ]);
    rmSync(join(dir, '..2026_12_01_12_00_00.1'), { recursive: true });
    const deadline = Date.now() + 5000;
    while (keys.keys()!.set.keys.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(kidsByState(keys), ['a:current', 'b:next']);
  });

  test('no private key parameter in the JWKS, the log lines or the metrics text, for every key type', async (t) => {
    const dir = tempKeyDir(t);
    const pairs = [keyPair('ES256'), keyPair('EdDSA'), keyPair('RS256'), keyPair('RSA1024')];
    writeKeys(dir, [
      { file: 'es.pem', alg: 'ES256', state: 'current', content: privatePem(pairs[0]!.privateKey) },
      { file: 'ed.json', alg: 'EdDSA', state: 'current', content: privateJwk(pairs[1]!.privateKey) },
      { file: 'rs.pem', alg: 'RS256', state: 'next', content: privatePem(pairs[2]!.privateKey) },
    ]);
    const { keys, logs } = await open(t, dir);
    // And an invalid content holding a key, so that the error line is checked too.
    writeKeys(dir, [{ file: 'weak.pem', alg: 'RS256', state: 'current', content: privatePem(pairs[3]!.privateKey) }]);
    await keys.refresh();
    const published = keys.keys()!.jwks.body;
    const everything = [published, logs.text(), await metricsText(keys)].join('\n');
    assert.equal(logs.lines().length, 2);
    for (const key of (JSON.parse(published) as { keys: Record<string, unknown>[] }).keys)
      assert.deepEqual(
        PRIVATE_MEMBERS.filter((member) => member in key),
        [],
      );
    for (const { privateKey } of pairs) {
      const secret = privateKey.export({ format: 'jwk' }) as Record<string, string | undefined>;
      for (const member of PRIVATE_MEMBERS) if (secret[member]) assert.equal(everything.includes(secret[member]!), false, member);
      const pemBody = privatePem(privateKey).split('\n')[1]!;
      assert.equal(everything.includes(pemBody), false);
    }
    assert.equal(/PRIVATE KEY/.test(everything), false);
  });
});
