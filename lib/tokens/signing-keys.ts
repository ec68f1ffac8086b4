import { sign, verify, type KeyObject } from 'node:crypto';
import { encodeSegment, splitCompact, type CompactParts } from './compact-jws.js';
import type { KeyAlg } from './key-manifest.js';
import type { KeySet, SigningKey } from './key-set.js';
import { invalidToken } from './invalid-token.js';

/** The header's `typ`: `JWT`, or `at+jwt` for RFC 9068 access tokens. */
export type TokenType = 'JWT' | 'at+jwt';

// A key's header never changes: its base64url form is computed once per key and typ.
const headers = new WeakMap<SigningKey, Map<TokenType, string>>();

function headerOf(key: SigningKey, typ: TokenType): string {
  let ofKey = headers.get(key);
  if (!ofKey) headers.set(key, (ofKey = new Map()));
  let header = ofKey.get(typ);
  if (header === undefined) ofKey.set(typ, (header = encodeSegment({ alg: key.alg, kid: key.kid, typ })));
  return header;
}

/** node:crypto's form of each JWS algorithm: the digest (none for EdDSA) and, for ES256, JOSE's r‖s signature. */
const NODE_FORM: Record<KeyAlg, { digest: string | null; dsaEncoding?: 'ieee-p1363' }> = {
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  EdDSA: { digest: null },
  // An RSA key object signs with RSASSA-PKCS1-v1_5 unless told otherwise.
  RS256: { digest: 'sha256' },
};

function keyInput(alg: KeyAlg, key: KeyObject) {
  const { dsaEncoding } = NODE_FORM[alg];
  return dsaEncoding ? { key, dsaEncoding } : key;
}

/** The compact JWS of `claims` under `{alg, kid, typ}` with the key's private half, synchronously (node:crypto). */
export function signJwt(claims: Record<string, unknown>, key: SigningKey, typ: TokenType = 'JWT'): string {
  if (!key.privateKey) throw new Error(`key ${key.kid} has no private key to sign with`);
  const input = `${headerOf(key, typ)}.${encodeSegment(claims)}`;
  const signature = sign(NODE_FORM[key.alg].digest, Buffer.from(input), keyInput(key.alg, key.privateKey));
  return `${input}.${signature.toString('base64url')}`;
}

/** Header parameters that would have a verifier fetch or trust a key from the token itself, or process what it does not know (RFC 8725). */
const REFUSED_HEADERS = ['jku', 'x5u', 'x5c', 'jwk', 'crit'] as const;

/** The first header parameter of REFUSED_HEADERS the header carries, if any. */
export function refusedHeader(header: Record<string, unknown>): string | undefined {
  return REFUSED_HEADERS.find((name) => name in header);
}

export interface VerifiedJws {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  key: SigningKey;
}

/**
 * The header and claims of a token signed by a key of `keys`, found by its exact `kid`; the algorithm is
 * the key's, and a header naming another is refused. Only the signature is checked here: the claims
 * (exp, iss, aud…) are the caller's. AUTH_011 `malformed`, `key_mismatch` (no such kid), `algorithm` or
 * `signature` otherwise.
 */
export function verifyJwt(token: string, keys: KeySet): VerifiedJws {
  const parts = splitCompact(token);
  if (!parts) throw invalidToken('malformed', 'The token is not a well-formed JWT');
  return verifyParts(parts, keys);
}

/** verifyJwt for a token already split. */
export function verifyParts(parts: CompactParts, keys: KeySet): VerifiedJws {
  const { header, claims, signingInput, signature } = parts;
  const refused = refusedHeader(header);
  if (refused !== undefined) throw invalidToken('malformed', `The token header "${refused}" is not accepted`);
  const kid = header.kid;
  const key = typeof kid === 'string' ? keys.byKid.get(kid) : undefined;
  if (!key) throw invalidToken('key_mismatch', 'The token names no key of the key set');
  if (header.alg !== key.alg)
    throw invalidToken('algorithm', `The token algorithm ${JSON.stringify(header.alg)} is not its key's (${key.alg})`);
  const signatureBytes = Buffer.from(signature, 'base64url');
  if (!verify(NODE_FORM[key.alg].digest, Buffer.from(signingInput), keyInput(key.alg, key.publicKey), signatureBytes))
    throw invalidToken('signature', 'The token signature does not verify');
  return { header, claims, key };
}
