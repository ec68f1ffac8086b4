import {
  bulkhead,
  BulkheadRejectedError,
  BrokenCircuitError,
  circuitBreaker,
  CircuitState,
  ExponentialBackoff,
  handleWhen,
  retry,
  SamplingBreaker,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
  type IPolicy,
} from 'cockatiel';
import { context, propagation, SpanKind, trace, type Span, type Tracer } from '@opentelemetry/api';
import { isEntityName } from './entity-name.js';
import { errorMessage } from '../ops/error-message.js';
import type { Logger } from '../ops/logger.js';
import { inSpan } from '../ops/telemetry.js';
import type { BreakerState } from '../ops/metric-sources.js';

export const KONG_MODES = ['API_GATEWAY', 'KONNECT'] as const;
export type KongMode = (typeof KONG_MODES)[number];

export interface BreakerConfig {
  /** Failed share of calls in the window that opens the breaker, (0, 1). */
  failureRatio: number;
  windowMs: number;
  /** Calls needed in the window before the ratio counts. */
  minCalls: number;
  halfOpenAfterMs: number;
}

/** A Kong `jwt_secrets` credential as the Admin API returns it. */
export interface JwtCredential {
  id: string;
  key: string;
  secret: string;
  algorithm?: string | null;
  created_at: number;
  consumer: { id: string } | null;
}

/** Kong lists pages with `next` (a path); Konnect with `offset` (a token for the same path). */
interface Page<T> {
  data: T[];
  next?: string | null;
  offset?: string | null;
}

/** The Admin API could not answer (network, timeout, 5xx, 429, refused token). Never "not found". */
export class AdminApiUnavailableError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AdminApiUnavailableError';
  }
}

/** 409 on create: the generated key is taken. */
export class AdminApiConflictError extends Error {
  constructor() {
    super('credential key already exists');
    this.name = 'AdminApiConflictError';
  }
}

/** As many key lookups as KEY_LOOKUPS allows are in flight and queued: this one is refused without reaching the Admin API. */
export class AdminApiBusyError extends AdminApiUnavailableError {
  constructor() {
    super(`${KEY_LOOKUPS.inFlight} key lookups are in flight and ${KEY_LOOKUPS.queued} queued`);
    this.name = 'AdminApiBusyError';
  }
}

/** The breaker is open: calls are refused without reaching the Admin API until it half-opens. */
export class AdminApiCircuitOpenError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`the Admin API circuit breaker is open for another ${retryAfterSeconds} s`);
    this.name = 'AdminApiCircuitOpenError';
  }
}

/** A consumer as the Admin API returns it. */
export interface KongConsumer {
  id: string;
  username?: string | null;
  custom_id?: string | null;
  tags?: string[] | null;
}

/**
 * Every method answers undefined, without a request, for a name no Kong entity can have (see isEntityName),
 * and sends any other as one percent-encoded path segment.
 */
export interface AdminClient {
  /** All of a consumer's jwt credentials (every page), or undefined when Kong does not know the consumer. */
  listJwtCredentials(consumerId: string): Promise<JwtCredential[] | undefined>;
  /**
   * The jwt credential with this key (`GET /jwts/{key}`), or undefined. The key comes from a token anyone can
   * send, so these lookups have their own bounded lane (KEY_LOOKUPS): beyond it AdminApiBusyError.
   */
  jwtCredentialByKey(key: string): Promise<JwtCredential | undefined>;
  /** The consumer with this id, or undefined. */
  consumerById(consumerId: string): Promise<KongConsumer | undefined>;
  /** Creates a credential; undefined when the consumer does not exist. Not retried: a POST is not idempotent. */
  createJwtCredential(consumerId: string, body: { key: string; secret: string; algorithm: 'HS256' }): Promise<JwtCredential | undefined>;
  breakerState(): BreakerState;
  stats(): { calls: number; failures: number; rejectedByBreaker: number };
  /** A health probe (one page of one consumer), outside the retry and breaker policies so it neither trips nor waits on them. */
  probe(): Promise<{ healthy: boolean; responseTimeMs: number; error?: string }>;
}

export interface AdminClientOptions {
  mode: KongMode;
  baseUrl: string;
  token?: string;
  /** Per attempt. */
  timeoutMs: number;
  /** Retries after the first attempt (GET only). */
  retries: number;
  retryDelayMs: number;
  breaker: BreakerConfig;
  log: Logger;
  /** Every attempt, retries included; 404 and 409 are answers, so successes. */
  onAttempt?: (outcome: 'success' | 'failure', seconds: number) => void;
  /** Each attempt is a CLIENT span, and its traceparent goes to the Admin API. */
  tracer?: Tracer;
}

/** Kong pages lists; this bounds a misbehaving `next` chain. */
const MAX_PAGES = 100;

