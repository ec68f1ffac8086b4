/**
 * The counts the metrics and the status views read from the layers above at scrape time. They are
 * defined here, where they are read, and implemented by the modules that keep them.
 */

/** A Redis layer of the credential cache. */
export interface LayerCounts {
  hits: number;
  misses: number;
  errors: number;
}

/** A memory layer of the credential store. */
export interface LayerStats {
  hits: number;
  misses: number;
}

export interface CredentialStats {
  memory: LayerStats;
  memoryStale: LayerStats;
  admin: { lookups: number; notFound: number; outages: number };
  entries: { memory: number; memoryStale: number };
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** The signing key directory: whether its content is a valid set, the keys served, and its reloads. */
export interface SigningKeyStats {
  /** false while the directory's content is refused and the last good set (if any) is served. */
  valid: boolean;
  keys: { next: number; current: number; retired: number };
  reloads: { loaded: number; invalid: number };
}

/** One remote JWKS a gate verifies with: its URL (no query), the keys served, and its fetches by outcome. */
export interface RemoteJwksStats {
  jwks: string;
  /** Usable keys in the served set; 0 while none was fetched, and while the last good set is too old to use. */
  keys: number;
  /** true while the last good set is past its cache lifetime (fetches fail). */
  stale: boolean;
  /**
   * `no_usable_key`: a JWKS without a key we verify (it replaced the set); `unavailable`: network, timeout,
   * a status other than 200, the breaker open; `invalid`: not a JWKS (not JSON, too large, no "keys" array).
   */
  fetches: { success: number; no_usable_key: number; unavailable: number; invalid: number };
}

/** What this process knows of revocations: the in-memory list's size, and whether it is known complete. */
export interface RevocationStats {
  tokens: number;
  consumers: number;
  /** Always true without Redis; with Redis, while subscribed and re-read since the subscription came up. */
  current: boolean;
  /** With Redis only. */
  sync: RevocationSyncStats | undefined;
}

/** The shared store's keeping in step with Redis. */
export interface RevocationSyncStats {
  /** Full re-reads of the set that completed, and those that failed (and were retried). */
  rereads: number;
  rereadFailures: number;
  /** Times a subscription that was current went down. */
  subscriptionsLost: number;
  /** Revocations received on the channel. */
  messages: number;
}
