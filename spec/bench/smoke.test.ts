import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../support/plugin-server-process.js';

// Checks that the driver, both servers and the table work; the figures are `make bench`'s business.
test('the bench smoke run drives every server without errors and prints the table and the results file', async () => {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/bench/run.js'), '--smoke'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0);
  assert.match(out, /^\| server \| conc \| events\/s \|/m);
  const rows = out.split('\n').filter((line) => /^\| (kong-pdk|floor|kong-auth-sidecar)/.test(line));
  assert.equal(rows.length, 3, out);
  const file = /^results: (.+)$/m.exec(out)?.[1];
  assert.ok(file);
  const results = JSON.parse(readFileSync(file, 'utf8')) as { smoke: boolean; rows: Array<{ server: string; events: number; errors: number; eventsPerSecond: number }> };
  assert.equal(results.smoke, true);
  for (const row of results.rows) {
    assert.ok(row.events > 0, `${row.server} handled events`);
    assert.equal(row.errors, 0, `${row.server} answered every event with 200 and no Kong error`);
  }
});
