import { createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis, type RedisServer } from '../spec/support/redis-server.js';
import { JwksServer } from '../spec/support/jwks-server.js';
import { runPinnedJson, type Bench, type ServerSpec } from './harness.js';
import type { FeatureCost, FeatureCostOptions, FeaturePair, FeatureSide } from './feature-costs.js';
import { KEY_ALGS, type KeyAlg } from '../lib/tokens/key-manifest.js';
import { generatePrivateKeyPem } from '../lib/tokens/key-set.js';

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
 * What a feature adds to an event, in server CPU µs: the same server with and without it, in one run.
 * `bar`: the target in µs, where there is one. The query parameter has none: it is one more Kong call.
 */
export const FEATURE_PAIRS = [
  {
    feature: 'scopes in issued tokens',
    with: 'issue, consumer with scope tags (scopes from its tags)',
    without: 'issue, consumer without scope tags',
    bar: 3,
  },
  {
    feature: 'the scope query parameter (one kong.request.get_query call)',
    with: 'issue, consumer with scope tags asking scope=orders.read',
    without: 'issue, consumer with scope tags (scopes from its tags)',
    bar: undefined,
  },
  {
    feature: 'revocation at the gate',
    with: 'gate, revocation checked (Redis, 10,000 revoked tokens, 1,000 revoke-all marks)',
    without: 'gate, check_revocation off (same Redis)',
    bar: 3,
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

/** Each side of FEATURE_PAIRS: the plugin, the request and the config. */
function featureSides(bench: Bench): Record<string, FeatureSide> {
  const issuer = bench.config('issuer');
  const gate = bench.config('gate');
  const [scopes, query, revocation] = FEATURE_PAIRS;
  const fromTags = { ...issuer, scope_query_parameter: false };
  return {
    [scopes.with]: { name: scopes.with, plugin: 'token-issuer', request: 'issue-scoped', config: fromTags },
    [scopes.without]: { name: scopes.without, plugin: 'token-issuer', request: 'issue', config: fromTags },
    [query.with]: { name: query.with, plugin: 'token-issuer', request: 'issue-scoped', config: issuer },
    [revocation.with]: { name: revocation.with, plugin: 'token-validator', request: 'gate', config: gate },
    [revocation.without]: {
      name: revocation.without,
      plugin: 'token-validator',
      request: 'gate',
      config: { ...gate, check_revocation: false },
    },
  };
}

/**
 * The feature costs twice: in one process without the socket (feature-costs.ts: the targets' figures), and
 * through the socket, each side its own server at the targets' level, interleaved over the rounds (shown
 * beside them, since the spread between runs of one server there is wider than the targets).
 */
async function featureCosts(bench: Bench): Promise<void> {
  const level = bench.settings.barLevel;
  const sides = featureSides(bench);
  const redis = await startRedis();
  try {
    await fillRevocations(redis);
    const env = { REDIS_URL: redis.url };
    const pairs: FeaturePair[] = FEATURE_PAIRS.map((pair) => ({
      feature: pair.feature,
      with: sides[pair.with] as FeatureSide,
      without: sides[pair.without] as FeatureSide,
    }));
    const options: FeatureCostOptions = {
      env: bench.oursEnv(env),
      pairs,
      rounds: Math.max(bench.settings.rounds * 4, 4),
      windowSeconds: bench.settings.featureCostWindowSeconds,
    };
    bench.featureCosts = await runPinnedJson<FeatureCost[]>(0, 'feature-costs', [JSON.stringify(options)]);
    for (const cost of bench.featureCosts)
      process.stderr.write(`  feature cost (in process) | ${cost.feature} | median ${cost.median} µs | each ${cost.each.join(', ')}\n`);
    const specs = Object.fromEntries(
      Object.values(sides).map((s) => [s.name, ours(s.name, s.plugin, s.request, s.config, { env })]),
    ) as Record<string, ServerSpec>;
    // Each side once per round (one side is in two pairs), in the reverse order every other round.
    const names = Object.keys(specs);
    for (let round = 0; round < bench.settings.rounds; round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse())
        await bench.measure('feature-cost', specs[name] as ServerSpec, level, round);
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

/** The rows of the key set section, and the pair the ES256 bar is judged on (bench/targets.ts). */
export const KEY_SET_GATE = {
  hs256: 'gate HS256, a new token per event',
  es256: 'gate ES256, a new token per event',
} as const;
/** More tokens than the verifier remembers (10,000), so every event of a distinct-token row verifies a signature. */
const DISTINCT_TOKENS = 10_500;

/** A key directory with one current key per algorithm (kid = the alg), for the issuer and gate rows. */
function benchKeyDir(dir: string): string {
  const keys = join(dir, 'signing-keys');
  mkdirSync(keys, { recursive: true });
  for (const alg of KEY_ALGS) writeFileSync(join(keys, `${alg}.pem`), generatePrivateKeyPem(alg), { mode: 0o600 });
  const manifest = { keys: KEY_ALGS.map((alg) => ({ file: `${alg}.pem`, kid: alg, alg, state: 'current' })) };
  writeFileSync(join(keys, 'keys.json'), JSON.stringify(manifest));
  return keys;
}

/**
 * Issuing and gating with each algorithm, at the targets' level: the issuer signs with the consumer's
 * HS256 secret or the key set's current key; the gate verifies a new token per event (HS256 with jose,
 * the key set's with node:crypto by kid), and HS256 and ES256 once more with one token, which the verifier remembers,
 * as clients send theirs until it expires, beside HS256's. The HS256 and ES256 gates with a new token per
 * event run interleaved rounds for the bar.
 */
export async function keySetCosts(bench: Bench): Promise<void> {
  const level = bench.settings.barLevel;
  process.stderr.write('key set (ours)\n');
  const keyDir = benchKeyDir(bench.dir);
  const env = { SIGNING_KEYS_DIR: keyDir };
  const gate = bench.config('gateKeySet');
  const gateWith = (alg: 'HS256' | KeyAlg, name: string, distinct = DISTINCT_TOKENS) =>
    ours(name, 'token-validator', 'gate', gate, {
      env,
      gateTokens: { alg, distinct, keyFile: join(keyDir, `${alg}.pem`), kid: alg },
    });
  for (const alg of ['HS256', ...KEY_ALGS] as const)
    await bench.measure('key-set', ours(`issue ${alg}`, 'token-issuer', 'issue', bench.config(`issuer ${alg}`), { env }), level, 0);
  for (const alg of ['EdDSA', 'RS256'] as const)
    await bench.measure('key-set', gateWith(alg, `gate ${alg}, a new token per event`), level, 0);
  for (const alg of ['HS256', 'ES256'] as const)
    await bench.measure('key-set', gateWith(alg, `gate ${alg}, one token (remembered)`, 1), level, 0);
  const pair = [gateWith('HS256', KEY_SET_GATE.hs256), gateWith('ES256', KEY_SET_GATE.es256)];
  for (let round = 0; round < bench.settings.rounds; round++)
    for (const spec of round % 2 === 0 ? pair : [...pair].reverse()) await bench.measure('key-set', spec, level, round);
  await remoteJwksGate(bench, join(keyDir, 'ES256.pem'));
}

/**
 * The gate with `jwks_uri`: the same ES256 tokens (a new one per event), verified with the key a JWKS
 * server on 127.0.0.1 publishes (fetched when the instance starts, then from memory), beside the ES256
 * gate of the sidecar's own key set.
 */
async function remoteJwksGate(bench: Bench, keyFile: string): Promise<void> {
  const jwks = await JwksServer.start();
  try {
    const jwk = createPublicKey(readFileSync(keyFile)).export({ format: 'jwk' });
    jwks.answer = { kind: 'keys', keys: [{ ...jwk, kid: 'ES256', alg: 'ES256', use: 'sig' }], cacheControl: 'max-age=3600' };
    const spec = ours('remote-JWKS gate ES256, a new token per event', 'token-validator', 'gate', {
      ...bench.config('gateRemote'),
      jwks_uri: jwks.url,
    });
    await bench.measure(
      'key-set',
      { ...spec, gateTokens: { alg: 'ES256', distinct: DISTINCT_TOKENS, keyFile, kid: 'ES256' } },
      bench.settings.barLevel,
      0,
    );
  } finally {
    await jwks.down();
  }
}
