import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

/** A received span, ids as lower-case hex (OTLP/protobuf sends bytes). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  serviceName: string;
}

interface ProtoValue {
  value?: string;
  stringValue?: string | null;
  intValue?: { toNumber(): number } | number | null;
  boolValue?: boolean | null;
  doubleValue?: number | null;
}
interface ProtoSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: ProtoValue }>;
  status?: { code?: number; message?: string };
}
interface ExportTraceServiceRequest {
  resourceSpans: Array<{
    resource?: { attributes?: Array<{ key: string; value: ProtoValue }> };
    scopeSpans: Array<{ spans: ProtoSpan[] }>;
  }>;
}

// The OTLP protobuf definitions as generated code from an npm package, so the test does not hand-parse protobuf.
const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-proto-exporter-base/build/src/generated/root.js') as {
  opentelemetry: {
    proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(bytes: Uint8Array): ExportTraceServiceRequest } } } } };
  };
};
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('hex');

/** protobufjs names the AnyValue oneof member that is set in `value`. */
function value(v: ProtoValue): unknown {
  switch (v.value) {
    case 'intValue':
      return typeof v.intValue === 'number' ? v.intValue : v.intValue?.toNumber();
    case 'boolValue':
      return v.boolValue;
    case 'doubleValue':
      return v.doubleValue;
    default:
      return v.stringValue;
  }
}

const attributesOf = (list: Array<{ key: string; value: ProtoValue }> | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));

/** A real OTLP/HTTP protobuf trace receiver on 127.0.0.1: POST /v1/traces. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Raw requests, to check what else arrived (headers, content type). */
  readonly requests: Array<{ path: string; contentType: string | undefined }> = [];
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        receiver?.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
        if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
        const decoded = ExportTraceServiceRequest.decode(Buffer.concat(chunks));
        for (const resourceSpans of decoded.resourceSpans) {
          const serviceName = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '');
          for (const scope of resourceSpans.scopeSpans) {
            for (const span of scope.spans) {
              receiver?.spans.push({
                traceId: hex(span.traceId),
                spanId: hex(span.spanId),
                parentSpanId: hex(span.parentSpanId),
                name: span.name,
                kind: span.kind,
                attributes: attributesOf(span.attributes),
                status: { code: span.status?.code ?? 0, message: span.status?.message },
                serviceName,
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return receiver;
  }

  async waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.spans)) {
      if (Date.now() > deadline)
        throw new Error(`spans not received within ${timeoutMs} ms; got: ${this.spans.map((s) => s.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.spans;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
