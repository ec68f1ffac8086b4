import type { JWTPayload } from 'jose';
import { invalidToken } from '../tokens/invalid-token.js';

/** Controls, format characters (bidi overrides, zero-width), lone surrogates, private use, line and paragraph separators. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u;
const MAX_ENTITY_NAME_LENGTH = 256;

/**
 * Whether `name` can name a Kong entity (a consumer id or username, a credential key) as one Admin API
 * path segment: 1 to 256 printable characters, and not `.` or `..`, which URL parsers resolve away
 * (`/consumers/./jwt` is sent as `/consumers/jwt`). The key claim of a token is held to the same rule.
 */
export function isEntityName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= MAX_ENTITY_NAME_LENGTH &&
    name !== '.' &&
    name !== '..' &&
    !UNPRINTABLE.test(name)
  );
}

/** The key claim, which names the credential (Kong jwt plugin's key_claim_name). */
export function keyClaim(claims: JWTPayload, keyClaimName: string): string {
  const key = claims[keyClaimName];
  if (typeof key !== 'string' || key === '') throw invalidToken('key_mismatch', `The token has no "${keyClaimName}" claim`);
  if (!isEntityName(key)) throw invalidToken('key_mismatch', `The token's "${keyClaimName}" claim cannot name a credential`);
  return key;
}
