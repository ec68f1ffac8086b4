import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';
import { SECTIONS } from '../../bench/cli.js';

// Checks that the driver, every server and scenario, and the report work; the figures are `make bench`'s business.
test(
  'the bench smoke run drives every server and scenario without errors and prints the targets, the tables and the results file',
  { timeout: 180_000 },
  async () => {
    // The end-to-end part has its own test (e2e.test.ts).
    const sections = SECTIONS.filter((section) => section !== 'e2e').join(',');
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/bench/run.js'), '--smoke', '--only', sections], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0, err);
    for (const section of [
      'The targets',
      'Throughput, issuer',
      'Throughput, gate',
      'Scenarios',
      'Key set',
      'Fixed rate',
      'Status port',
      'Raw costs',
      'Memory',
    ]) {
      assert.match(out, new RegExp(`^### ${section}`, 'm'), section);
    }
    for (const figure of [
      'ours / bare kong-pdk',
      'ours / floor',
      'p99 at a fixed 1,000 events/s',
      'RSS after',
      'RSS slope',
      'events left',
    ]) {
      assert.match(out, new RegExp(`^\\| (issuer: |gate: )?${figure}`, 'm'), figure);
    }
    const file = /^results: (.+)$/m.exec(out)?.[1];
    assert.ok(file);
    const results = JSON.parse(readFileSync(file, 'utf8')) as {
      smoke: boolean;
      rows: Array<{ group: string; server: string; events: number; errors: number }>;
      micro: Array<{ operation: string; opsPerSecond: number }>;
      scrapes: Array<{ path: string; requests: number; failures: number }>;
      memory: { tokens: number; inFlightEventsAfter: number; heapUsedAfterMb: number };
      featureCosts: Array<{ feature: string; each: number[]; failedEvents: number }>;
    };
    assert.equal(results.smoke, true);
    const servers = new Set(results.rows.map((r) => r.server));
    for (const name of [
      'kong-pdk bare issuer',
      'floor issuer',
      'ours token-issuer',
      'kong-pdk bare gate',
      'floor gate',
      'ours token-validator gate',
      'kong-pdk noop',
    ])
      assert.ok(servers.has(name), name);
    assert.equal(results.rows.filter((r) => r.group === 'scenario').length, 9);
    for (const row of results.rows) {
      assert.ok(row.events > 0, `${row.server} handled events`);
      assert.equal(row.errors, 0, `${row.server} answered every event as expected and Kong logged no error`);
    }
    assert.ok(results.micro.length >= 8 && results.micro.every((m) => m.opsPerSecond > 0));
    assert.deepEqual(
      results.scrapes.map((s) => [s.path, s.failures]),
      [
        ['/health', 0],
        ['/metrics', 0],
      ],
    );
    assert.ok(results.scrapes.every((s) => s.requests > 0));
    assert.ok(results.memory.tokens >= 2_000);
    assert.equal(results.memory.inFlightEventsAfter, 0);
    assert.ok(results.memory.heapUsedAfterMb > 0);
    // The in-process feature costs: every pair measured in paired windows, every event answered as expected.
    assert.deepEqual(
      results.featureCosts.map((c) => c.feature),
      ['scopes in issued tokens', 'the scope query parameter (one kong.request.get_query call)', 'revocation at the gate'],
    );
    for (const cost of results.featureCosts) {
      assert.ok(cost.each.length >= 4, cost.feature);
      assert.equal(cost.failedEvents, 0, cost.feature);
      assert.match(out, new RegExp(`^\\| ${cost.feature.replace(/[()]/g, '\\$&')}: server CPU per event`, 'm'));
    }
  },
);
