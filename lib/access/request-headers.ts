import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';

/** `kong.request.get_headers()` as Kong sends it: lower-case names, each value an array of strings. */
export type HeaderMap = Record<string, string | string[] | undefined>;

export const MAX_HEADER_LENGTH = 256;
// C0 controls and DEL; nginx already refuses NUL/CR/LF, but a tab or ESC in an identity is never legitimate.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

export function asHeaderMap(value: unknown): HeaderMap {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as HeaderMap) : {};
}

/**
 * kong.request.get_headers() returns the first 100 header lines and drops the rest without saying so.
 * A map that reaches the limit may be missing headers Kong added last (X-Anonymous-Consumer) or a
 * client pushed out of view, so no decision is taken on it: the request is refused.
 */
export const KONG_HEADER_LIMIT = 100;

export function requireCompleteHeaders(headers: HeaderMap): void {
  let lines = 0;
  for (const name in headers) {
    const raw = headers[name];
    lines += Array.isArray(raw) ? raw.length : 1;
  }
  if (lines >= KONG_HEADER_LIMIT) {
    throw new AuthError('AUTH_007', `The request has ${KONG_HEADER_LIMIT} or more headers`, { extensions: { reason: 'too_many_headers' } });
  }
}

const NO_VALUES: readonly string[] = [];

const isString = (value: unknown): boolean => typeof value === 'string';

function values(headers: HeaderMap, name: string): readonly string[] {
  const raw = headers[name];
  if (raw === undefined) return NO_VALUES;
  if (!Array.isArray(raw)) return [String(raw)];
  // Kong sends arrays of strings: used as they are, copied only when something else came.
  return raw.every(isString) ? raw : raw.map(String);
}

/** Whether the header has a non-empty value. */
function hasValue(headers: HeaderMap, name: string): boolean {
  for (const value of values(headers, name)) if (value !== '') return true;
  return false;
}

/** The header's one value, or undefined when absent or empty. Several values or unsafe text → AUTH_007. */
export function singleHeader(headers: HeaderMap, name: string): string | undefined {
  let first: string | undefined;
  let count = 0;
  for (const value of values(headers, name)) {
    if (value === '') continue;
    checkHeaderValue(name, value);
    first ??= value;
    count++;
  }
  if (count > 1)
    throw new AuthError('AUTH_007', `Header ${name} must have a single value`, { extensions: { reason: 'multiple_values', header: name } });
  return first;
}

export function checkHeaderValue(name: string, value: string): void {
  if (value.length > MAX_HEADER_LENGTH) {
    throw new AuthError('AUTH_007', `Header ${name} exceeds ${MAX_HEADER_LENGTH} characters`, {
      extensions: { reason: 'too_long', header: name },
    });
  }
  if (CONTROL_CHARACTERS.test(value)) {
    throw new AuthError('AUTH_007', `Header ${name} contains control characters`, {
      extensions: { reason: 'control_characters', header: name },
    });
  }
}

export interface ConsumerHeaders {
  consumerId: string;
  /** X-Consumer-Username, else X-Consumer-Custom-ID (Kong sets whichever the consumer has). */
  consumerName: string;
}

const saysTrue = (value: string) => value.trim().toLowerCase() === 'true';

// Kong and Konnect name every consumer by a UUID; anything else must never reach an Admin API path.
const CONSUMER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The documented order (docs/errors.md): AUTH_001 (missing) → AUTH_007 (malformed) → AUTH_009 (anonymous). */
export function readConsumerHeaders(headers: HeaderMap): ConsumerHeaders {
  if (!hasValue(headers, 'x-consumer-id') || !(hasValue(headers, 'x-consumer-username') || hasValue(headers, 'x-consumer-custom-id'))) {
    throw new AuthError('AUTH_001', undefined, { extensions: { reason: 'Missing Kong consumer headers' } });
  }
  const consumerId = singleHeader(headers, 'x-consumer-id') as string;
  if (!CONSUMER_ID.test(consumerId)) {
    throw new AuthError('AUTH_007', 'Header x-consumer-id must be a Kong consumer id (a UUID)', {
      extensions: { reason: 'malformed_consumer_id', header: 'x-consumer-id' },
    });
  }
  const username = singleHeader(headers, 'x-consumer-username');
  const customId = singleHeader(headers, 'x-consumer-custom-id');
  if (values(headers, 'x-anonymous-consumer').some(saysTrue)) {
    throw new AuthError('AUTH_009', undefined, { extensions: { reason: 'Anonymous consumers are not allowed' } });
  }
  return { consumerId, consumerName: (username ?? customId) as string };
}

// Printable ASCII only: the id is echoed in a response header, and Kong raises on a header it cannot send.
const SAFE_REQUEST_ID = /^[\u0021-\u007e]{1,200}$/;

/** The caller's X-Request-Id when it is safe to echo, else a new UUID. */
export function requestIdFrom(headers: HeaderMap): string {
  const incoming = values(headers, 'x-request-id')[0];
  return incoming !== undefined && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Kong's rule for naming a consumer: username, else custom_id, else id (docs/errors.md). */
export function consumerName(consumer: { id: string; username?: unknown; custom_id?: unknown }): string {
  if (typeof consumer.username === 'string' && consumer.username !== '') return consumer.username;
  if (typeof consumer.custom_id === 'string' && consumer.custom_id !== '') return consumer.custom_id;
  return consumer.id;
}
