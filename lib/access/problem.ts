import { randomUUID } from 'node:crypto';
import { AUTH, AuthError } from '../errors.js';
import type { ExitAnswer } from '../kong/plugin-server.js';

export interface ProblemContext {
  /** The request path, RFC 7807 `instance`. */
  instance: string;
  requestId: string;
  now: Date;
}

/** The RFC 7807 body of docs/errors.md; field order is part of the contract. */
export function problemBody(err: AuthError, at: ProblemContext): string {
  const body: Record<string, unknown> = {
    type: `urn:problem-type:auth-service/${err.code.toLowerCase().replace('_', '-')}`,
    title: AUTH[err.code].title,
    status: err.status,
    detail: err.detail,
    instance: at.instance,
    code: err.code,
    requestId: at.requestId,
    timestamp: at.now.toISOString(),
  };
  if (err.extensions && Object.keys(err.extensions).length > 0) body.extensions = err.extensions;
  return JSON.stringify(body);
}

export function problemHeaders(err: AuthError, requestId: string): Record<string, string> {
  const headers: Record<string, string> = {
    ...err.headers,
    'Content-Type': 'application/problem+json',
    'Cache-Control': 'no-store',
    'X-Request-Id': requestId,
  };
  if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterSeconds)));
  return headers;
}

/** What the plugin server answers when a phase threw: AUTH_008 under a new request id. */
export function failedPhaseAnswer(): ExitAnswer {
  const problem = new AuthError('AUTH_008');
  const requestId = randomUUID();
  return {
    status: problem.status,
    body: problemBody(problem, { instance: '/', requestId, now: new Date() }),
    headers: problemHeaders(problem, requestId),
  };
}
