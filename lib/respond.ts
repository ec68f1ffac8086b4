import type { Kong } from './plugin.js';
import { toAuthError, type AuthError } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { problemBody, problemHeaders } from './problem.js';

/**
 * kong.response.exit ends the conversation: Kong never resumes the plugin after it. Every value
 * must already be what Kong's exit accepts (integer status, string body, string headers), because a
 * PDK function that raises inside Kong turns the request into a 500 and abandons our event.
 */
export async function exitWith(kong: Kong, status: number, body: string, headers: Record<string, string>): Promise<void> {
  await kong.response.exit(status, body as unknown as Buffer, headers);
}

export const JSON_NO_STORE = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** The single exit for failures: an RFC 7807 body with the AUTH code; the cause goes to the log only. */
export async function exitWithProblem(
  kong: Kong,
  err: unknown,
  requestId: string,
  ctx: { log: Logger; metrics: Metrics },
  plugin: string,
  extraHeaders?: (err: AuthError) => Record<string, string>,
): Promise<void> {
  const authError = toAuthError(err);
  const log = ctx.log;
  ctx.metrics.authError(authError.code);
  const fields = { 'event.action': plugin, 'event.outcome': 'failure', 'error.code': authError.code, 'error.message': authError.detail };
  if (authError.code === 'AUTH_008') log.error({ ...fields, error: authError.cause }, 'unexpected failure');
  else if (authError.status >= 500) log.warn({ ...fields, error: authError.cause }, 'request refused: a dependency failed');
  else log.info(fields, 'request refused');
  const instance = await requestPath(kong);
  const headers = { ...problemHeaders(authError, requestId), ...extraHeaders?.(authError) };
  await exitWith(kong, authError.status, problemBody(authError, { instance, requestId, now: new Date() }), headers);
}

/** One extra round trip, paid only on the error path. */
async function requestPath(kong: Kong): Promise<string> {
  try {
    const path = await kong.request.getPath();
    return typeof path === 'string' && path !== '' ? path : '/';
  } catch {
    return '/';
  }
}
