import { AuthError } from '../errors.js';
import type { Kong } from '../kong/plugin.js';
import { exitWith } from './respond.js';
import type { HeaderMap } from './request-headers.js';

/** A public document anyone may fetch and cache: the JWKS, the server metadata. */
export interface PublicDocument {
  readonly body: string;
  /** A strong entity tag, quoted. */
  readonly etag: string;
  readonly contentType: string;
}

const ALLOWED_METHODS = 'GET, HEAD';

/**
 * RFC 9110 §13.1.2: If-None-Match is `*` or a list of entity tags, compared weakly (`W/"x"` matches
 * `"x"`). Several header lines are one list. Anything unreadable in it matches nothing.
 */
export function matchesIfNoneMatch(raw: HeaderMap[string], etag: string): boolean {
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (value === undefined) return false;
  const opaque = etag.replace(/^W\//, '');
  for (const member of value.split(',')) {
    const tag = member.trim();
    if (tag === '*' || tag.replace(/^W\//, '') === opaque) return true;
  }
  return false;
}

/**
 * Answers GET and HEAD with the document (Kong's nginx sends no body for HEAD, and keeps its
 * Content-Length), 304 Not Modified when If-None-Match names its tag, and 405 with Allow for any
 * other method. `Cache-Control: public, max-age` lets verifiers and shared caches keep it.
 */
export async function serveDocument(
  kong: Kong,
  headers: HeaderMap,
  /** Called once the method is known to be allowed; its AuthError is the answer. */
  documentOf: () => PublicDocument,
  maxAgeSeconds: number,
  requestId: string,
): Promise<'fetched' | 'not modified'> {
  const method = await kong.request.getMethod();
  if (method !== 'GET' && method !== 'HEAD')
    throw new AuthError('AUTH_007', 'This route answers GET and HEAD only', {
      status: 405,
      headers: { Allow: ALLOWED_METHODS },
      extensions: { reason: 'method_not_allowed' },
    });
  const doc = documentOf();
  const cacheHeaders = { 'Cache-Control': `public, max-age=${maxAgeSeconds}`, ETag: doc.etag, 'X-Request-Id': requestId };
  // RFC 9110 §15.4.5: a 304 carries the ETag and Cache-Control a 200 would, and no content.
  if (matchesIfNoneMatch(headers['if-none-match'], doc.etag)) {
    await exitWith(kong, 304, '', cacheHeaders);
    return 'not modified';
  }
  await exitWith(kong, 200, doc.body, { 'Content-Type': doc.contentType, ...cacheHeaders });
  return 'fetched';
}
