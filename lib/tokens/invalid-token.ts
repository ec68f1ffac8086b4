import { AuthError } from '../errors.js';

/** AUTH_011's fixed `extensions.reason` values. */
export type InvalidReason =
  'malformed' | 'signature' | 'algorithm' | 'not_yet_valid' | 'issuer' | 'audience' | 'key_mismatch' | 'too_old' | 'token_type';

/** 400 AUTH_011 with its reason: every refusal of a token by its form, signature or claims. */
export function invalidToken(reason: InvalidReason, detail: string): AuthError {
  return new AuthError('AUTH_011', detail, { extensions: { reason } });
}
