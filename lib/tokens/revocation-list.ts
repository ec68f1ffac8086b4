import type { JWTPayload } from 'jose';
import { issuedAtMs } from './token-id.js';

/**
 * How long a consumer's "revoked before" mark is kept: the longest lifetime a token of ours can have
 * (token-issuer's ttl_seconds ≤ 86400) plus the largest clock skew a validator allows (300 s). After
 * that every token the mark covered has expired.
 */
export const REVOKED_BEFORE_TTL_SECONDS = 86400 + 300;

/** Leeway added to a revoked token's remaining lifetime, for validators that allow clock skew. */
export const REVOKED_TOKEN_LEEWAY_SECONDS = 300;

/**
 * The revocations this process knows, checked in memory on every gate event: revoked token ids until
 * their tokens expire, and per consumer the time before which all its tokens are revoked ("log out
 * everywhere"). Nothing here is ever dropped before it has expired: an entry dropped early would
 * un-revoke a token.
 */
export interface RevocationList {
  /** Whether a verified token is revoked: its `jti`, or a mark of its consumer at or after its issue time. */
  isRevoked(claims: JWTPayload, consumerId: string): boolean;
  /** Revokes one token id until `expiresAtSeconds` (its `exp` plus leeway). */
  revokeToken(jti: string, expiresAtSeconds: number): void;
  /** Revokes every token of the consumer issued at or before `atMs`; an earlier mark never replaces a later one. */
  revokeConsumer(consumerId: string, atMs: number): void;
  size(): { tokens: number; consumers: number };
}

export function createRevocationList(deps: { nowMs: () => number }): RevocationList {
  const tokens = new Map<string, number>();
  const consumers = new Map<string, number>();
  let nextSweepMs = 0;

  /** Expired entries go at most once a minute, in one pass, so the hot path never walks the maps. */
  function sweep(now: number): void {
    if (now < nextSweepMs) return;
    nextSweepMs = now + 60_000;
    const nowSeconds = now / 1000;
    for (const [jti, until] of tokens) if (until <= nowSeconds) tokens.delete(jti);
    for (const [id, at] of consumers) if (at + REVOKED_BEFORE_TTL_SECONDS * 1000 <= now) consumers.delete(id);
  }

  return {
    isRevoked(claims, consumerId) {
      if (tokens.size === 0 && consumers.size === 0) return false;
      sweep(deps.nowMs());
      if (typeof claims.jti === 'string' && tokens.has(claims.jti)) return true;
      const mark = consumers.get(consumerId);
      return mark !== undefined && issuedAtMs(claims) <= mark;
    },
    revokeToken(jti, expiresAtSeconds) {
      if (expiresAtSeconds * 1000 <= deps.nowMs()) return;
      tokens.set(jti, Math.max(expiresAtSeconds, tokens.get(jti) ?? 0));
    },
    revokeConsumer(consumerId, atMs) {
      if (atMs + REVOKED_BEFORE_TTL_SECONDS * 1000 <= deps.nowMs()) return;
      consumers.set(consumerId, Math.max(atMs, consumers.get(consumerId) ?? -Infinity));
    },
    size: () => ({ tokens: tokens.size, consumers: consumers.size }),
  };
}
