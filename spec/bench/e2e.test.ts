import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeAdminApi, type FakeAdminApi } from '../../kong/stand-in/fake-admin-api.js';
import { createKongStore } from '../../kong/stand-in/kong-store.js';
import { parseBenchArgs } from '../../bench/cli.js';
import { BENCH_CONSUMER, BENCH_CREDENTIAL } from '../../bench/driver.js';
import { e2e, FLOOR_BACKSTOP_GATE, FLOOR_ISSUER_TODAY, OURS_BACKSTOP_GATE, type E2eResult } from '../../bench/e2e.js';
import { Bench } from '../../bench/harness.js';
import { report } from '../../bench/report.js';
import { theBar } from '../../bench/targets.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

// Checks that the end-to-end machinery works (wrk through Kong's own bridge, the counting pass, the report);
// its figures are make bench's business (a one-second round beside other tests can even read a negative µs added).
let admin: FakeAdminApi;
let otlp: OtlpReceiver;
let bench: Bench;
let result: E2eResult;

before(async () => {
  const store = createKongStore();
  store.addJwtCredential(store.addConsumer(BENCH_CONSUMER).id, BENCH_CREDENTIAL);
  admin = await startFakeAdminApi({ store, adminToken: 'bench-admin-token-0123456789' });
  otlp = await OtlpReceiver.start();
  bench = new Bench(admin, otlp, parseBenchArgs(['--smoke']).settings);
  await bench.loadConfigs();
  result = await e2e(bench, { connections: 4, seconds: 1, warmupSeconds: 0, rounds: 1, countRequests: 4 });
});
after(async () => {
  await bench?.close();
  await otlp?.close();
  await admin?.close();
});

const ISSUER_CALLS = ['kong.request.get_headers', 'kong.client.get_credential', 'kong.response.exit'];
const GATE_CALLS = ['kong.request.get_headers', 'kong.service.request.set_headers', 'kong.client.authenticate', 'ret'];

test('every route of the end-to-end part is loaded through Kong and answers every request', () => {
  assert.deepEqual(
    result.rows.map((r) => r.route),
    [
      'no plugin',
      'ours token-issuer',
      'floor issuer',
      FLOOR_ISSUER_TODAY,
      'kong-pdk bare issuer',
      'HTTP token service',
      'ours token-validator gate',
      'floor gate',
      OURS_BACKSTOP_GATE,
      FLOOR_BACKSTOP_GATE,
      'kong-pdk bare gate',
      'in-process Lua gate',
    ],
  );
  for (const row of result.rows) {
    assert.ok(row.requests > 0 && row.requestsPerSecond > 0, `${row.route} served requests`);
    assert.equal(row.errors, 0, `${row.route} answered every request 200`);
    assert.ok(row.kongCpuUsPerRequest > 0, `${row.route}: Kong's worker CPU was read`);
  }
  for (const row of result.rows.filter((r) => r.route !== 'no plugin' && r.route !== 'in-process Lua gate'))
    assert.ok(row.serverCpuUsPerRequest > 0, `${row.route}: the server's CPU was read`);
});

test('the counting pass sees the same calls of Kong for ours and for the baselines that stand beside it', () => {
  const count = (route: string) => result.counts.find((c) => c.route === route)!;
  for (const route of ['ours token-issuer', 'floor issuer', 'kong-pdk bare issuer']) {
    assert.deepEqual(count(route).pdkCalls, ISSUER_CALLS, route);
    assert.deepEqual(count(route).rpcs, ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.StepCredential'], route);
    assert.equal(count(route).roundTripsPerRequest, 3, route);
  }
  assert.deepEqual(count(FLOOR_ISSUER_TODAY).pdkCalls, [
    'kong.request.get_headers',
    'kong.client.get_consumer',
    'kong.client.get_credential',
    'kong.response.exit',
  ]);
  assert.equal(count(FLOOR_ISSUER_TODAY).roundTripsPerRequest, 4);
  for (const route of ['ours token-validator gate', 'floor gate', 'kong-pdk bare gate']) {
    assert.deepEqual(count(route).pdkCalls, GATE_CALLS, route);
    assert.deepEqual(count(route).rpcs, ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.Step', 'plugin.StepCredential'], route);
    assert.equal(count(route).roundTripsPerRequest, 4, route);
  }
  for (const route of [OURS_BACKSTOP_GATE, FLOOR_BACKSTOP_GATE]) {
    assert.deepEqual(count(route).pdkCalls, ['kong.request.get_headers', 'kong.client.authenticate', 'ret'], route);
    assert.deepEqual(count(route).rpcs, ['plugin.HandleEvent', 'plugin.StepMultiMap', 'plugin.StepCredential'], route);
    assert.equal(count(route).roundTripsPerRequest, 3, route);
  }
  for (const c of result.counts.filter((c) => c.roundTripsPerRequest > 0))
    assert.ok(c.bytesInPerRequest > 0 && c.bytesOutPerRequest > 0, `${c.route}: bytes counted both ways`);
  assert.equal(count('HTTP token service').roundTripsPerRequest, 1);
  for (const route of ['no plugin', 'in-process Lua gate']) assert.equal(count(route).roundTripsPerRequest, 0, route);
});

test('the report prints the end-to-end table, the calls and the end-to-end targets', () => {
  const bar = theBar([], [], undefined, 8, bench.dir, result);
  const out = report({ micro: [], rows: [], scrapes: [], e2e: result, bar }, { barLevel: 8, smoke: true });
  assert.match(out, /^### End to end through Kong's own plugin-server bridge/m);
  assert.match(out, /^\| ours token-validator gate \| [\d,]+ \| -?[\d,]+ µs \|/m);
  assert.match(out, /^### End to end: the calls of one request/m);
  for (const figure of [
    'issuer: ours / floor, requests/s',
    'gate: µs added to a request, ours / floor',
    'gate: µs added to a request, ours / in-process Lua gate',
    `gate: µs added to a request, ${OURS_BACKSTOP_GATE} / floor gate`,
    `issuer: µs added to a request, ours / ${FLOOR_ISSUER_TODAY}`,
  ])
    assert.match(
      out,
      new RegExp(`^\\| e2e ${figure.replace(/[()]/g, '\\$&')} \\(paired rounds -?[\\d.]+\\) \\| -?[\\d.]+× \\|`, 'm'),
      figure,
    );
});
