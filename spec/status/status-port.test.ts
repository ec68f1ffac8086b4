import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { metricValue, scrape as scrapeMetrics } from '../support/prometheus.js';

const get = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
};

describe('the status port', () => {
  let kong: KongHarness;
  let base: string;
  before(async () => {
    kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { HEALTH_PROBE_CACHE_MS: '2000' } });
    base = await kong.server.statusUrl();
  });
  after(() => kong.stop());

  test('/health: healthy with the documented shape', async () => {
    const res = await get(`${base}/health`);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.text);
    assert.equal(body.status, 'healthy');
    assert.equal(body.version, '0.1.0');
    assert.equal(typeof body.uptime, 'number');
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
    assert.equal(body.circuitBreakerState, 'closed');
    assert.equal(body.dependencies.kong.status, 'healthy');
    assert.equal(typeof body.dependencies.kong.responseTime, 'number');
    assert.deepEqual(body.dependencies.kong.details, { adminUrl: kong.adminApi.url, mode: 'API_GATEWAY' });
    assert.deepEqual(Object.keys(body.dependencies.cache), ['type', 'connection', 'entries', 'performance']);
    assert.equal(body.dependencies.cache.type, 'memory');
    assert.deepEqual(Object.keys(body.dependencies.cache.entries), ['primary', 'stale', 'staleCacheAvailable']);
    assert.deepEqual(Object.keys(body.dependencies.cache.performance), ['hitRate', 'avgLatencyMs']);
    assert.deepEqual(body.dependencies.telemetry, { status: 'healthy', mode: 'off' });
  });

  test('/health/ready and /health/telemetry', async () => {
    const ready = await get(`${base}/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal(JSON.parse(ready.text).ready, true);
    const telemetry = JSON.parse((await get(`${base}/health/telemetry`)).text);
    assert.deepEqual(Object.keys(telemetry), ['healthy', 'telemetry']);
    assert.deepEqual(Object.keys(telemetry.telemetry), ['mode', 'initialized', 'exporter', 'exports']);
  });

  test('every /metrics view answers JSON; operational carries circuitBreaker; an unknown view is 400 listing the valid ones', async () => {
    for (const view of ['operational', 'infrastructure', 'telemetry', 'exports', 'config', 'full']) {
      const res = await get(`${base}/metrics?view=${view}`);
      assert.equal(res.status, 200, view);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(JSON.parse(res.text).view, view);
    }
    const operational = JSON.parse((await get(`${base}/metrics`)).text);
    assert.equal(operational.circuitBreaker.state, 'closed');
    const full = JSON.parse((await get(`${base}/metrics?view=full`)).text);
    for (const key of ['circuitBreaker', 'memory', 'process', 'config', 'telemetry']) assert.ok(key in full, key);
    const bad = await get(`${base}/metrics?view=bogus`);
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type'), 'application/problem+json');
    assert.equal(JSON.parse(bad.text).detail, 'Valid views: operational, infrastructure, telemetry, exports, config, full');
  });

  test('unknown path → 404 problem+json; wrong method → 405 with Allow', async () => {
    const missing = await get(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    const post = await get(`${base}/health`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('/debug/info outside production', async () => {
    const res = await get(`${base}/debug/info`);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).pid, kong.server.pid);
  });

  test('Prometheus text, parsed by a real parser, and counters that move after issuing tokens', async () => {
    const scrape = () => scrapeMetrics(base);
    const before = await scrape();
    for (let i = 0; i < 3; i++) assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
    await kong.request({ path: '/open/tokens' });
    const after = await scrape();
    assert.equal(metricValue(after, 'kong_auth_tokens_issued_total') - metricValue(before, 'kong_auth_tokens_issued_total'), 3);
    assert.equal(
      metricValue(after, 'kong_auth_errors_total', { code: 'AUTH_001' }) -
        metricValue(before, 'kong_auth_errors_total', { code: 'AUTH_001' }),
      1,
    );
    assert.ok(metricValue(after, 'kong_auth_events_total', { plugin: 'token-issuer', phase: 'access', status: '200' }) >= 3);
    assert.ok(metricValue(after, 'kong_auth_cache_requests_total', { layer: 'memory', result: 'hit' }) >= 2);
    assert.equal(metricValue(after, 'kong_auth_circuit_breaker_state'), 0);
    assert.equal(metricValue(after, 'kong_auth_in_flight_events'), 0);
    assert.ok(metricValue(after, 'kong_auth_plugin_instances') >= 1);
    assert.ok(after.some((m) => m.name === 'kong_auth_process_resident_memory_bytes'));
    assert.ok(after.some((m) => m.name === 'kong_auth_event_duration_seconds' && m.type === 'HISTOGRAM'));
    const same = await get(`${base}/metrics/prometheus`);
    assert.match(same.headers.get('content-type') ?? '', /^text\/plain/);
  });

  test('no consumer id, secret or admin token appears in any status output', async () => {
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'bob-key' } })).status, 200);
    const paths = [
      '/health',
      '/health/ready',
      '/health/telemetry',
      '/metrics/prometheus',
      '/debug/info',
      ...['operational', 'infrastructure', 'telemetry', 'exports', 'config', 'full'].map((v) => `/metrics?view=${v}`),
    ];
    const bodies = await Promise.all(paths.map(async (path) => (await get(`${base}${path}`)).text));
    const forbidden = [
      ...kong.secrets(),
      ...kong.store.consumers().flatMap((c) => [c.id, ...kong.store.jwtCredentialsOf(c.id).map((j) => j.key)]),
    ];
    for (const [index, body] of bodies.entries())
      for (const secret of forbidden) assert.ok(!body.includes(secret), `${paths[index]} leaks a value`);
  });
});

describe('health semantics', () => {
  test('Admin API down: readiness stays 200, /health says degraded', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { HEALTH_PROBE_CACHE_MS: '0', KONG_ADMIN_TIMEOUT_MS: '300' } });
    t.after(() => kong.stop());
    const base = await kong.server.statusUrl();
    kong.adminApi.setFault({ kind: 'down' });
    assert.equal((await fetch(`${base}/health/ready`)).status, 200);
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { status: string; dependencies: { kong: { status: string } } };
    assert.equal(body.status, 'degraded');
    assert.equal(body.dependencies.kong.status, 'unhealthy');
  });

  test('200 concurrent /health requests cause at most a handful of Admin API probes', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { HEALTH_PROBE_CACHE_MS: '5000' } });
    t.after(() => kong.stop());
    const base = await kong.server.statusUrl();
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(`${base}/health`).then((r) => r.status)));
    assert.deepEqual(answers, Array(200).fill(200));
    const probes = kong.adminApi.requests.filter((r) => r.path.startsWith('/consumers?')).length;
    assert.ok(probes >= 1 && probes <= 3, `${probes} probes`);
  });
});

describe('a lifecycle that drains', () => {
  test('SIGTERM with 50 events in flight: all 50 answered, readiness 503 during the drain, exit 0', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { SHUTDOWN_TIMEOUT_MS: '10000' } });
    t.after(() => kong.stop());
    const base = await kong.server.statusUrl();
    kong.adminApi.setFault({ kind: 'slow', delayMs: 1500 });
    const inFlight = Array.from({ length: 50 }, (_, i) =>
      kong.request({ path: '/tokens', headers: { apikey: i % 2 ? 'alice-key' : 'carol-key' } }),
    );
    await new Promise((r) => setTimeout(r, 400));
    const exited = kong.server.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${base}/health/ready`)).status, 503, 'not ready while draining');
    const answers = await Promise.all(inFlight);
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(50).fill(200),
    );
    assert.equal(await exited, 0);
  });

  test('a drain longer than SHUTDOWN_TIMEOUT_MS exits 1 with a log line', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { SHUTDOWN_TIMEOUT_MS: '500', KONG_ADMIN_TIMEOUT_MS: '10000' } });
    t.after(() => kong.stop());
    kong.adminApi.setFault({ kind: 'slow', delayMs: 5000 });
    const pending = kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await kong.server.stop('SIGTERM'), 1);
    assert.ok(kong.server.logLines().some((l) => l['event.action'] === 'stop-timeout' && l['log.level'] === 'error'));
    const answer = await pending;
    assert.equal(answer.status, 503, 'Kong fails open to the dead-end service when our process is gone');
  });

  test('an event Kong abandoned (no further Step) does not hold the drain', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { SHUTDOWN_TIMEOUT_MS: '5000' } });
    t.after(() => kong.stop());
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
    const status = await kong.call<{ Plugins: Record<string, { Instances: Array<{ Id: number }> }> }>('plugin.GetStatus');
    const [instance] = status.Plugins['token-issuer']!.Instances;
    await kong.call('plugin.HandleEvent', { InstanceId: instance!.Id, EventName: 'access' });
    assert.equal(await kong.server.stop('SIGTERM'), 0);
  });
});
