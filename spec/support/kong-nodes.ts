import { KongHarness } from '../../kong/stand-in/kong-harness.js';

type After = { after(fn: () => Promise<void> | void): void };

/**
 * Kong nodes as a cluster runs them: each its own plugin-server process, all on one Admin API and one
 * Redis. Each is stopped after the test.
 */
export async function startKongNodes(
  t: After,
  opts: { count: number; kongYml: string; redisUrl: string; env?: Record<string, string> },
): Promise<KongHarness[]> {
  const env = { REDIS_URL: opts.redisUrl, REDIS_COMMAND_TIMEOUT_MS: '200', ...opts.env };
  const first = await KongHarness.start({ kongYml: opts.kongYml, env });
  t.after(() => first.stop());
  const nodes = [first];
  for (let i = 1; i < opts.count; i++) {
    const node = await KongHarness.start({ kongYml: opts.kongYml, env, sharing: first });
    // Registered later, run earlier: every node stops before the first, which owns the Admin API.
    t.after(() => node.stop());
    nodes.push(node);
  }
  return nodes;
}
