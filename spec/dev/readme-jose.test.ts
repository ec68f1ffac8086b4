import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';
import { openKeyDirectory } from '../../lib/tokens/key-directory.js';
import { signJwt } from '../../lib/tokens/signing-keys.js';
import { startDevStack, type DevStack } from '../support/dev-stack.js';
import { capturedLogger } from '../support/signing-keys.js';

const run = promisify(execFile);

/** The README's jose snippet, as a reader copies it: the ```js block that uses createRemoteJWKSet. */
function readmeSnippet(): string {
  const blocks = [...readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const snippet = blocks.find((block) => block.includes('createRemoteJWKSet'));
  assert.ok(snippet, 'the README has a jose snippet');
  assert.ok(snippet.trim().split('\n').length <= 10, 'at most 10 lines');
  return snippet;
}

describe("the README's jose snippet verifies against make dev's JWKS", () => {
  let stack: DevStack;
  let script: string;
  const verify = (token: string) => run(process.execPath, [script, token], { cwd: PROJECT_ROOT });

  before(async () => {
    stack = await startDevStack();
    // Beside the project, so `import 'jose'` resolves to its node_modules; only the origin changes.
    mkdirSync(join(PROJECT_ROOT, '.tmp'), { recursive: true });
    script = join(PROJECT_ROOT, '.tmp', `readme-jose-${process.pid}.mjs`);
    writeFileSync(script, readmeSnippet().replaceAll('http://localhost:8000', stack.gateway));
  });
  after(async () => {
    rmSync(script, { force: true });
    assert.equal(await stack?.interrupt(), 0);
  });

  test("a token of make dev's /oauth2/token verifies from the published JWKS alone; an HS256 token of /tokens and a foreign issuer are refused", async () => {
    // The key make dev generated; the snippet knows only the gateway's JWKS URL.
    const keys = await openKeyDirectory({ log: capturedLogger().log, nowMs: Date.now }, { dir: stack.keysDir, pollMs: 60_000 });
    const key = keys.keys()?.set.current.get('ES256');
    keys.close();
    assert.ok(key, 'make dev generated a current ES256 key');
    assert.match(stack.output(), new RegExp(`signing keys .*\\(generated: a current ES256 key, kid ${key.kid}\\)`));
    const granted = await fetch(`${stack.gateway}/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('exampleclient1:EXAMPLEONLYclientSecret1changeMe').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=orders.read',
    });
    assert.equal(granted.status, 200);
    const oauthToken = ((await granted.json()) as { access_token: string }).access_token;
    const { stdout } = await verify(oauthToken);
    assert.equal(stdout, `${key.kid} example-client orders.read\n`);

    const issued = await fetch(`${stack.gateway}/tokens`, { headers: { apikey: 'example-apikey-client-1' } });
    const { access_token } = (await issued.json()) as { access_token: string };
    await assert.rejects(verify(access_token), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /JOSEAlgNotAllowed/);
      return true;
    });
    const now = Math.floor(Date.now() / 1000);
    const foreign = { sub: 'example-client', iss: 'https://other.example', aud: 'example-api', iat: now, exp: now + 60 };
    await assert.rejects(verify(signJwt(foreign, key)), /unexpected "iss" claim value/);
  });
});
