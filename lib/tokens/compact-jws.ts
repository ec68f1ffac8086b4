/** The compact JWS serialization's plumbing, shared by every signer and verifier: segments, base64url, JSON. */

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Canonical base64url: the URL-safe alphabet, no padding, and the unused low bits of a partial last
 * character (4 of them 2 characters past a multiple of 4, 2 of them 3 past) zero. Any other spelling
 * decodes to the same bytes, so it would be another string for the same token to everything keyed on the
 * token (the verified tokens, revocation lists, replay detection).
 */
export function isCanonicalBase64url(segment: string): boolean {
  if (!BASE64URL.test(segment)) return false;
  const leftover = segment.length % 4;
  if (leftover === 0) return true;
  const last = segment.charAt(segment.length - 1);
  return leftover === 2 ? 'AQgw'.includes(last) : leftover === 3 && 'AEIMQUYcgkosw048'.includes(last);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON object a segment encodes; undefined for anything else (bad UTF-8, not JSON, not an object). */
export function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The base64url segment of a JSON value (a header or claims). */
export function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export interface CompactParts {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `header.claims`, the bytes the signature covers. */
  signingInput: string;
  /** The third segment, still base64url. */
  signature: string;
}

/** Three canonical base64url segments, the first two JSON objects; undefined otherwise. */
export function splitCompact(token: string): CompactParts | undefined {
  const segments = token.split('.');
  if (segments.length !== 3 || !segments.every(isCanonicalBase64url)) return undefined;
  const [headerPart, claimsPart, signaturePart] = segments as [string, string, string];
  const header = jsonObject(headerPart);
  const claims = jsonObject(claimsPart);
  if (!header || !claims) return undefined;
  return { header, claims, signingInput: `${headerPart}.${claimsPart}`, signature: signaturePart };
}
