import { argv } from 'node:process';
import { KongRequest } from '../spec/support/kong-request.js';
import { MsgpackRpcClient } from '../spec/support/msgpack-rpc-client.js';
import { PluginBridge, type PluginEntity } from '../spec/support/plugin-bridge.js';

/**
 * A Kong-like load driver: the harness's own protocol code (MessagePack-RPC client, Kong's bridge
 * loop: no Step after kong.response.exit), C connections' worth of concurrent events, one RPC in
 * flight each. Prints one JSON line: events/s, latency percentiles, driver CPU. Bounded in time.
 * Usage: driver.js <socket> <plugin> <concurrency> <seconds> [config JSON] [rate/s]
 */
export interface DriverResult {
  events: number;
  errors: number;
  eventsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  driverCpuShare: number;
}

/** A request as Kong's key-auth leaves it: 17 realistic headers, the consumer in context. */
function kongRequest(): KongRequest {
  const req = new KongRequest('GET', '/tokens', '', {
    host: 'api.example.com', 'user-agent': 'bench/1.0', accept: 'application/json', 'accept-encoding': 'gzip, deflate',
    'accept-language': 'en-US,en;q=0.9', connection: 'keep-alive', 'x-forwarded-for': '10.0.0.1', 'x-forwarded-proto': 'https',
    'x-real-ip': '10.0.0.1', 'x-request-id': 'bench-request-id', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'x-consumer-id': '11111111-1111-4111-8111-111111111111', 'x-consumer-username': 'bench-consumer', 'x-consumer-custom-id': 'bench-custom',
    'x-credential-identifier': 'cred-1', 'cache-control': 'no-cache', cookie: 'session=abc',
  });
  req.authenticate({ id: '11111111-1111-4111-8111-111111111111', username: 'bench-consumer', custom_id: 'bench-custom' }, { id: 'cred-1' });
  return req;
}

export async function drive(socket: string, plugin: string, concurrency: number, seconds: number, config: Record<string, unknown> = {}, ratePerSecond?: number): Promise<DriverResult> {
  const rpc = new MsgpackRpcClient(socket);
  const bridge = new PluginBridge(rpc);
  const entity: PluginEntity = { id: `bench-${plugin}`, name: plugin, config, seq: 1, scope: {} };
  const latencies: number[] = [];
  let errors = 0;
  const one = async () => {
    const req = kongRequest();
    const started = performance.now();
    await bridge.handleEvent(entity, 'access', req);
    latencies.push(performance.now() - started);
    if (req.response?.status !== 200 || req.log.length > 0) errors++;
  };
  bridge.calls.length = 0;
  await one(); // starts the instance
  latencies.length = 0;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const endAt = startedAt + seconds * 1000;
  const interval = ratePerSecond ? (1000 * concurrency) / ratePerSecond : 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let next = startedAt + (interval * worker) / concurrency;
      while (performance.now() < endAt) {
        if (interval > 0) {
          const wait = next - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          next += interval;
        }
        await one();
        bridge.calls.length = 0; // the bridge records calls for tests; a long run must not keep them
      }
    }),
  );
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  rpc.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0).toFixed(3));
  return {
    events: latencies.length,
    errors,
    eventsPerSecond: Math.round((latencies.length / elapsedMs) * 1000),
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    p99Ms: at(0.99),
    driverCpuShare: Number(((cpu.user + cpu.system) / 1000 / elapsedMs).toFixed(2)),
  };
}

if (import.meta.url === `file://${argv[1]}`) {
  const [socket, plugin, concurrency, seconds, config, rate] = argv.slice(2);
  const result = await drive(socket as string, plugin as string, Number(concurrency), Number(seconds), JSON.parse(config ?? '{}') as Record<string, unknown>, rate ? Number(rate) : undefined);
  process.stdout.write(JSON.stringify(result) + '\n');
}
