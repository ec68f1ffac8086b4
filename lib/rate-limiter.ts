import { LRUCache } from 'lru-cache';

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the current window ends. */
  resetSeconds: number;
}

export interface RateLimiter {
  /** Counts one request for `key` against `limitPerMinute` in the current minute. */
  hit(key: string, limitPerMinute: number): Promise<RateLimitDecision>;
}

/** Fixed one-minute windows per key, in this process. Bounded: the oldest keys go first. */
export function createLocalRateLimiter(opts: { nowMs: () => number; maxKeys: number }): RateLimiter {
  const windows = new LRUCache<string, { windowStart: number; count: number }>({ max: opts.maxKeys });
  return {
    async hit(key, limitPerMinute) {
      const now = opts.nowMs();
      const windowStart = now - (now % 60_000);
      let window = windows.get(key);
      if (!window || window.windowStart !== windowStart) {
        window = { windowStart, count: 0 };
        windows.set(key, window);
      }
      window.count++;
      return {
        allowed: window.count <= limitPerMinute,
        limit: limitPerMinute,
        remaining: Math.max(0, limitPerMinute - window.count),
        resetSeconds: Math.ceil((windowStart + 60_000 - now) / 1000),
      };
    },
  };
}

export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  return {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(decision.resetSeconds),
  };
}
