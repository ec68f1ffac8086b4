import { startRedis, type RedisServer } from '../spec/support/redis-server.js';
import type { Bench, ServerSpec } from './harness.js';

/** A scenario of our plugin server. */
function ours(
  name: string,
  plugin: string,
  request: ServerSpec['request'],
  config: ServerSpec['config'],
  extra: Partial<ServerSpec> = {},
): ServerSpec {
  return { name, kind: 'ours', plugin, request, config, ...extra };
}

/** Ours at the targets' level, one round each: tracing, the log line, cold consumers, the validator, Redis, the Admin API down. */
export async function scenarios(bench: Bench): Promise<void> {
  const level = bench.settings.barLevel;
  process.stderr.write('scenarios (ours)\n');
  const issuer = bench.config('issuer');
  const plain: ServerSpec[] = [
    ours('issue, warm (tracing 1 % sampled)', 'token-issuer', 'issue', issuer),
    ours('issue, tracing off', 'token-issuer', 'issue', issuer, { env: { TELEMETRY_MODE: 'off' } }),
    ours('issue, no per-token log line (EVENT_LOG_LEVEL=debug)', 'token-issuer', 'issue', issuer, { env: { EVENT_LOG_LEVEL: 'debug' } }),
    ours('issue, tracing every request (otlp)', 'token-issuer', 'issue', issuer, { sampledShare: 1 }),
    ours('issue, cold (new consumer per request)', 'token-issuer', 'issue-cold', issuer),
    ours('validate endpoint', 'token-validator', 'validate', bench.config('endpoint')),
    ours('gate', 'token-validator', 'gate', bench.config('gate')),
  ];
  for (const spec of plain) await bench.measure('scenario', spec, level, 0);
  let redis: RedisServer | undefined;
  try {
    redis = await startRedis();
  } catch (err) {
    process.stderr.write(`  issue with Redis: skipped, redis-server did not start (${(err as Error).message})\n`);
  }
  if (redis) {
    try {
      const spec = ours('issue, Redis on (rate limit + cache)', 'token-issuer', 'issue', bench.config('issuerRedis'), {
        env: { REDIS_URL: redis.url },
      });
      await bench.measure('scenario', spec, level, 0);
    } finally {
      await redis.stop();
    }
  }
  await adminApiDown(bench);
  await featureCosts(bench);
}

/**
 * What a feature adds to an event, in server CPU µs: the same server with and without it, interleaved
 * over rounds in one run (bench/targets.ts takes the median of the paired differences).
 */
export const FEATURE_PAIRS = [
  {
    feature: 'scopes in issued tokens',
    with: 'issue, consumer with scope tags (scope query)',
    without: 'issue, consumer without scope tags',
  },
  {
    feature: 'revocation at the gate',
    with: 'gate, revocation checked (Redis, 10,000 revoked tokens, 1,000 revoke-all marks)',
    without: 'gate, check_revocation off (same Redis)',
  },
] as const;

/** Revocations of other tokens and consumers, as Redis holds them for every sidecar (redis-revocation-keys.ts's layout). */
async function fillRevocations(redis: RedisServer): Promise<void> {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const prefix = 'kong-auth-sidecar:{revocations}:';
  const tokens: Array<string | number> = [];
  for (let n = 0; n < 10_000; n++) tokens.push(`${prefix}jti:bench-revoked-${n}`, exp);
  await redis.command('MSET', ...tokens);
  const marks: Array<string | number> = [];
  for (let n = 0; n < 1_000; n++) marks.push(`${prefix}before:33333333-3333-4333-8333-${String(n).padStart(12, '0')}`, Date.now());
  await redis.command('MSET', ...marks);
}

async function featureCosts(bench: Bench): Promise<void> {
  const level = bench.settings.barLevel;
  const issuer = bench.config('issuer');
  const [scopes, revocation] = FEATURE_PAIRS;
  const redis = await startRedis();
  try {
    await fillRevocations(redis);
    const env = { REDIS_URL: redis.url };
    const gate = bench.config('gate');
    const specs: Record<string, ServerSpec> = {
      [scopes.with]: ours(scopes.with, 'token-issuer', 'issue-scoped', issuer),
      [scopes.without]: ours(scopes.without, 'token-issuer', 'issue', issuer),
      [revocation.with]: ours(revocation.with, 'token-validator', 'gate', gate, { env }),
      [revocation.without]: ours(revocation.without, 'token-validator', 'gate', { ...gate, check_revocation: false }, { env }),
    };
    for (let round = 0; round < bench.settings.rounds; round++) {
      for (const pair of FEATURE_PAIRS) {
        for (const name of round % 2 === 0 ? [pair.with, pair.without] : [pair.without, pair.with])
          await bench.measure('feature-cost', specs[name] as ServerSpec, level, round);
      }
    }
  } finally {
    await redis.stop();
  }
}

/** Fresh copies expire after 1 s; then the Admin API goes down and every token comes from the stale copy. */
async function adminApiDown(bench: Bench): Promise<void> {
  const level = bench.settings.barLevel;
  const spec = ours('issue, Admin API down (stale copy)', 'token-issuer', 'issue', bench.config('issuer'), {
    env: { CACHE_TTL_SECONDS: '1' },
  });
  const running = await bench.start(spec);
  try {
    await bench.drive(running, spec, { concurrency: 1, seconds: 0.2, warmupSeconds: 0 });
    bench.admin.setFault({ kind: 'down' });
    await new Promise((r) => setTimeout(r, 1_200));
    const result = await bench.drive(running, spec, { concurrency: level });
    bench.rows.push({ group: 'scenario', server: spec.name, concurrency: level, round: 0, ...result });
    process.stderr.write(`  scenario | ${spec.name} | ${result.eventsPerSecond}/s | errors ${result.errors}\n`);
  } finally {
    bench.admin.setFault(undefined);
    await running.stop();
  }
}
