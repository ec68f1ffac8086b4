import assert from 'node:assert/strict';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until `check` holds or the deadline passes, for what heals on its own schedule (Redis reconnects,
 * a cluster rejoining, a revocation reaching another sidecar); resolves with how long it took, in ms.
 */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const startedAt = Date.now();
  while (!(await check())) {
    if (Date.now() - startedAt > timeoutMs) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
  return Date.now() - startedAt;
}