/**
 * Lookups by credential key at once, and waiting: a flood of made-up keys (each a 404) can neither load
 * the Admin API until its answers fail and the breaker opens for everyone, nor hold up consumer lookups.
 */
export const KEY_LOOKUPS = { inFlight: 16, queued: 256 } as const;

function isOutage(err: unknown): boolean {
  return err instanceof AdminApiUnavailableError || err instanceof TaskCancelledError;
}

/**
 * One client per process, guarded by cockatiel: retry( breaker( timeout( call ))) for GETs, so the
 * breaker counts every attempt, and breaker( timeout( call )) for POSTs.
 */
export function createAdminClient(opts: AdminClientOptions): AdminClient {
  const isKonnect = opts.mode === 'KONNECT';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers[isKonnect ? 'authorization' : 'kong-admin-token'] = isKonnect ? `Bearer ${opts.token}` : opts.token;
  const entities = isKonnect ? '/core-entities' : '';
  const counters = { calls: 0, failures: 0, rejectedByBreaker: 0 };

  // SamplingBreaker ignores a window with fewer than duration·minimumRps calls; an Admin API called only
  // on cache misses must still trip at CIRCUIT_BREAKER_MIN_CALLS calls per window.
  const breaker = circuitBreaker(handleWhen(isOutage), {
    halfOpenAfter: opts.breaker.halfOpenAfterMs,
    breaker: new SamplingBreaker({
      threshold: opts.breaker.failureRatio,
      duration: opts.breaker.windowMs,
      minimumRps: opts.breaker.minCalls / (opts.breaker.windowMs / 1000),
    }),
  });
  let openedAt = 0;
  breaker.onBreak(() => {
    openedAt = Date.now();
    opts.log.warn({ 'event.action': 'admin-api-breaker-open' }, `Admin API circuit breaker opened for ${opts.breaker.halfOpenAfterMs} ms`);
  });
  breaker.onReset(() => opts.log.info({ 'event.action': 'admin-api-breaker-closed' }, 'Admin API circuit breaker closed'));
  const perAttempt = timeout(opts.timeoutMs, TimeoutStrategy.Aggressive);
  perAttempt.onTimeout(() => counters.failures++);
  const retries = retry(handleWhen(isOutage), {
    maxAttempts: opts.retries,
    backoff: new ExponentialBackoff({ initialDelay: opts.retryDelayMs, maxDelay: opts.retryDelayMs * 2 ** opts.retries }),
  });
  const forGet: IPolicy = wrap(retries, breaker, perAttempt);
  const forPost: IPolicy = wrap(breaker, perAttempt);
  // Outermost: a lookup refused here never reaches the breaker.
  const forKeyLookup: IPolicy = wrap(bulkhead(KEY_LOOKUPS.inFlight, KEY_LOOKUPS.queued), forGet);

  const server = new URL(opts.baseUrl);
  const tracer = opts.tracer ?? trace.getTracer('kong-auth-sidecar');

  /** One try, body read included: cockatiel aborts `signal` once the policy returns. */
  async function attempt<T>(
    method: 'GET' | 'POST',
    path: string,
    template: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<T | undefined> {
    const startedAt = performance.now();
    try {
      const answer = await inSpan(tracer, `${method} ${template}`, SpanKind.CLIENT, (span) => {
        span.setAttributes({
          'http.request.method': method,
          'url.template': template,
          'server.address': server.hostname,
          'server.port': Number(server.port || (server.protocol === 'https:' ? 443 : 80)),
        });
        return attemptOnce<T>(method, path, body, signal, span);
      });
      opts.onAttempt?.('success', (performance.now() - startedAt) / 1000);
      return answer;
    } catch (err) {
      opts.onAttempt?.(err instanceof AdminApiConflictError ? 'success' : 'failure', (performance.now() - startedAt) / 1000);
      throw err;
    }
  }

  async function attemptOnce<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal,
    span: Span,
  ): Promise<T | undefined> {
    counters.calls++;
    const sent: Record<string, string> = body === undefined ? { ...headers } : { ...headers, 'content-type': 'application/json' };
    // The client span's traceparent (none when the attempt is not traced: its span context is invalid).
    propagation.inject(trace.setSpan(context.active(), span), sent);
    let res: Response;
    try {
      res = await fetch(opts.baseUrl + path, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      counters.failures++;
      throw new AdminApiUnavailableError(`${method} ${pathOnly(path)} failed: ${describeFetchError(err)}`, undefined, { cause: err });
    }
    span.setAttribute('http.response.status_code', res.status);
    if (res.status === 404 || res.status === 409) {
      await res.body?.cancel();
      if (res.status === 409) throw new AdminApiConflictError();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      counters.failures++;
      throw new AdminApiUnavailableError(`${method} ${pathOnly(path)} answered ${res.status}`, res.status);
    }
    try {
      return (await res.json()) as T;
    } catch (err) {
      counters.failures++;
      throw new AdminApiUnavailableError(`${method} ${pathOnly(path)}: the answer is not JSON`, res.status, { cause: err });
    }
  }

  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    template: string,
    body?: unknown,
    policy = method === 'GET' ? forGet : forPost,
  ): Promise<T | undefined> {
    try {
      // A parent signal per call: cockatiel's default is one signal shared by every call, and each call in
      // flight hangs a listener on it — past 10, Node prints a MaxListenersExceededWarning to stderr.
      return await policy.execute(({ signal }) => attempt<T>(method, path, template, body, signal), new AbortController().signal);
    } catch (err) {
      if (err instanceof BulkheadRejectedError) throw new AdminApiBusyError();
      if (err instanceof BrokenCircuitError) {
        counters.rejectedByBreaker++;
        throw new AdminApiCircuitOpenError(Math.max(1, Math.ceil((openedAt + opts.breaker.halfOpenAfterMs - Date.now()) / 1000)));
      }
      if (err instanceof TaskCancelledError) {
        throw new AdminApiUnavailableError(`${method} ${pathOnly(path)} timed out after ${opts.timeoutMs} ms`, undefined, { cause: err });
      }
      throw err;
    }
  }

  function nextPath(firstPath: string, page: Page<unknown>): string | null {
    if (typeof page.next === 'string' && page.next.startsWith('/')) {
      // Konnect's `next` is an absolute path below the control plane; Kong's is relative to the Admin API root.
      return isKonnect ? page.next.slice(page.next.indexOf(entities)) : page.next;
    }
    if (isKonnect && typeof page.offset === 'string' && page.offset !== '') return `${firstPath}?offset=${encodeURIComponent(page.offset)}`;
    return null;
  }

  return {
    listJwtCredentials(consumerId) {
      return named(consumerId, async (segment) => {
        const first = `${entities}/consumers/${segment}/jwt`;
        const all: JwtCredential[] = [];
        let path: string | null = first;
        for (let page = 0; path !== null; page++) {
          if (page === MAX_PAGES) throw new AdminApiUnavailableError(`jwt credential list exceeds ${MAX_PAGES} pages`);
          const body = await call<Page<JwtCredential>>('GET', path, `${entities}/consumers/{consumer}/jwt`);
          if (body === undefined) return undefined;
          if (!Array.isArray(body.data)) throw new AdminApiUnavailableError('jwt credential list has no data array');
          all.push(...body.data);
          path = nextPath(first, body);
        }
        return all;
      });
    },

    jwtCredentialByKey(key) {
      return named(key, (segment) =>
        call<JwtCredential>('GET', `${entities}/jwts/${segment}`, `${entities}/jwts/{key}`, undefined, forKeyLookup),
      );
    },

    consumerById(consumerId) {
      return named(consumerId, (segment) =>
        call<KongConsumer>('GET', `${entities}/consumers/${segment}`, `${entities}/consumers/{consumer}`),
      );
    },

    createJwtCredential(consumerId, body) {
      return named(consumerId, (segment) =>
        call<JwtCredential>('POST', `${entities}/consumers/${segment}/jwt`, `${entities}/consumers/{consumer}/jwt`, body),
      );
    },

    breakerState() {
      return breaker.state === CircuitState.Closed ? 'closed' : breaker.state === CircuitState.HalfOpen ? 'half-open' : 'open';
    },

    stats: () => ({ ...counters }),

    async probe() {
      const startedAt = performance.now();
      const elapsed = () => Math.round(performance.now() - startedAt);
      try {
        const res = await fetch(`${opts.baseUrl}${entities}/consumers?size=1`, { headers, signal: AbortSignal.timeout(opts.timeoutMs) });
        await res.body?.cancel();
        return res.ok
          ? { healthy: true, responseTimeMs: elapsed() }
          : { healthy: false, responseTimeMs: elapsed(), error: `answered ${res.status}` };
      } catch (err) {
        return { healthy: false, responseTimeMs: elapsed(), error: describeFetchError(err) };
      }
    },
  };
}

/** Asks about `name` as one encoded path segment; a name no entity can have has none, and nothing is sent. */
function named<T>(name: string, ask: (segment: string) => Promise<T | undefined>): Promise<T | undefined> {
  return isEntityName(name) ? ask(encodeURIComponent(name)) : Promise.resolve(undefined);
}

/** Query strings carry pagination offsets only, but keep log lines to the path. */
function pathOnly(path: string): string {
  return path.split('?')[0] ?? path;
}

function describeFetchError(err: unknown): string {
  if (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timed out';
  const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
  return cause?.code ?? errorMessage(err);
}
