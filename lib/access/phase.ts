import type { Context as TraceContext, Span } from '@opentelemetry/api';
import type { PluginContext } from './plugin-context.js';
import type { AuthError } from '../errors.js';
import type { Kong } from '../kong/plugin.js';
import { asHeaderMap, requestIdFrom, requireCompleteHeaders, type HeaderMap } from './request-headers.js';
import { exitWithProblem } from './respond.js';

export interface PhaseState {
  /** kong.request.get_headers, read once. */
  headers: HeaderMap;
  /** Echoed in every answer; a handler may replace it (request_id_source: kong). */
  requestId: string;
  startedAt: number;
  span: Span;
  /** The phase span's context, for child spans; undefined when the phase is not recorded. */
  trace: TraceContext | undefined;
}

export interface PhaseOptions {
  plugin: string;
  /** ECS event.action of the refusal log lines. */
  action: string;
  /** Extra headers for refusals (the validator's WWW-Authenticate). */
  challenge?: (err: AuthError) => Record<string, string>;
}

/**
 * The access phase every plugin shares: ONE get_headers round trip (a truncated map is refused), a
 * span continuing the request's traceparent, and a single exit for failures — no error escapes, since Kong lets a request through
 * when a plugin call fails.
 */
export async function runAccessPhase(kong: Kong, ctx: PluginContext, opts: PhaseOptions, handle: (state: PhaseState) => Promise<void>): Promise<void> {
  const startedAt = performance.now();
  let headers: HeaderMap;
  try {
    headers = asHeaderMap(await kong.request.getHeaders());
  } catch (err) {
    return exitWithProblem(kong, err, requestIdFrom({}), ctx, opts.action, startedAt, opts.challenge);
  }
  await ctx.telemetry.inPhase(opts.plugin, 'access', headers, async (span, trace) => {
    const state: PhaseState = { headers, requestId: requestIdFrom(headers), startedAt, span, trace };
    try {
      requireCompleteHeaders(headers);
      await handle(state);
    } catch (err) {
      await exitWithProblem(kong, err, state.requestId, ctx, opts.action, startedAt, opts.challenge, span);
    }
  });
}
