import { LRUCache } from 'lru-cache';
import type { Logger } from '../ops/logger.js';
import type { RedisConnection } from '../credentials/redis-connection.js';

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

const WINDOW_MS = 60_000;

function decide(count: number, limit: number, msLeft: number): RateLimitDecision {
  return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetSeconds: Math.max(1, Math.ceil(msLeft / 1000)) };
}

/** Fixed one-minute windows per key, in this process. Bounded: the oldest keys go first. */
export function createLocalRateLimiter(opts: { nowMs: () => number; maxKeys: number }): RateLimiter {
  const windows = new LRUCache<string, { windowStart: number; count: number }>({ max: opts.maxKeys });
  return {
    async hit(key, limitPerMinute) {
      const now = opts.nowMs();
      const windowStart = now - (now % WINDOW_MS);
      let window = windows.get(key);
      if (!window || window.windowStart !== windowStart) {
        window = { windowStart, count: 0 };
        windows.set(key, window);
      }
      window.count++;
      return decide(window.count, limitPerMinute, windowStart + WINDOW_MS - now);
    },
  };
}

// One atomic step per hit, so every Kong node's sidecar shares the count: INCR, start the window's
// expiry on its first hit, report the count and the time left.
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
`;

/** The window shared through Redis; while Redis is unavailable, the local limiter decides. */
export function createRedisRateLimiter(
  deps: { connection: RedisConnection; fallback: RateLimiter; log: Logger; nowMs: () => number },
  opts: { keyPrefix: string },
): RateLimiter {
  const client = deps.connection.client as typeof deps.connection.client & {
    kongAuthRateHit(key: string, windowMs: number): Promise<[number, number]>;
  };
  client.defineCommand('kongAuthRateHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  return {
    async hit(key, limitPerMinute) {
      if (!deps.connection.isReady()) return deps.fallback.hit(key, limitPerMinute);
      const window = Math.floor(deps.nowMs() / WINDOW_MS);
      try {
        // The hash tag keeps every window of one key in one slot, for a script that reads two windows.
        const [count, msLeft] = await client.kongAuthRateHit(`${opts.keyPrefix}{rl:${key}}:${window}`, WINDOW_MS);
        return decide(count, limitPerMinute, msLeft > 0 ? msLeft : WINDOW_MS);
      } catch (err) {
        deps.log.debug({ 'event.action': 'rate-limit-redis-failed', error: err }, 'rate limit falls back to this process');
        return deps.fallback.hit(key, limitPerMinute);
      }
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
