import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';
import { runCurlLine, startDevStack } from '../support/dev-stack.js';

test('make dev runs the dev stack script', () => {
  const makefile = readFileSync(join(PROJECT_ROOT, 'Makefile'), 'utf8');
  assert.match(makefile, /^dev: build\n\t\$\(NODE\) dist\/kong\/stand-in\/dev-stack\.js$/m);
});

test('the dev stack prints working curl lines, issues tokens for them, and stops cleanly on Ctrl-C', async () => {
  const stack = await startDevStack();
  const output = stack.output();
  const [, apikey, url] = /curl -s -H 'apikey: ([^']+)' (http:\/\/127\.0\.0\.1:\d+\/tokens)\n/.exec(output) ?? [];
  assert.ok(apikey && url, output);
  const res = await fetch(url, { headers: { apikey } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { access_token: string; token_type: string };
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.access_token.split('.').length, 3);

  const upstream = await fetch(`${stack.gateway}/api/hello`, { headers: { authorization: `Bearer ${body.access_token}` } });
  assert.equal(upstream.status, 200, "Kong's jwt plugin accepts the issued token");

  const oauthLine = /curl -s -u .*\/oauth2\/token\n/.exec(output)?.[0];
  assert.ok(oauthLine, output);
  const issued = await runCurlLine(oauthLine, stack.gateway);
  assert.equal(issued.status, 200, await issued.clone().text());
  const oauthBody = (await issued.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(oauthBody), ['access_token', 'token_type', 'expires_in', 'scope']);
  assert.equal(oauthBody.scope, 'orders.read');

  assert.equal((await fetch(`${stack.status}/health/ready`)).status, 200);
  assert.equal(await stack.interrupt(), 0);
  assert.match(stack.output(), /dev stack stopped/);
});
