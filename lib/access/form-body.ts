import { AuthError } from '../errors.js';
import type { Kong } from '../kong/plugin.js';
import type { HeaderMap } from './request-headers.js';

/**
 * The largest form body read. Kong keeps a body up to its client_body_buffer_size (8k by default) in
 * memory; a bigger one is spooled to a file, and get_raw_body's nil answer then fails the request in
 * Kong's bridge. So the size is checked on Content-Length before the body is ever asked for.
 */
export const MAX_FORM_BYTES = 8192;

/** The parameters of an application/x-www-form-urlencoded body, each sent once (RFC 6749 §3.1, §3.2). */
export type FormParams = ReadonlyMap<string, string>;

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;
const STRICT_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function formError(detail: string, reason: string): AuthError {
  return new AuthError('AUTH_015', detail, { extensions: { reason } });
}

function single(headers: HeaderMap, name: string): string | undefined {
  const values = headers[name];
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw formError(`The ${name} header must be sent once`, 'malformed_body');
  return values[0];
}

/** Whether the request says it carries a form (Content-Type application/x-www-form-urlencoded). */
export function isFormRequest(headers: HeaderMap): boolean {
  const type = headers['content-type']?.[0];
  return type !== undefined && type.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/**
 * Reads and parses the request's form body: one get_raw_body round trip, only after the headers said
 * it is a form of at most MAX_FORM_BYTES. Every problem is AUTH_015 (OAuth's invalid_request).
 */
export async function readForm(kong: Kong, headers: HeaderMap): Promise<FormParams> {
  const type = single(headers, 'content-type');
  if (type === undefined || !FORM_TYPE.test(type))
    throw formError('The body must be application/x-www-form-urlencoded (UTF-8)', 'content_type');
  if (headers['transfer-encoding'] !== undefined) throw formError('A form body needs a Content-Length, not a chunked body', 'length');
  const length = single(headers, 'content-length');
  if (length === undefined || !/^\d{1,10}$/.test(length)) throw formError('A form body needs a Content-Length', 'length');
  if (Number(length) > MAX_FORM_BYTES) throw formError(`A form body is at most ${MAX_FORM_BYTES} bytes`, 'too_large');
  const body = await kong.request.getRawBody(MAX_FORM_BYTES);
  if (typeof body === 'string') return parseForm(Buffer.from(body, 'latin1'));
  if (!(body instanceof Uint8Array)) throw formError('The request body could not be read', 'malformed_body');
  if (body.length > MAX_FORM_BYTES) throw formError(`A form body is at most ${MAX_FORM_BYTES} bytes`, 'too_large');
  return parseForm(body);
}

/**
 * application/x-www-form-urlencoded, strictly: `+` is a space, every `%` starts two hex digits, the
 * decoded bytes are UTF-8, and no parameter appears twice. Empty pairs (`a=1&&b=2`) are skipped, as
 * every form encoder's output is read.
 */
export function parseForm(body: Uint8Array): FormParams {
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw formError('The form body is not UTF-8', 'encoding');
  }
  const params = new Map<string, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const name = decodeComponent(at === -1 ? pair : pair.slice(0, at));
    const value = at === -1 ? '' : decodeComponent(pair.slice(at + 1));
    if (params.has(name)) throw formError(`The parameter ${JSON.stringify(name.slice(0, 64))} must be sent once`, 'duplicate_parameter');
    params.set(name, value);
  }
  return params;
}

function decodeComponent(encoded: string): string {
  const spaced = encoded.replaceAll('+', ' ');
  if (!spaced.includes('%')) return spaced;
  if (STRICT_PERCENT.test(spaced)) throw formError('The form body has a % not followed by two hex digits', 'encoding');
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw formError('The form body percent-encodes bytes that are not UTF-8', 'encoding');
  }
}
