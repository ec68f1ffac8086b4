import { AuthError } from '../errors.js';
import type { HeaderMap } from './request-headers.js';

/** Where token-validator's config says to look (its fields, named as in kong.yml and in Kong's jwt plugin). */
export interface TokenLocations {
  /** Header names carrying `Bearer <token>`. */
  readonly header_names: readonly string[];
  /** Query parameters, for clients that cannot set headers (WebSocket). */
  readonly uri_param_names: readonly string[];
  readonly cookie_names: readonly string[];
}

/** JWTs are a few hundred bytes; nginx caps a header line at 8 KB anyway. */
const MAX_TOKEN_HEADER_LENGTH = 8192;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const BEARER = /^\s*bearer(?:\s+(.*))?$/i;

function checked(source: string, value: string): string {
  if (value.length > MAX_TOKEN_HEADER_LENGTH || CONTROL_CHARACTERS.test(value)) {
    throw new AuthError('AUTH_007', `The ${source} carrying the token is malformed`, {
      extensions: { reason: 'malformed_header', header: source },
    });
  }
  return value;
}

function fromCookies(cookieHeader: string, name: string): string | undefined {
  for (const part of cookieHeader.split(';')) {
    const at = part.indexOf('=');
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * The token, looked for in Kong's jwt plugin order: query parameters, cookies, then headers.
 * AUTH_012 when there is none, AUTH_011 for an empty one, AUTH_007 for a header it cannot be.
 */
export function findToken(headers: HeaderMap, query: Record<string, string[] | string | undefined>, where: TokenLocations): string {
  for (const name of where.uri_param_names) {
    const raw = query[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value) return checked(`query parameter ${name}`, value);
  }
  const cookies = where.cookie_names.length > 0 ? headers.cookie : undefined;
  const cookieHeader = Array.isArray(cookies) ? cookies.join('; ') : cookies;
  for (const name of where.cookie_names) {
    const value = cookieHeader ? fromCookies(cookieHeader, name) : undefined;
    if (value) return checked(`cookie ${name}`, value);
  }
  for (const name of where.header_names) {
    const raw = headers[name.toLowerCase()];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined) continue;
    const match = BEARER.exec(checked(name, value));
    if (!match) continue;
    const token = (match[1] ?? '').trim();
    if (token === '') throw new AuthError('AUTH_011', 'Token cannot be empty', { extensions: { reason: 'malformed' } });
    return token;
  }
  throw new AuthError('AUTH_012');
}
