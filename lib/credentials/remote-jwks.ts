import { createHash } from 'node:crypto';
import {
  BrokenCircuitError,
  circuitBreaker,
  ConsecutiveBreaker,
  ConstantBackoff,
  handleWhen,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
  type IPolicy,
} from 'cockatiel';
import type { Logger } from '../ops/logger.js';
import { errorMessage } from '../ops/error-message.js';
import type { RemoteJwksStats } from '../ops/metric-sources.js';
import { describeSkipped, parseRemoteJwks, RemoteJwksError, type RemoteKeySet } from '../tokens/remote-key-set.js';

/** A JWKS is a few KB (one with certificate chains, tens of KB): a larger answer is refused unread. */
export const MAX_JWKS_BYTES = 256 * 1024;
/** Per attempt, body included. */
export const JWKS_FETCH_TIMEOUT_MS = 5000;
/** A set no request asked for in this long is no longer refreshed (its route was removed); the next request wakes it. */
const IDLE_MS = 60 * 60 * 1000;
/** Consecutive failed attempts that open the breaker; it half-opens after the refetch cooldown. */
const BREAKER_FAILURES = 3;
/** The share of a set's cache lifetime after which it is fetched again, before it expires. */
const REFRESH_AT = 0.75;

export interface RemoteJwksOptions {
  /** The JWKS URL (https, or http for a loopback host). */
  uri: string;
  /** Bounds of the cache lifetime the answer's Cache-Control max-age asks for, in seconds. */
  minCacheSeconds: number;
  maxCacheSeconds: number;
  /** The least time between two fetches for a kid the set lacks, and the breaker's half-open delay, in seconds. */
  cooldownSeconds: number;
  /** How long past its cache lifetime the last good set is still used while fetches fail, in seconds. */
  maxStaleSeconds: number;
}

/** The provider could not answer (network, timeout, a status other than 200, an open breaker). */
class JwksUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JwksUnavailableError';
  }
}

export interface RemoteJwks {
  /**
   * The key set to verify with. Never waits when there is one, except on a set past its cache lifetime
   * that no fetch has failed to renew (a route idle for long): then up to `waitMs` for its fetch. Without
   * a set, up to `waitMs` for a fetch in flight. Undefined while no set was ever fetched, and once the
   * last good set is more than `maxStaleSeconds` past its cache lifetime (fetches kept failing).
   */
  keys(waitMs: number): Promise<RemoteKeySet | undefined>;
  /**
   * For a token whose kid the set lacks (or whose signature fails under it: the provider re-keyed): a
   * fetch at most once per cooldown, or the one in flight, waited on up to `waitMs`; the set after it.
   */
  refetch(waitMs: number): Promise<RemoteKeySet | undefined>;
  stats(): RemoteJwksStats;
  close(): void;
}

/** Every route's remote JWKS: one per distinct options, shared by the instances Kong starts for them (one per worker). */
export interface RemoteJwksRegistry {
  /** The JWKS of `opts`, its first fetch started when it is new. */
  forOptions(opts: RemoteJwksOptions): RemoteJwks;
  stats(): RemoteJwksStats[];
  close(): void;
}

export interface RemoteJwksDeps {
  log: Logger;
  nowMs: () => number;
}

/** Seconds the answer may be cached: Cache-Control max-age less Age; 0 for no-store or no-cache; undefined without max-age. */
export function cacheSecondsOf(cacheControl: string | null, age: string | null): number | undefined {
  if (cacheControl === null) return undefined;
  const directives = cacheControl
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const maxAge = directives.find((d) => /^max-age=\d+$/.test(d));
  if (maxAge === undefined) return undefined;
  const ageSeconds = age !== null && /^\d+$/.test(age) ? Number(age) : 0;
  return Math.max(0, Number(maxAge.slice('max-age='.length)) - ageSeconds);
}

