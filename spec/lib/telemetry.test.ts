import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import type { TelemetryConfig } from '../../lib/ops/telemetry.js';
import { createLogger } from '../../lib/ops/logger.js';
import { contextHooksOn, createTelemetry, inTraceContext } from '../../lib/ops/telemetry.js';

const SAMPLED = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

describe('telemetry: AsyncLocalStorage is on only while it is needed', () => {
  // A collector that takes the export's request and never answers.
  const held: Socket[] = [];
  const collector = createServer((socket) => void held.push(socket.on('data', () => undefined)));
  after(() => {
    for (const socket of held) socket.destroy();
    collector.close();
  });

  test(
    'on during a traced look-up, off once it ends; off while an export waits on a collector that does not answer',
    { timeout: 20_000 },
    async () => {
      collector.listen(0, '127.0.0.1');
      await once(collector, 'listening');
      const { port } = collector.address() as { port: number };
      const config: TelemetryConfig = {
        mode: 'otlp',
        serviceName: 'test',
        resourceAttributes: {},
        tracesEndpoint: `http://127.0.0.1:${port}/v1/traces`,
        exportTimeoutMs: 60_000,
        maxQueueSize: 100,
        scheduleDelayMs: 10,
        sampler: 'parentbased_always_on',
        samplerArg: 1,
      };
      const telemetry = createTelemetry(config, createLogger({ level: 'silent', serviceVersion: 'test' }));

      await telemetry.inPhase('token-issuer', 'access', SAMPLED, async (span, traced) => {
        assert.ok(span.isRecording());
        assert.equal(contextHooksOn(), false, 'the phase passes its context explicitly');
        await inTraceContext(traced, async () => {
          assert.equal(contextHooksOn(), true);
          assert.equal(trace.getActiveSpan(), span);
        });
        assert.equal(contextHooksOn(), false);
      });

      // The ended phase span is exported within scheduleDelayMs; the collector holds the request.
      await once(collector, 'connection');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(telemetry.status().exports.queued, 1, 'the export is still waiting on the collector');
      assert.equal(contextHooksOn(), false);

      for (const socket of held) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      while (telemetry.status().exports.exports === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(telemetry.status().exports.exportedSpans, 1);
      assert.equal(contextHooksOn(), false);
    },
  );
});
