import { createHmac, timingSafeEqual } from 'node:crypto';

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Checks an HS256 JWT with node:crypto alone (no jose), so the test does not share the signer's library. */
export function verifyHs256(token: string, secret: string): DecodedJwt {
  const [header, payload, signature, ...rest] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined || rest.length > 0) throw new Error('not a compact JWS');
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('signature does not verify');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

/** A compact JWS built by hand with node:crypto, to forge exactly the tokens a test needs. */
export function forgeJwt(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  const alg = String(header.alg);
  if (alg === 'none') return `${input}.`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512', RS256: 'sha256' }[alg] ?? 'sha256';
  return `${input}.${createHmac(hash, Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Other spellings of `token` that decode to the very same bytes, so verify with the same secret, but are
 * not canonical base64url: each segment padded with `=`, and each segment whose last character carries
 * unused bits with the lowest of them set.
 */
export function nonCanonicalSpellings(token: string): string[] {
  const segments = token.split('.');
  const replacing = (at: number, segment: string) => segments.map((s, i) => (i === at ? segment : s)).join('.');
  const spellings: string[] = [];
  segments.forEach((segment, at) => {
    const leftover = segment.length % 4;
    if (leftover === 0) return;
    spellings.push(replacing(at, segment + '='.repeat(4 - leftover)));
    const last = BASE64URL.indexOf(segment.slice(-1));
    const respelled = segment.slice(0, -1) + BASE64URL.charAt(last | 1);
    if (!Buffer.from(respelled, 'base64url').equals(Buffer.from(segment, 'base64url')))
      throw new Error('a respelling must decode to the same bytes');
    spellings.push(replacing(at, respelled));
  });
  return spellings;
}
