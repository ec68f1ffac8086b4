import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { runKeysCommand } from '../../lib/keys-cli.js';
import { KEY_SET_KONG_YML } from '../support/fixtures.js';
import { startInProcessKong, type InProcessKong } from '../support/in-process-kong.js';
import { tempKeyDir } from '../support/signing-keys.js';

/** `kong-auth-sidecar keys …` in the directory; its printed line (a new kid), or a failure with its message. */
async function keys(dir: string, ...argv: string[]): Promise<string> {
  let stdout = '';
  let stderr = '';
  const io = { env: {}, nowMs: Date.now(), stdout: (s: string) => void (stdout += s), stderr: (s: string) => void (stderr += s) };
  const code = await runKeysCommand([...argv, '--dir', dir], io);
  assert.equal(code, 0, stderr);
  return stdout.trim();
}

const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8')) as { kid: string }).kid;

/** A directory with one current ES256 key, and the stand-in Kong in front of a context reading it. */
async function start(t: TestContext): Promise<{ dir: string; kong: InProcessKong; first: string; reload: () => Promise<void> }> {
  const dir = tempKeyDir(t);
  const first = await keys(dir, 'generate', '--alg', 'ES256');
  await keys(dir, 'promote', '--kid', first);
  const kong = await startInProcessKong(KEY_SET_KONG_YML, () => {}, { SIGNING_KEYS_DIR: dir });
  t.after(() => kong.stop());
  // What the 5 s poll does, at once.
  return { dir, kong, first, reload: () => kong.ctx.signingKeys!.refresh() };
}

const issue = async (kong: InProcessKong) => {
  const res = await kong.request({ path: '/es256/tokens', headers: { apikey: 'alice-key' } });
  assert.equal(res.status, 200, res.body);
  return res.json<{ access_token: string }>().access_token;
};
const gate = (kong: InProcessKong, token: string) => kong.request({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } });
const publishedKids = (kong: InProcessKong) => kong.ctx.signingKeys!.keys()!.set.keys.map((key) => `${key.kid}:${key.state}`);

describe('key rotation at the gate', () => {
  test('next → current → retired: the next key is published before it signs; tokens of the old key stay valid at the gate and in the JWKS', async (t) => {
    const { dir, kong, first, reload } = await start(t);
    const old = await issue(kong);
    assert.equal(kidOf(old), first);

    const second = await keys(dir, 'generate', '--alg', 'ES256');
    await reload();
    assert.deepEqual(publishedKids(kong), [`${first}:current`, `${second}:next`]);
    assert.equal(kidOf(await issue(kong)), first, 'a next key does not sign');
    assert.equal((await gate(kong, old)).status, 200);

    await keys(dir, 'promote', '--kid', second, '--publish-ahead', '0');
    await reload();
    assert.deepEqual(publishedKids(kong), [`${first}:retired`, `${second}:current`]);
    const fresh = await issue(kong);
    assert.equal(kidOf(fresh), second);
    for (const token of [old, fresh]) {
      assert.equal((await gate(kong, token)).status, 200);
      const jwks = createLocalJWKSet(JSON.parse(kong.ctx.signingKeys!.keys()!.jwks.body));
      assert.equal((await jwtVerify(token, jwks)).payload.sub, 'alice');
    }
  });

  test('2,000 gate requests while keys are generated, promoted and retired and the manifest is broken once: zero failures', async (t) => {
    const { dir, kong, first, reload } = await start(t);
    const REQUESTS = 2000;
    const WORKERS = 16;
    const failures: string[] = [];
    const kidsSeen = new Set<string>();
    let sent = 0;

    async function worker(): Promise<void> {
      let token = await issue(kong);
      for (let n = 0; sent < REQUESTS; n++) {
        sent++;
        // A new token now and then; the others stay in flight across every change of the set.
        if (n % 10 === 9) token = await issue(kong);
        kidsSeen.add(kidOf(token));
        const res = await gate(kong, token);
        if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
      }
    }

    async function rotate(): Promise<void> {
      let current = first;
      const manifest = join(dir, 'keys.json');
      for (let round = 0; sent < REQUESTS; round++) {
        const next = await keys(dir, 'generate', '--alg', 'ES256');
        await reload();
        await keys(dir, 'promote', '--kid', next, '--publish-ahead', '0');
        await reload();
        if (round % 3 === 1) {
          // A broken manifest: the last good set stays, and signing and verifying go on.
          const good = readFileSync(manifest);
          writeFileSync(manifest, '{"keys": [');
          await reload();
          assert.equal(kong.ctx.signingKeys!.stats().valid, false);
          writeFileSync(manifest, good);
          await reload();
        }
        // A key published and withdrawn without ever signing.
        if (round % 3 === 2) await keys(dir, 'retire', '--kid', await keys(dir, 'generate', '--alg', 'ES256'));
        current = next;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(kong.ctx.signingKeys!.keys()!.set.current.get('ES256')!.kid, current);
    }

    await Promise.all([...Array.from({ length: WORKERS }, worker), rotate()]);
    assert.deepEqual(failures, []);
    assert.ok(kidsSeen.size > 2, `tokens of ${kidsSeen.size} keys were in flight`);
  });
});
