import { startRedis, type RedisServer } from '../spec/support/redis-server.js';
import type { Bench, ServerSpec } from './harness.js';

/** Ours at the targets' level, one round each: tracing, the log line, cold consumers, the validator, Redis, the Admin API down. */
export async function scenarios(bench: Bench): Promise<void> {
  const level = bench.settings.barLevel;
  process.stderr.write('scenarios (ours)\n');
  const issuer = bench.config('issuer');
  await bench.measure(
    'scenario',
    { name: 'issue, warm (tracing 1 % sampled)', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: issuer },
    level,
    0,
  );
  await bench.measure(
    'scenario',
    { name: 'issue, tracing off', kind: 'ours', plugin: 'token-issuer', request: 'issue', config: issuer, env: { TELEMETRY_MODE: 'off' } },
    level,
    0,
  );
  await bench.measure(
    'scenario',
    {
      name: 'issue, no per-token log line (EVENT_LOG_LEVEL=debug)',
      kind: 'ours',
      plugin: 'token-issuer',
      request: 'issue',
      config: issuer,
      env: { EVENT_LOG_LEVEL: 'debug' },
    },
    level,
    0,
  );
  await bench.measure(
    'scenario',
    {
      name: 'issue, tracing every request (otlp)',
      kind: 'ours',
      plugin: 'token-issuer',
      request: 'issue',
      config: issuer,
      sampledShare: 1,
    },
    level,
    0,
  );
  await bench.measure(
    'scenario',
    { name: 'issue, cold (new consumer per request)', kind: 'ours', plugin: 'token-issuer', request: 'issue-cold', config: issuer },
    level,
    0,
  );
  await bench.measure(
    'scenario',
    { name: 'validate endpoint', kind: 'ours', plugin: 'token-validator', request: 'validate', config: bench.config('endpoint') },
    level,
    0,
  );
  await bench.measure(
    'scenario',
    { name: 'gate', kind: 'ours', plugin: 'token-validator', request: 'gate', config: bench.config('gate') },
    level,
    0,
  );
  let redis: RedisServer | undefined;
  try {
    redis = await startRedis();
  } catch (err) {
    process.stderr.write(`  issue with Redis: skipped, redis-server did not start (${(err as Error).message})\n`);
  }
  if (redis) {
    try {
      await bench.measure(
        'scenario',
        {
          name: 'issue, Redis on (rate limit + cache)',
          kind: 'ours',
          plugin: 'token-issuer',
          request: 'issue',
          config: bench.config('issuerRedis'),
          env: { REDIS_URL: redis.url },
        },
        level,
        0,
      );
    } finally {
      await redis.stop();
    }
  }
  await adminApiDown(bench);
}

/** Fresh copies expire after 1 s; then the Admin API goes down and every token comes from the stale copy. */
async function adminApiDown(bench: Bench): Promise<void> {
  const level = bench.settings.barLevel;
  const spec: ServerSpec = {
    name: 'issue, Admin API down (stale copy)',
    kind: 'ours',
    plugin: 'token-issuer',
    request: 'issue',
    config: bench.config('issuer'),
    env: { CACHE_TTL_SECONDS: '1' },
  };
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
