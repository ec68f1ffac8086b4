import { isSpanContextValid, trace, type Span } from '@opentelemetry/api';
import { pino, type Logger, type DestinationStream } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type { Logger };

/**
 * Fields whose values must never reach a log line. Every object we log is flat ECS fields built in
 * place (errors go through serializeError), so exact paths suffice; wildcard paths cost ~5 µs per line.
 */
const REDACTED_PATHS = [
  'secret',
  'token',
  'access_token',
  'authorization',
  'headers.authorization',
  'headers["kong-admin-token"]',
  'adminToken',
  'kongAdminToken',
];

/** pino writing NDJSON with ECS field names (docs/operations.md), flat dotted keys as @elastic/ecs-pino-format does. */
export function createLogger(opts: { level: LogLevel; serviceVersion: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      messageKey: 'message',
      errorKey: 'error',
      base: { 'service.name': 'kong-auth-sidecar', 'service.version': opts.serviceVersion },
      timestamp: isoTimestamp,
      formatters: { level: (label) => ({ 'log.level': label }) },
      serializers: { error: serializeError },
      // A line logged in a traced context (a cache miss's look-up) carries its trace and span ids (ECS
      // trace.id, span.id); an event's own lines add them from the phase span (traceFieldsOf).
      mixin: () => traceFieldsOf(trace.getActiveSpan()),
      // The logged object wins over the mixin; without a trace, it is used as it is (no copy).
      mixinMergeStrategy: (logged: object, mixin: object) => (mixin === NO_TRACE_FIELDS ? logged : Object.assign(mixin, logged)),
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

const NO_TRACE_FIELDS: Record<string, string> = Object.freeze({});

/** ECS trace.id and span.id of a recorded span; a shared empty object otherwise. */
export function traceFieldsOf(span: Span | undefined): Record<string, string> {
  const context = span?.isRecording() ? span.spanContext() : undefined;
  return context && isSpanContextValid(context) ? { 'trace.id': context.traceId, 'span.id': context.spanId } : NO_TRACE_FIELDS;
}

// Lines come in bursts within one millisecond: its ISO form is built once.
let timestampMs = 0;
let timestampField = '';

function isoTimestamp(): string {
  const now = Date.now();
  if (now !== timestampMs) {
    timestampMs = now;
    timestampField = `,"@timestamp":"${new Date(now).toISOString()}"`;
  }
  return timestampField;
}

/** ECS error fields; the stack stays, but messages of dependency errors are ours to control. */
function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack_trace: err.stack };
  if (err.cause !== undefined) out.cause = serializeError(err.cause);
  return out;
}
