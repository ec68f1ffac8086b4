import type { JWTPayload } from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRevocationList, REVOKED_TOKEN_LEEWAY_SECONDS, type RevocationList } from './revocation-list.js';

/**
 * Where revocations are recorded and checked. The check is in memory (no I/O per request); recording
 * resolves only once the revocation is where every sidecar that shares the store will see it, and
 * rejects (AUTH_018) when it could not be recorded: the revocation route never answers 200 for a
 * revocation that did not happen.
 */
export interface RevocationStore {
  isRevoked(claims: JWTPayload, consumerId: string): boolean;
  /**
   * Whether the in-memory list is known to be complete: always for the per-process store; with Redis,
   * while the subscription is up and the set was re-read since it last came up.
   */
  isCurrent(): boolean;
  /** Revokes one token id until `expiresAtSeconds` (the token's `exp`) plus REVOKED_TOKEN_LEEWAY_SECONDS. */
  revokeToken(jti: string, expiresAtSeconds: number): Promise<void>;
  /** Revokes every token of the consumer issued up to now; resolves with the mark (ms). */
  revokeConsumer(consumerId: string): Promise<number>;
  size(): { tokens: number; consumers: number };
  close(): Promise<void>;
}

/**
 * Resolves once the clock has passed `markMs`, so a token issued after a revoke-all has answered carries
 * a later millisecond than the mark (token ids are UUIDv7), even within the same `iat` second.
 */
export async function afterMark(markMs: number, nowMs: () => number): Promise<void> {
  while (nowMs() <= markMs) await sleep(1);
}

/** Revocations of this process only: what a deployment without Redis gets (docs/plugins/token-revocation.md). */
export function createLocalRevocationStore(deps: { nowMs: () => number; list?: RevocationList }): RevocationStore {
  const list = deps.list ?? createRevocationList(deps);
  return {
    isRevoked: (claims, consumerId) => list.isRevoked(claims, consumerId),
    isCurrent: () => true,
    revokeToken(jti, expiresAtSeconds) {
      list.revokeToken(jti, expiresAtSeconds + REVOKED_TOKEN_LEEWAY_SECONDS);
      return Promise.resolve();
    },
    async revokeConsumer(consumerId) {
      const mark = deps.nowMs();
      list.revokeConsumer(consumerId, mark);
      await afterMark(mark, deps.nowMs);
      return mark;
    },
    size: () => list.size(),
    close: () => Promise.resolve(),
  };
}
