import {
  context,
  INVALID_SPAN_CONTEXT,
  TraceFlags,
  type Context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, parseTraceParent, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { AuthError } from '../errors.js';
import type { Logger } from './logger.js';
import { VERSION } from '../version.js';

/** The request headers a phase continues the trace from (traceparent, tracestate), as Kong's get_headers gives them. */
export type TraceCarrier = Readonly<Record<string, string | string[] | undefined>>;

export const TELEMETRY_MODES = ['off', 'console', 'otlp', 'both'] as const;
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/** What the status port reports about tracing. */
export interface TelemetryStatus {
  mode: string;
  initialized: boolean;
  healthy: boolean;
  exporter: string | null;
  exports: Record<string, number | string | boolean | null>;
}

/** Tracing settings, from TELEMETRY_MODE and the standard OTEL_* variables. */
export interface TelemetryConfig {
  mode: (typeof TELEMETRY_MODES)[number];
  serviceName: string;
  resourceAttributes: Record<string, string>;
  tracesEndpoint: string;
  exportTimeoutMs: number;
  maxQueueSize: number;
  scheduleDelayMs: number;
  sampler: (typeof SAMPLERS)[number];
  samplerArg: number;
}

export interface Telemetry {
  readonly tracer: Tracer;
  /**
   * Runs one plugin phase in a span that continues the request's W3C traceparent (from headers already
   * read). `traced` is the phase's trace context for child spans, undefined when the phase is not recorded.
   */
  inPhase<T>(plugin: string, phase: string, headers: TraceCarrier, fn: (span: Span, traced: Context | undefined) => Promise<T>): Promise<T>;
  status(): TelemetryStatus;
  /** Exports what is queued; called on shutdown. */
  flush(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (carrier: TraceCarrier) => Object.keys(carrier),
  get: (carrier: TraceCarrier, key: string) => carrier[key],
};

/** What code outside a recorded phase gets instead of a span. */
const NOT_RECORDED: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Runs `fn` in a child span of `opts.parent` (else of the active context); an error sets error.type (the
 * AUTH code, else the error's name). Without a recording parent there is no child span: it would start a
 * trace of its own. Only a span with children of its own (`withChildren`) becomes the active context.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  kind: SpanKind,
  fn: (span: Span) => Promise<T>,
  opts: { parent?: Context; withChildren?: boolean } = {},
): Promise<T> {
  const parent = opts.parent ?? context.active();
  if (trace.getSpan(parent)?.isRecording())
    return inRecordedSpan(tracer.startSpan(name, { kind }, parent), parent, fn, opts.withChildren === true);
  // Not an async function: the unrecorded path (most requests) returns fn's own promise, not a second one around it.
  try {
    return fn(NOT_RECORDED);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** inSpan for synchronous work (signing): no promise at all when the parent is not recorded. */
export function inSyncSpan<T>(tracer: Tracer, name: string, kind: SpanKind, parent: Context, fn: () => T): T {
  if (!trace.getSpan(parent)?.isRecording()) return fn();
  const span = tracer.startSpan(name, { kind }, parent);
  try {
    return fn();
  } catch (err) {
    recordFailure(span, err);
    throw err;
  } finally {
    span.end();
  }
}

async function inRecordedSpan<T>(span: Span, parent: Context, fn: (span: Span) => Promise<T>, withChildren: boolean): Promise<T> {
  try {
    return await (withChildren ? inTraceContext(trace.setSpan(parent, span), () => fn(span)) : fn(span));
  } catch (err) {
    recordFailure(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/**
 * OpenTelemetry's AsyncLocalStorage context manager, telling whether it is switched on: on Node 20 and 22
 * an enabled AsyncLocalStorage makes every promise of the process pay for hooks.
 */
class SwitchableContextManager extends AsyncLocalStorageContextManager {
  on = false;

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    this.on = true;
    return super.with(context, fn, thisArg, ...args);
  }

  override disable(): this {
    this.on = false;
    return super.disable();
  }
}

let contextManager: SwitchableContextManager | undefined;
let tracedRuns = 0;

/** Whether AsyncLocalStorage is on right now: only while a traced look-up is in progress. */
export function contextHooksOn(): boolean {
  return contextManager?.on === true;
}

/**
 * Runs `fn` with `traced` as the active context, for code that starts spans or logs deep below (a cache
 * miss reaching Redis and the Admin API). The hot path passes its context explicitly instead: on Node 20
 * an enabled AsyncLocalStorage makes every promise of the process pay for hooks, so it is enabled only
 * while such a run is in progress and disabled again after the last one.
 */
export function inTraceContext<T>(traced: Context | undefined, fn: () => Promise<T>): Promise<T> {
  if (!traced || !contextManager) return fn();
  tracedRuns++;
  return context.with(traced, fn).finally(() => {
    tracedRuns--;
    releaseContextHooks();
  });
}

/** AsyncLocalStorage off again (it re-enables itself on the next context.with) unless a traced run is in progress. */
function releaseContextHooks(): void {
  if (tracedRuns === 0) contextManager?.disable();
}

async function endingSpan<T>(span: Span, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await fn(span);
  } finally {
    span.end();
  }
}

/** 5xx AUTH codes and unknown errors are span errors; a 4xx refusal is the service working (OTel HTTP semantics). */
export function recordFailure(span: Span, err: unknown): void {
  const code = err instanceof AuthError ? err.code : err instanceof Error ? err.name : 'Error';
  span.setAttribute('error.type', code);
  if (!(err instanceof AuthError) || err.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

function samplerFrom(config: TelemetryConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerArg);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

interface ExportCounters {
  exportedSpans: number;
  droppedSpans: number;
  exports: number;
  failedExports: number;
  queued: number;
  lastError: string | null;
  lastExportOk: boolean | null;
}

/**
 * Bounds the spans waiting for export (an unreachable collector never grows memory or slows a request)
 * and counts what was exported and what was dropped, for /health/telemetry and ?view=exports.
 */
function countingPipeline(
  exporter: SpanExporter,
  maxQueueSize: number,
  scheduledDelayMillis: number,
  counters: ExportCounters,
): SpanProcessor {
  const counted: SpanExporter = {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      exporter.export(spans, (result) => {
        counters.queued -= spans.length;
        counters.exports++;
        counters.lastExportOk = result.code === ExportResultCode.SUCCESS;
        if (result.code === ExportResultCode.SUCCESS) counters.exportedSpans += spans.length;
        else {
          counters.failedExports++;
          counters.droppedSpans += spans.length;
          counters.lastError = result.error?.message ?? 'export failed';
        }
        done(result);
      });
      // The SDK exports inside context.with (so that an instrumented HTTP client would not trace the
      // export), which switches AsyncLocalStorage on. We instrument no client; left on until the collector
      // answers (the whole export timeout when it hangs), it would tax every promise of the process.
      releaseContextHooks();
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
  const batch = new BatchSpanProcessor(counted, { maxQueueSize, scheduledDelayMillis, maxExportBatchSize: Math.min(512, maxQueueSize) });
  return {
    onStart: (span, parent) => batch.onStart(span, parent),
    onEnd(span) {
      if (counters.queued >= maxQueueSize) {
        counters.droppedSpans++;
        return;
      }
      counters.queued++;
      batch.onEnd(span);
    },
    forceFlush: () => batch.forceFlush(),
    shutdown: () => batch.shutdown(),
  };
}

/** TELEMETRY_MODE=console: each span as one JSON log line, so stdout stays NDJSON. */
function logExporter(log: Logger): SpanExporter {
  return {
    export(spans, done) {
      for (const span of spans) {
        const context = span.spanContext();
        log.info(
          {
            'event.action': 'trace-span',
            'trace.id': context.traceId,
            'span.id': context.spanId,
            'span.name': span.name,
            'parent.id': span.parentSpanContext?.spanId,
            'event.duration': span.duration[0] * 1e9 + span.duration[1],
            attributes: span.attributes,
          },
          `span ${span.name}`,
        );
      }
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: () => Promise.resolve(),
  };
}

export function createTelemetry(config: TelemetryConfig, log: Logger): Telemetry {
  const counters: ExportCounters = {
    exportedSpans: 0,
    droppedSpans: 0,
    exports: 0,
    failedExports: 0,
    queued: 0,
    lastError: null,
    lastExportOk: null,
  };
  const exporters: string[] = [];
  let provider: NodeTracerProvider | undefined;
  if (config.mode !== 'off') {
    const processors: SpanProcessor[] = [];
    if (config.mode === 'otlp' || config.mode === 'both') {
      const exporter = new OTLPTraceExporter({ url: config.tracesEndpoint, timeoutMillis: config.exportTimeoutMs });
      processors.push(countingPipeline(exporter, config.maxQueueSize, config.scheduleDelayMs, counters));
      exporters.push(`otlp ${config.tracesEndpoint}`);
    }
    if (config.mode === 'console' || config.mode === 'both') {
      processors.push(countingPipeline(logExporter(log), config.maxQueueSize, config.scheduleDelayMs, counters));
      exporters.push('console');
    }
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName, 'service.version': VERSION }),
      sampler: samplerFrom(config),
      spanProcessors: processors,
    });
    contextManager = new SwitchableContextManager();
    provider.register({ propagator, contextManager });
  }
  const tracer = trace.getTracer('kong-auth-sidecar', VERSION);
  // Most requests are not sampled; the SDK would still make ids, consult the sampler and build a
  // non-recording span for each (~4 µs). Decided here instead when the answer is certain: no tracing, an
  // always_off sampler, or a parent-based one (the default) under a valid traceparent that says "not sampled".
  const parentBased = config.sampler.startsWith('parentbased_');
  const neverRecorded = (headers: TraceCarrier): boolean => {
    if (!provider || config.sampler === 'always_off') return true;
    if (!parentBased) return false;
    const header = headers.traceparent;
    const value = Array.isArray(header) ? header[0] : header;
    const parent = typeof value === 'string' ? parseTraceParent(value) : null;
    return parent !== null && (parent.traceFlags & TraceFlags.SAMPLED) === 0;
  };

  return {
    tracer,
    inPhase(plugin, phase, headers, fn) {
      if (neverRecorded(headers)) return fn(NOT_RECORDED, undefined);
      const parent = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
      const span = tracer.startSpan(
        `${plugin} ${phase}`,
        { kind: SpanKind.INTERNAL, attributes: { 'kong.plugin.name': plugin, 'kong.phase': phase } },
        parent,
      );
      return endingSpan(span, (s) => fn(s, s.isRecording() ? trace.setSpan(parent, s) : undefined));
    },
    status() {
      return {
        mode: config.mode,
        initialized: provider !== undefined,
        healthy: counters.lastExportOk !== false,
        exporter: exporters.length > 0 ? exporters.join(', ') : null,
        exports: { ...counters },
      };
    },
    async flush() {
      await provider?.forceFlush();
      await provider?.shutdown();
    },
  };
}
