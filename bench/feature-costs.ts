import { argv } from 'node:process';
import pino from 'pino';
import { tokenIssuer } from '../plugins/token-issuer.js';
import { tokenValidator } from '../plugins/token-validator.js';
import { failedPhaseAnswer } from '../lib/access/problem.js';
import { loadConfig } from '../lib/config.js';
import { createContext } from '../lib/context.js';
import { createPluginServer, type PluginServer } from '../lib/kong/plugin-server.js';
import { packr, unpackr } from '../lib/kong/rpc-socket.js';
import { createLogger } from '../lib/ops/logger.js';
import { VERSION } from '../lib/version.js';
import { RpcError } from '../kong/stand-in/msgpack-rpc-client.js';
import { PluginBridge, type PluginEntity } from '../kong/stand-in/plugin-bridge.js';
import { requestMaker, succeeded, type RequestKind } from './driver.js';
import { median, round2 } from './stats.js';

/**
 * What a feature adds to an event, in CPU µs, without the socket: Kong's bridge loop calls the plugin
 * server's dispatch directly, so each event is the server's own work (instance look-up, the handler, every
 * PDK step's bookkeeping, the MessagePack of every message) plus the stand-in's answers, and nothing of
 * the kernel or of a second process.
 * Both sides of a pair run in this one process, in alternating windows, so drift and the machine's other
 * load fall on both; the figure is the median of the paired differences. Through the socket the same
 * pairs differ by the same work, but the spread of a process's CPU per event between windows there is
 * ±20 µs on 2 shared cores, too wide to resolve 3 µs (bench/README.md).
 * Usage: feature-costs.js '<FeatureCostOptions as JSON>'; prints one JSON line.
 */
export interface FeatureSide {
  name: string;
  plugin: 'token-issuer' | 'token-validator';
  request: RequestKind;
  config: Record<string, unknown>;
}

export interface FeaturePair {
  feature: string;
  with: FeatureSide;
  without: FeatureSide;
}

export interface FeatureCostOptions {
  env: Record<string, string>;
  pairs: FeaturePair[];
  rounds: number;
  windowSeconds: number;
}

export interface FeatureCost {
  feature: string;
  with: string;
  without: string;
  /** CPU µs per event of each side, per round. */
  withCpu: number[];
  withoutCpu: number[];
  /** with − without, per round, and their median. */
  each: number[];
  median: number;
  failedEvents: number;
}

/**
 * Kong's RPC client in one process: each call goes straight to the server's dispatch, its params and
 * its answer through MessagePack as on the socket (both ends' codec work counted, so a message that grows
 * with a feature, such as a consumer with tags, costs what it costs).
 */
function directRpc(server: PluginServer) {
  const viaMsgpack = <T>(value: T): T => unpackr.unpack(packr.pack(value)) as T;
  return {
    call: <T>(method: string, ...params: unknown[]) =>
      new Promise<T>((resolve, reject) =>
        server.dispatch(method, viaMsgpack(params), (error, result) =>
          error === null ? resolve(viaMsgpack(result) as T) : reject(new RpcError(error)),
        ),
      ),
  };
}

interface Side {
  run(seconds: number): Promise<{ cpuUsPerEvent: number; failed: number }>;
}

function side(bridge: PluginBridge, spec: FeatureSide): Side {
  const entity: PluginEntity = { id: `bench-${spec.name}`, name: spec.plugin, config: spec.config, seq: 1, scope: {} };
  const makeRequest = requestMaker(spec.request, 0);
  let n = 0;
  return {
    async run(seconds) {
      let events = 0;
      let failed = 0;
      const cpuBefore = process.cpuUsage();
      const endAt = performance.now() + seconds * 1000;
      while (performance.now() < endAt) {
        for (let i = 0; i < 50; i++) {
          const req = makeRequest(n++);
          await bridge.handleEvent(entity, 'access', req);
          if (!succeeded(spec.request, req)) failed++;
        }
        events += 50;
        bridge.calls.length = 0;
        bridge.pdkCalls.length = 0;
        // Each event resolves in microtasks here: timers and Redis's replies get their turn, as on a socket.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const cpu = process.cpuUsage(cpuBefore);
      return { cpuUsPerEvent: (cpu.user + cpu.system) / events, failed };
    },
  };
}

async function main(opts: FeatureCostOptions): Promise<FeatureCost[]> {
  const config = loadConfig(opts.env);
  // Every event's log line is written, as in production, to a file nobody reads.
  const log = createLogger({
    level: config.logLevel,
    serviceVersion: VERSION,
    destination: pino.destination({ dest: '/dev/null', sync: false }),
  });
  const ctx = await createContext(config, log);
  const server = createPluginServer([tokenIssuer(ctx), tokenValidator(ctx)], {
    log,
    failedPhaseAnswer,
    instanceTtlMs: config.pluginInstanceTtlSeconds * 1000,
    eventTtlMs: config.eventTtlSeconds * 1000,
    maxInstances: config.pluginMaxInstances,
  });
  const bridge = new PluginBridge(directRpc(server));
  // With Redis, the gate checks revocations only once its in-memory list is complete.
  for (let waited = 0; !ctx.revocations.isCurrent(); waited += 50) {
    if (waited > 10_000) throw new Error('the revocation list did not load from Redis within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const costs: FeatureCost[] = [];
  for (const pair of opts.pairs) {
    const withSide = side(bridge, pair.with);
    const withoutSide = side(bridge, pair.without);
    // Warm-up: until V8 has optimized both sides' code, the first window read up to 5× the others.
    const warmupSeconds = Math.max(1, opts.windowSeconds * 2);
    await withSide.run(warmupSeconds);
    await withoutSide.run(warmupSeconds);
    const cost: FeatureCost = {
      feature: pair.feature,
      with: pair.with.name,
      without: pair.without.name,
      withCpu: [],
      withoutCpu: [],
      each: [],
      median: NaN,
      failedEvents: 0,
    };
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? [withSide, withoutSide] : [withoutSide, withSide];
      const [first, second] = [await (order[0] as Side).run(opts.windowSeconds), await (order[1] as Side).run(opts.windowSeconds)];
      const [withResult, withoutResult] = round % 2 === 0 ? [first, second] : [second, first];
      cost.withCpu.push(round2(withResult.cpuUsPerEvent));
      cost.withoutCpu.push(round2(withoutResult.cpuUsPerEvent));
      cost.each.push(round2(withResult.cpuUsPerEvent - withoutResult.cpuUsPerEvent));
      cost.failedEvents += withResult.failed + withoutResult.failed;
    }
    cost.median = round2(median(cost.each));
    costs.push(cost);
  }
  server.close();
  await ctx.close();
  return costs;
}

if (import.meta.url === `file://${argv[1]}`) {
  const costs = await main(JSON.parse(argv[2] as string) as FeatureCostOptions);
  process.stdout.write(`${JSON.stringify(costs)}\n`);
  // Redis's and the tracer's handles are closed; anything left must not keep the figures waiting.
  process.exit(0);
}
