import { errorMessage } from './error-message.js';

export interface ProbeResult {
  healthy: boolean;
  responseTimeMs: number;
  error?: string;
}

/**
 * Reuses a probe's result for `ttlMs` and shares one probe among concurrent callers, so any number of
 * /health scrapes costs at most one Admin API or Redis round trip per `ttlMs`.
 */
export function cachedProbe(probe: () => Promise<ProbeResult>, ttlMs: number, now: () => number = Date.now): () => Promise<ProbeResult> {
  let last: { at: number; result: ProbeResult } | undefined;
  let pending: Promise<ProbeResult> | undefined;
  return () => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.result);
    pending ??= probe()
      .catch((err: unknown): ProbeResult => ({ healthy: false, responseTimeMs: 0, error: errorMessage(err) }))
      .then((result) => {
        last = { at: now(), result };
        pending = undefined;
        return result;
      });
    return pending;
  };
}