/** The body as text, refused past MAX_JWKS_BYTES without reading further. */
async function boundedText(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_JWKS_BYTES) {
    await res.body?.cancel();
    throw new RemoteJwksError(`the answer is ${declared} bytes, more than ${MAX_JWKS_BYTES}`);
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of res.body ?? []) {
    bytes += (chunk as Uint8Array).byteLength;
    if (bytes > MAX_JWKS_BYTES) throw new RemoteJwksError(`the answer is more than ${MAX_JWKS_BYTES} bytes`);
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The URL without its query: what logs and metric labels name. */
export function jwksLabel(uri: string): string {
  const url = new URL(uri);
  return `${url.origin}${url.pathname}`;
}

/**
 * One remote JWKS, fetched through cockatiel (retry once, a breaker, a timeout per attempt), cached for
 * the answer's max-age within [minCacheSeconds, maxCacheSeconds], fetched again at 3/4 of that lifetime
 * in the background; one fetch at a time, whoever asks. A well-formed JWKS replaces the set even with no
 * usable key in it: that is how a provider withdraws a key. A failed fetch, and an answer that is not a
 * JWKS (not JSON, too large, no "keys" array), keep the last good set for at most maxStaleSeconds past
 * its lifetime; fetches are retried in the background, 1 s after the first failure and doubling up to
 * the cooldown.
 */
export function createRemoteJwks(deps: RemoteJwksDeps, opts: RemoteJwksOptions): RemoteJwks {
  const { log, nowMs } = deps;
  const label = jwksLabel(opts.uri);
  const cooldownMs = opts.cooldownSeconds * 1000;
  const maxStaleMs = opts.maxStaleSeconds * 1000;
  const isUnavailable = (err: unknown) => err instanceof JwksUnavailableError || err instanceof TaskCancelledError;
  const policy: IPolicy = wrap(
    retry(handleWhen(isUnavailable), { maxAttempts: 1, backoff: new ConstantBackoff(250) }),
    circuitBreaker(handleWhen(isUnavailable), { halfOpenAfter: cooldownMs, breaker: new ConsecutiveBreaker(BREAKER_FAILURES) }),
    timeout(JWKS_FETCH_TIMEOUT_MS, TimeoutStrategy.Aggressive),
  );

  let set: RemoteKeySet | undefined;
  /** The SHA-256 of the document the set came from: what tells a change, re-keying under a kid included. */
  let setHash: string | undefined;
  let expiresAtMs = 0;
  let inFlight: Promise<void> | undefined;
  let failures = 0;
  let lastFailure: string | undefined;
  /** Whether the line saying the last good set is too old to use was written for this outage. */
  let staleRefusalLogged = false;
  let lastRefetchAtMs = Number.NEGATIVE_INFINITY;
  let lastUsedMs = nowMs();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const fetches = { success: 0, no_usable_key: 0, unavailable: 0, invalid: 0 };
  /** The set while it may be used: within its lifetime, or past it by at most maxStaleSeconds. */
  const usable = () => (set !== undefined && nowMs() < expiresAtMs + maxStaleMs ? set : undefined);
  const servedWhileFailing = () =>
    !set
      ? 'no key set yet'
      : usable()
        ? `the last good set stays in use for at most ${opts.maxStaleSeconds} s past its cache lifetime`
        : 'the last good set is too old to use';

  const schedule = (delayMs: number) => {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      // A set nobody uses any more (its route is gone) is left alone until a request asks again.
      if (nowMs() - lastUsedMs <= IDLE_MS) void fetchNow();
    }, delayMs);
    timer.unref();
  };

  async function attempt(signal: AbortSignal): Promise<{ text: string; cacheSeconds: number | undefined }> {
    let res: Response;
    try {
      res = await fetch(opts.uri, { headers: { accept: 'application/jwk-set+json, application/json' }, redirect: 'error', signal });
    } catch (err) {
      throw new JwksUnavailableError(describeFetchError(err), { cause: err });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new JwksUnavailableError(`answered ${res.status}`);
    }
    try {
      const text = await boundedText(res);
      return { text, cacheSeconds: cacheSecondsOf(res.headers.get('cache-control'), res.headers.get('age')) };
    } catch (err) {
      if (err instanceof RemoteJwksError) throw err;
      throw new JwksUnavailableError(`the answer broke off: ${describeFetchError(err)}`, { cause: err });
    }
  }

  async function load(): Promise<void> {
    try {
      const answer = await policy.execute(({ signal }) => attempt(signal), new AbortController().signal);
      const next = await parseRemoteJwks(answer.text, set);
      const cacheSeconds = Math.min(opts.maxCacheSeconds, Math.max(opts.minCacheSeconds, answer.cacheSeconds ?? opts.minCacheSeconds));
      const hash = createHash('sha256').update(answer.text).digest('hex');
      const changed = hash !== setHash;
      set = next;
      setHash = hash;
      expiresAtMs = nowMs() + cacheSeconds * 1000;
      fetches[next.byKid.size > 0 ? 'success' : 'no_usable_key']++;
      const leftOut = next.skipped ? `, ${next.skipped} left out (${describeSkipped(next)})` : '';
      if ((changed || failures > 0) && next.byKid.size === 0)
        log.warn(
          { 'event.action': 'jwks-no-usable-key', 'url.original': label },
          `JWKS from ${label} has no usable signature key${leftOut}: its tokens are refused until it publishes one, cached ${cacheSeconds} s`,
        );
      else if (changed || failures > 0)
        log.info(
          { 'event.action': 'jwks-loaded', 'url.original': label, 'jwks.kids': [...next.byKid.keys()] },
          `JWKS loaded from ${label}: ${next.byKid.size} keys${leftOut}, cached ${cacheSeconds} s`,
        );
      failures = 0;
      lastFailure = undefined;
      staleRefusalLogged = false;
      schedule(Math.max(1000, cacheSeconds * 1000 * REFRESH_AT));
    } catch (err) {
      const invalid = err instanceof RemoteJwksError;
      fetches[invalid ? 'invalid' : 'unavailable']++;
      failures++;
      const reason =
        err instanceof BrokenCircuitError
          ? `the breaker is open after ${BREAKER_FAILURES} failed attempts`
          : err instanceof TaskCancelledError
            ? `timed out after ${JWKS_FETCH_TIMEOUT_MS} ms`
            : errorMessage(err);
      // One line per kind of failure in a row, not one per retry.
      if (reason !== lastFailure)
        log.warn(
          { 'event.action': 'jwks-fetch-failed', 'url.original': label, 'error.message': reason },
          `JWKS from ${label} not loaded, ${servedWhileFailing()}: ${reason}`,
        );
      if (set && !usable() && !staleRefusalLogged) {
        staleRefusalLogged = true;
        log.error(
          { 'event.action': 'jwks-stale-refused', 'url.original': label },
          `JWKS from ${label} not renewed for ${opts.maxStaleSeconds} s past its cache lifetime: its tokens are refused with 503 until a fetch succeeds`,
        );
      }
      lastFailure = reason;
      schedule(Math.min(cooldownMs, 1000 * 2 ** (failures - 1)));
    }
  }

  const fetchNow = (): Promise<void> => (inFlight ??= load().finally(() => (inFlight = undefined)));

  /** Waits for the fetch in flight, if any, at most `waitMs`. */
  async function awaitFetch(waitMs: number): Promise<void> {
    if (!inFlight) return;
    let timeoutId: NodeJS.Timeout | undefined;
    await Promise.race([inFlight, new Promise<void>((resolve) => (timeoutId = setTimeout(resolve, waitMs)))]);
    clearTimeout(timeoutId);
  }

  const markUsed = () => {
    const idle = nowMs() - lastUsedMs > IDLE_MS;
    lastUsedMs = nowMs();
    if (idle && !timer && !inFlight) void fetchNow();
  };

  void fetchNow();

  return {
    async keys(waitMs) {
      markUsed();
      if (set && (nowMs() < expiresAtMs || failures > 0)) return usable();
      // No set, or a set past its lifetime that nothing tried to renew: the fetch in flight, or a new one
      // when the set is due; without a set, failed fetches are retried on their own schedule, not per request.
      if (set && !inFlight) void fetchNow();
      await awaitFetch(waitMs);
      return usable();
    },

    async refetch(waitMs) {
      markUsed();
      if (!inFlight && nowMs() - lastRefetchAtMs >= cooldownMs) {
        lastRefetchAtMs = nowMs();
        void fetchNow();
      }
      await awaitFetch(waitMs);
      return usable();
    },

    stats: () => ({
      jwks: label,
      keys: usable()?.byKid.size ?? 0,
      stale: set !== undefined && nowMs() >= expiresAtMs,
      fetches: { ...fetches },
    }),

    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

function describeFetchError(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? errorMessage(err);
}

export function createRemoteJwksRegistry(deps: RemoteJwksDeps): RemoteJwksRegistry {
  const all = new Map<string, RemoteJwks>();
  return {
    forOptions(opts) {
      const id = JSON.stringify([opts.uri, opts.minCacheSeconds, opts.maxCacheSeconds, opts.cooldownSeconds, opts.maxStaleSeconds]);
      let jwks = all.get(id);
      if (!jwks) all.set(id, (jwks = createRemoteJwks(deps, opts)));
      return jwks;
    },
    stats: () => [...all.values()].map((jwks) => jwks.stats()),
    close() {
      for (const jwks of all.values()) jwks.close();
    },
  };
}
