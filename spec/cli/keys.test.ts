import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { PluginServerProcess, runCli } from '../../kong/stand-in/plugin-server-process.js';
import { runKeysCommand } from '../../lib/keys-cli.js';
import { createLogger } from '../../lib/ops/logger.js';
import { openKeyDirectory } from '../../lib/tokens/key-directory.js';
import { RETIRED_KEY_KEPT_SECONDS } from '../../lib/tokens/key-set.js';
import { signJwt } from '../../lib/tokens/signing-keys.js';
import { tempKeyDir } from '../support/signing-keys.js';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const HOUR_MS = 3600_000;

describe('kong-auth-sidecar keys', () => {
  test('the rotation runbook: generate → promote → generate, wait, promote → retire; the JWKS holds each key until its drop time', async (t) => {
    const dir = tempKeyDir(t);
    const clock = { nowMs: T0 };
    const keys = (...argv: string[]) => {
      const out = { stdout: '', stderr: '' };
      const io = { env: {}, nowMs: clock.nowMs, stdout: (s: string) => (out.stdout += s), stderr: (s: string) => (out.stderr += s) };
      return runKeysCommand([...argv, '--dir', dir], io).then((code) => ({ code, ...out }));
    };
    const silent = createLogger({ level: 'silent', serviceVersion: 'test' });
    const directory = await openKeyDirectory({ log: silent, nowMs: () => clock.nowMs }, { dir, pollMs: 60_000 });
    t.after(() => directory.close());
    const published = async () => {
      await directory.refresh();
      const { set, jwks } = directory.keys()!;
      return { states: set.keys.map((k) => `${k.alg}:${k.state}`), jwks, set };
    };

    const a = (await keys('generate', '--alg', 'ES256')).stdout.trim();
    // The first key: no token and no verifier exist yet, so no publish-ahead wait.
    assert.deepEqual(await keys('promote', '--kid', a), { code: 0, stdout: `${a} ES256: next → current\n`, stderr: '' });
    const first = await published();
    assert.deepEqual(first.states, ['ES256:current']);
    const tokenOfA = signJwt({ sub: 'alice', exp: T0 / 1000 + 86_400 }, first.set.current.get('ES256')!);

    clock.nowMs += 60_000;
    const b = (await keys('generate', '--alg', 'ES256')).stdout.trim();
    assert.deepEqual((await published()).states, ['ES256:current', 'ES256:next'], 'published, not signing');
    const early = await keys('promote', '--kid', b);
    assert.equal(early.code, 1);
    assert.match(
      early.stderr,
      new RegExp(`^kong-auth-sidecar keys promote: key ${b} was published at 2026-12-01T12:01:00Z; wait 3600 s more`),
    );

    clock.nowMs += HOUR_MS;
    const promoted = await keys('promote', '--kid', b);
    const dropA = new Date(clock.nowMs + RETIRED_KEY_KEPT_SECONDS * 1000).toISOString().replace('.000', '');
    assert.deepEqual(promoted, {
      code: 0,
      stdout: `${a} ES256: current → retired (dropped after ${dropA})\n${b} ES256: next → current\n`,
      stderr: '',
    });
    const second = await published();
    assert.deepEqual(second.states, ['ES256:retired', 'ES256:current']);
    assert.equal(second.set.current.get('ES256')!.kid, b);
    // A token of the retired key still verifies from the JWKS alone.
    const { payload } = await jwtVerify(tokenOfA, createLocalJWKSet(JSON.parse(second.jwks.body)), { currentDate: new Date(clock.nowMs) });
    assert.equal(payload.sub, 'alice');

    const c = (await keys('generate', '--alg', 'EdDSA')).stdout.trim();
    clock.nowMs += HOUR_MS;
    assert.equal((await keys('promote', '--kid', c)).code, 0);
    // Moving to EdDSA: ES256 stops signing, and its keys stay published until their tokens expired.
    assert.equal((await keys('retire', '--kid', b)).code, 0);
    const third = await published();
    assert.deepEqual(third.states, ['ES256:retired', 'ES256:retired', 'EdDSA:current']);
    assert.deepEqual(
      (JSON.parse(third.jwks.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid),
      [a, b, c],
    );

    clock.nowMs = Date.parse(dropA);
    assert.deepEqual((await published()).states, ['ES256:retired', 'EdDSA:current'], 'a dropped at its drop time');
    const list = await keys('list');
    assert.equal(list.code, 0);
    const rows = list.stdout.trim().split('\n');
    assert.match(rows[0]!, /^KID +ALG +STATE +PUBLISHED_AT +RETIRED_AT +DROPPED_AFTER +FILE$/);
    assert.match(rows[1]!, new RegExp(`^${a} +ES256 +dropped +2026-12-01T12:00:00Z +2026-12-01T13:01:00Z +${dropA} +es256-${a}\\.pem$`));
    assert.match(rows[2]!, new RegExp(`^${b} +ES256 +retired `));
    assert.match(rows[3]!, new RegExp(`^${c} +EdDSA +current +\\S+ +- +- +eddsa-${c}\\.pem$`));
    assert.equal(/PRIVATE|BEGIN/.test(list.stdout), false);
  });

  test('refusals leave the manifest as it was: the only current key, an unknown kid, a key not next', async (t) => {
    const dir = tempKeyDir(t);
    const run = (...argv: string[]) => runCli(['keys', ...argv, '--dir', dir]);
    const kid = (await run('generate', '--alg', 'RS256')).stdout.trim();
    assert.equal((await run('promote', '--kid', kid)).code, 0);
    const manifest = readFileSync(join(dir, 'keys.json'), 'utf8');
    assert.deepEqual(await run('retire', '--kid', kid), {
      code: 1,
      stdout: '',
      stderr: `kong-auth-sidecar keys retire: key ${kid} is the only current key; promote another key first\n`,
    });
    assert.deepEqual(await run('promote', '--kid', 'nope'), {
      code: 1,
      stdout: '',
      stderr: 'kong-auth-sidecar keys promote: no key with kid "nope" in keys.json\n',
    });
    assert.deepEqual(await run('promote', '--kid', kid), {
      code: 1,
      stdout: '',
      stderr: `kong-auth-sidecar keys promote: key ${kid} is current; only a next key can be promoted\n`,
    });
    assert.equal(readFileSync(join(dir, 'keys.json'), 'utf8'), manifest);
  });

  test('generate writes the private key 0600 and a manifest entry; SIGNING_KEYS_DIR is the default --dir', async (t) => {
    const dir = tempKeyDir(t);
    const { code, stdout, stderr } = await runCli(['keys', 'generate', '--alg', 'EdDSA'], { SIGNING_KEYS_DIR: dir });
    assert.equal(stderr, '');
    assert.equal(code, 0);
    const kid = stdout.trim();
    assert.match(kid, /^[A-Za-z0-9_-]{43}$/);
    const file = `eddsa-${kid}.pem`;
    assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600);
    const manifest = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as { keys: Record<string, unknown>[] };
    assert.deepEqual(manifest.keys, [{ file, kid, alg: 'EdDSA', state: 'next', published_at: manifest.keys[0]!.published_at }]);
  });

  test('usage errors exit 2 with the usage; --help prints it', async () => {
    for (const [argv, message] of [
      [['keys'], 'a command is needed'],
      [['keys', 'rotate'], 'unknown command rotate'],
      [['keys', 'generate', '--dir', '/tmp'], 'keys generate needs --alg'],
      [['keys', 'generate', '--alg', 'HS256', '--dir', '/tmp'], '--alg must be one of ES256, EdDSA, RS256'],
      [['keys', 'promote', '--dir', '/tmp'], 'keys promote needs --kid'],
      [['keys', 'list'], '--dir is needed (or SIGNING_KEYS_DIR)'],
    ] as const) {
      const { code, stderr } = await runCli([...argv]);
      assert.equal(code, 2, argv.join(' '));
      assert.equal(stderr.split('\n')[0], `kong-auth-sidecar keys: ${message}`);
      assert.match(stderr, /Usage: kong-auth-sidecar keys <command>/);
    }
    const help = await runCli(['keys', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: kong-auth-sidecar keys <command>/);
  });

  test('the sidecar with SIGNING_KEYS_DIR loads the set at start, serves its metrics, and keeps it when the directory breaks', async (t) => {
    const dir = tempKeyDir(t);
    const kid = (await runCli(['keys', 'generate', '--alg', 'ES256', '--dir', dir])).stdout.trim();
    assert.equal((await runCli(['keys', 'promote', '--kid', kid, '--dir', dir])).code, 0);
    const server = new PluginServerProcess({ SIGNING_KEYS_DIR: dir });
    t.after(async () => {
      await server.stop();
      server.removePrefix();
    });
    await server.start();
    const loaded = await server.waitForLogLine((line) => line['event.action'] === 'signing-keys-loaded');
    assert.deepEqual(loaded?.['signing_keys.kids'], [`${kid} ES256 current`]);
    const metrics = async () => (await fetch(`${await server.statusUrl()}/metrics/prometheus`)).text();
    assert.match(await metrics(), /^kong_auth_signing_keys_invalid 0$/m);
    assert.match(await metrics(), /^kong_auth_signing_keys\{state="current"\} 1$/m);

    writeFileSync(join(dir, 'keys.json'), 'not json');
    const refused = await server.waitForLogLine((line) => line['event.action'] === 'signing-keys-invalid', 10_000);
    assert.equal(refused?.message, 'signing keys not loaded, the last good set stays in use: keys.json is not JSON');
    assert.match(await metrics(), /^kong_auth_signing_keys_invalid 1$/m);
    assert.match(await metrics(), /^kong_auth_signing_keys\{state="current"\} 1$/m);
    assert.equal(/PRIVATE KEY/.test(server.capturedOutput + (await metrics())), false);
  });
});
