import type { Context as TraceContext, Span } from '@opentelemetry/api';
import { toAuthError, type AuthError } from '../errors.js';
import type { Kong } from '../kong/plugin.js';
import { recordFailure } from '../ops/telemetry.js';
import type { PluginContext } from './plugin-context.js';
import { oauthErrorAnswer } from './oauth-error.js';
import { problemBody, problemHeaders } from './problem.js';
import { asHeaderMap, requestIdFrom, requireCompleteHeaders, type HeaderMap } from './request-headers.js';
import { eventFields, exitWith, requestPath } from './respond.js';

export interface PhaseState {
  /** kong.request.get_headers, read once. */
  headers: HeaderMap;
  /** Echoed in every answer; a handler may replace it (request_id_source: kong). */
  requestId: string;
  startedAt: number;
  span: Span;
  /** The phase span's context, for child spans; undefined when the phase is not recorded. */
  trace: TraceContext | undefined;
  /** Refusals are answered as OAuth errors (RFC 6749 §5.2) instead of problem+json; a handler may set it. */
  oauth: boolean;
}

/** What a phase that succeeded logs: its message and the ECS fields beyond the event's own. */
export interface PhaseSuccess {
  message: string;
  fields: Record<string, unknown>;
}

export interface PhaseOptions {
  plugin: string;
  /** ECS event.action of the phase's log line. */
  action: string;
  /** Extra headers for refusals (the validator's WWW-Authenticate). */
  challenge?: (err: AuthError) => Record<string, string>;
  /** Counts how an event ended, in the plugin's own metric: undefined for a success, else the refusal. */
  count: (refusal: AuthError | undefined) => void;
  /** Whether a request is OAuth-shaped from its headers alone, so even its first refusal is an OAuth error. */
  oauth?: (headers: HeaderMap) => boolean;
}

/**
 * The access phase every plugin shares: ONE get_headers round trip (a truncated map is refused), a
 * span continuing the request's traceparent, and the one place an event is logged and counted — its
 * success, or its refusal with a single exit. No error escapes, since Kong lets a request through when
 * a plugin call fails. `handle` answers undefined for an event that is let through unlogged (a preflight).
 */
export async function runAccessPhase(
  kong: Kong,
  ctx: PluginContext,
  opts: PhaseOptions,
  handle: (state: PhaseState) => Promise<PhaseSuccess | undefined>,
): Promise<void> {
  const startedAt = performance.now();
  let headers: HeaderMap;
  try {
    headers = asHeaderMap(await kong.request.getHeaders());
  } catch (err) {
    return refuse(kong, ctx, opts, { requestId: requestIdFrom({}), startedAt, span: undefined, oauth: false }, err);
  }
  await ctx.telemetry.inPhase(opts.plugin, 'access', headers, async (span, trace) => {
    const oauth = opts.oauth?.(headers) ?? false;
    const state: PhaseState = { headers, requestId: requestIdFrom(headers), startedAt, span, trace, oauth };
    let success: PhaseSuccess | undefined;
    try {
      requireCompleteHeaders(headers);
      success = await handle(state);
    } catch (err) {
      return refuse(kong, ctx, opts, state, err);
    }
    if (!success) return;
    opts.count(undefined);
    ctx.log[ctx.config.eventLogLevel](eventFields(opts.action, 'success', startedAt, span, success.fields), success.message);
  });
}

/** The single exit for refusals: an RFC 7807 body (or an OAuth error) with the AUTH code; the cause goes to the log only. */
async function refuse(
  kong: Kong,
  ctx: PluginContext,
  opts: PhaseOptions,
  state: Pick<PhaseState, 'requestId' | 'startedAt' | 'oauth'> & { span: Span | undefined },
  err: unknown,
): Promise<void> {
  const authError = toAuthError(err);
  ctx.metrics.authError(authError.code);
  opts.count(authError);
  if (state.span) recordFailure(state.span, authError);
  const fields = eventFields(opts.action, 'failure', state.startedAt, state.span, {
    'error.code': authError.code,
    'error.message': authError.detail,
  });
  if (authError.code === 'AUTH_008') ctx.log.error(Object.assign(fields, { error: authError.cause }), 'unexpected failure');
  else if (authError.status >= 500) ctx.log.warn(Object.assign(fields, { error: authError.cause }), 'request refused: a dependency failed');
  else ctx.log[ctx.config.eventLogLevel](fields, 'request refused');
  if (state.oauth) {
    const answer = oauthErrorAnswer(authError, state.requestId);
    return exitWith(kong, answer.status, answer.body, answer.headers);
  }
  const instance = await requestPath(kong);
  const headers = { ...problemHeaders(authError, state.requestId), ...opts.challenge?.(authError) };
  await exitWith(kong, authError.status, problemBody(authError, { instance, requestId: state.requestId, now: new Date() }), headers);
}
