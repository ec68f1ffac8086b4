import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

type After = { after(fn: () => Promise<void> | void): void };

async function tracedKong(t: After, receiver: OtlpReceiver, env: Record<string, string> = {}) {
  const kong = await KongHarness.start({
    kongYml: ISSUER_KONG_YML,
    env: {
      TELEMETRY_MODE: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      ...env,
    },
  });
  t.after(() => kong.stop());
  return kong;
}

function traceparent(): { header: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

describe("traces that join Kong's", () => {
  test("an issued token is traced as a child of the request's traceparent, with cache, Admin API and signing spans", async (t) => {
    const receiver = await OtlpReceiver.start();
    t.after(() => receiver.close());
    const kong = await tracedKong(t, receiver);
    const { header, traceId, parentId } = traceparent();
    const res = await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', traceparent: header } });
    assert.equal(res.status, 200);
    const spans = (await receiver.waitForSpans((all) => all.some((s) => s.traceId === traceId && s.name === 'token-issuer access'))).filter(
      (s) => s.traceId === traceId,
    );
    const phase = spans.find((s) => s.name === 'token-issuer access')!;
    assert.equal(phase.parentSpanId, parentId, "continues Kong's span");
    assert.equal(phase.serviceName, 'kong-auth-sidecar');
    assert.equal(phase.attributes['kong.plugin.name'], 'token-issuer');
    const byName = (name: string) => spans.find((s) => s.name === name);
    const consumer = byName('consumer lookup');
    assert.ok(consumer, `spans: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(consumer.parentSpanId, phase.spanId);
    assert.equal(byName('GET /consumers/{consumer}')?.parentSpanId, consumer.spanId);
    const lookup = byName('credential lookup');
    assert.ok(lookup, `spans: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(lookup.parentSpanId, phase.spanId);
    assert.equal(lookup.attributes['kong_auth.cache.source'], 'admin_api');
    const admin = byName('GET /consumers/{consumer}/jwt');
    assert.ok(admin);
    assert.equal(admin.parentSpanId, lookup.spanId);
    assert.equal(admin.kind, 3, 'CLIENT');
    assert.equal(admin.attributes['http.response.status_code'], 200);
    assert.equal(admin.attributes['http.request.method'], 'GET');
    const sign = byName('jwt sign');
    assert.ok(sign);
    assert.equal(sign.parentSpanId, phase.spanId);
    // The Admin API request carried a traceparent of the same trace, naming the client span.
    const sent = kong.adminApi.requests.find((r) => r.path.includes('/jwt'))!;
    assert.equal(sent.headers.traceparent, `00-${traceId}-${admin.spanId}-01`);
    // Nothing secret in any attribute.
    const everything = JSON.stringify(spans);
    for (const secret of kong.secrets()) assert.ok(!everything.includes(secret));
    // The event's log line carries the trace ids.
    const line = await kong.server.waitForLogLine((l) => l['event.action'] === 'token-issue' && l['event.outcome'] === 'success');
    assert.equal(line?.['trace.id'], traceId);
    assert.equal(line?.['span.id'], phase.spanId);
  });

  test('a refusal sets error.type from the AUTH code on the phase span', async (t) => {
    const receiver = await OtlpReceiver.start();
    t.after(() => receiver.close());
    const kong = await tracedKong(t, receiver);
    const { header, traceId } = traceparent();
    kong.adminApi.setFault({ kind: 'status', status: 500 });
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', traceparent: header } })).status, 503);
    const spans = await receiver.waitForSpans((all) => all.some((s) => s.traceId === traceId && s.name === 'token-issuer access'));
    const phase = spans.find((s) => s.traceId === traceId && s.name === 'token-issuer access')!;
    assert.equal(phase.attributes['error.type'], 'AUTH_004');
    assert.equal(phase.status.code, 2, 'ERROR for a 5xx answer');
    const admin = spans.filter((s) => s.traceId === traceId && s.name.startsWith('GET '));
    assert.equal(admin.length, 3, 'one client span per attempt');
    assert.equal(admin[0]?.attributes['http.response.status_code'], 500);
  });

  test('a collector that is down never fails a request; dropped spans are counted', async (t) => {
    const receiver = await OtlpReceiver.start();
    const endpoint = receiver.endpoint;
    await receiver.close();
    const kong = await KongHarness.start({
      kongYml: ISSUER_KONG_YML,
      env: {
        TELEMETRY_MODE: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      },
    });
    t.after(() => kong.stop());
    for (let i = 0; i < 20; i++) assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
    const status = await kong.server.statusUrl();
    const deadline = Date.now() + 10_000;
    let telemetry: { healthy: boolean; telemetry: { exports: { droppedSpans: number; failedExports: number } } };
    do {
      await new Promise((r) => setTimeout(r, 100));
      telemetry = (await (await fetch(`${status}/health/telemetry`)).json()) as typeof telemetry;
    } while (telemetry.telemetry.exports.droppedSpans === 0 && Date.now() < deadline);
    assert.ok(telemetry.telemetry.exports.droppedSpans > 0, 'drops counted');
    assert.ok(telemetry.telemetry.exports.failedExports > 0);
    assert.equal(telemetry.healthy, false);
    const health = (await (await fetch(`${status}/health`)).json()) as { status: string };
    assert.equal(health.status, 'degraded');
  });

  test('SIGTERM flushes the spans still queued', async (t) => {
    const receiver = await OtlpReceiver.start();
    t.after(() => receiver.close());
    const kong = await tracedKong(t, receiver, { OTEL_BSP_SCHEDULE_DELAY: '600000' });
    const { header, traceId } = traceparent();
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', traceparent: header } })).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(receiver.spans.filter((s) => s.traceId === traceId).length, 0, 'nothing exported yet');
    assert.equal(await kong.server.stop('SIGTERM'), 0);
    assert.ok(receiver.spans.some((s) => s.traceId === traceId && s.name === 'token-issuer access'));
  });

  test('a request Kong did not sample (traceparent flags 00) is not traced; one it sampled, on the same server, is', async (t) => {
    const receiver = await OtlpReceiver.start();
    t.after(() => receiver.close());
    const kong = await tracedKong(t, receiver);
    const unsampled = traceparent();
    const first = await kong.request({
      path: '/tokens',
      headers: { apikey: 'alice-key', traceparent: unsampled.header.replace(/-01$/, '-00') },
    });
    assert.equal(first.status, 200);
    assert.ok(
      kong.adminApi.requests.length > 0 && kong.adminApi.requests.every((r) => r.headers.traceparent === undefined),
      'the cold look-up carried no traceparent',
    );
    const sampled = traceparent();
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', traceparent: sampled.header } })).status, 200);
    await receiver.waitForSpans((all) => all.some((s) => s.traceId === sampled.traceId && s.name === 'token-issuer access'));
    assert.equal(receiver.spans.filter((s) => s.traceId === unsampled.traceId).length, 0);
    const line = await kong.server.waitForLogLine((l) => l['event.action'] === 'token-issue' && l['trace.id'] === undefined);
    assert.ok(line, "the unsampled request's log line has no trace ids");
  });

  test('with TELEMETRY_MODE=off nothing is exported and no traceparent goes to the Admin API', async (t) => {
    const receiver = await OtlpReceiver.start();
    t.after(() => receiver.close());
    const kong = await tracedKong(t, receiver, { TELEMETRY_MODE: 'off' });
    const { header } = traceparent();
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key', traceparent: header } })).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.spans.length, 0);
    assert.ok(kong.adminApi.requests.every((r) => r.headers.traceparent === undefined));
  });
});
