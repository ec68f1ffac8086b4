import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';

test('make dev runs the dev stack script', () => {
  const makefile = readFileSync(join(PROJECT_ROOT, 'Makefile'), 'utf8');
  assert.match(makefile, /^dev: build\n\t\$\(NODE\) dist\/kong\/stand-in\/dev-stack\.js$/m);
});

test('the dev stack prints a working curl line, issues a token for it, and stops cleanly on Ctrl-C', async () => {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/kong/stand-in/dev-stack.js')], {
    env: { PATH: process.env.PATH ?? '', DEV_PORT: '0', STATUS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const curl = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const line = /curl -s -H 'apikey: ([^']+)' (http:\/\/127\.0\.0\.1:\d+\/tokens)\n/.exec(output);
      if (line) resolve(line[0]);
    });
    child.once('exit', () => reject(new Error(`dev stack exited early:\n${output}`)));
  });
  const [, apikey, url] = /apikey: ([^']+)' (\S+)/.exec(curl) ?? [];
  const res = await fetch(url!, { headers: { apikey: apikey! } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { access_token: string; token_type: string };
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.access_token.split('.').length, 3);

  const protectedUrl = url!.replace('/tokens', '/api/hello');
  const upstream = await fetch(protectedUrl, { headers: { authorization: `Bearer ${body.access_token}` } });
  assert.equal(upstream.status, 200, "Kong's jwt plugin accepts the issued token");

  const status = /status port\s+(http:\/\/\S+)/.exec(output)?.[1];
  assert.ok(status, 'the status URL is printed');
  assert.equal((await fetch(`${status}/health/ready`)).status, 200);

  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.match(output, /dev stack stopped/);
});
