import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenIssuer } from '../../plugins/token-issuer.js';
import { tokenRevocation } from '../../plugins/token-revocation.js';
import { tokenValidator } from '../../plugins/token-validator.js';
import { failedPhaseAnswer } from '../../lib/access/problem.js';
import { loadConfig } from '../../lib/config.js';
import { createContext, type Context } from '../../lib/context.js';
import { pluginInfo } from '../../lib/kong/plugin.js';
import { createPluginServer } from '../../lib/kong/plugin-server.js';
import { listenRpcSocket } from '../../lib/kong/rpc-socket.js';
import { createLogger } from '../../lib/ops/logger.js';
import { VERSION } from '../../lib/version.js';
import { bundledPlugins } from '../../kong/stand-in/bundled-plugins.js';
import { startFakeAdminApi, type FakeAdminApi } from '../../kong/stand-in/fake-admin-api.js';
import { Gateway, routesFromKongYml, type GatewayRequest, type GatewayResult } from '../../kong/stand-in/gateway.js';
import { configValidator, TEST_ADMIN_TOKEN } from '../../kong/stand-in/kong-harness.js';
import { createKongStore, seedFromKongYml } from '../../kong/stand-in/kong-store.js';
import { parseKongYml } from '../../kong/stand-in/kong-yml.js';
import { MsgpackRpcClient } from '../../kong/stand-in/msgpack-rpc-client.js';
import { PluginBridge } from '../../kong/stand-in/plugin-bridge.js';

export interface InProcessKong {
  readonly ctx: Context;
  readonly adminApi: FakeAdminApi;
  request(request: GatewayRequest): Promise<GatewayResult>;
  stop(): Promise<void>;
}

/**
 * The stand-in Kong (router, bundled plugins, socket protocol, fake Admin API) in front of our plugins
 * served by this process, for the few tests that must reach into the process's context, such as a
 * revocation store that fails or a key directory read at once rather than at its next poll. Everything
 * else runs the real process (KongHarness).
 */
export async function startInProcessKong(
  kongYml: string,
  change: (ctx: Context) => void,
  env: Record<string, string> = {},
): Promise<InProcessKong> {
  const yml = parseKongYml(kongYml);
  const store = createKongStore();
  seedFromKongYml(store, yml);
  const adminApi = await startFakeAdminApi({ store, adminToken: TEST_ADMIN_TOKEN, mode: 'API_GATEWAY' });
  const config = loadConfig({ KONG_ADMIN_URL: adminApi.url, KONG_ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: 'silent', ...env });
  const log = createLogger({ level: 'silent', serviceVersion: VERSION });
  const ctx = await createContext(config, log);
  change(ctx);
  const plugins = [tokenIssuer(ctx), tokenValidator(ctx), tokenRevocation(ctx)];
  const server = createPluginServer(plugins, {
    log,
    failedPhaseAnswer,
    instanceTtlMs: config.pluginInstanceTtlSeconds * 1000,
    eventTtlMs: config.eventTtlSeconds * 1000,
    maxInstances: config.pluginMaxInstances,
  });
  const dir = mkdtempSync(join(tmpdir(), 'kas-in-process-'));
  const socket = await listenRpcSocket(join(dir, 'plugin.sock'), server.dispatch, log, { mode: 0o600 });
  const rpc = new MsgpackRpcClient(socket.path);
  const infos = Object.fromEntries(plugins.map((plugin) => [plugin.Name, pluginInfo(plugin)]));
  const priorities = Object.fromEntries(plugins.map((plugin) => [plugin.Name, plugin.Priority]));
  const gateway = new Gateway(routesFromKongYml(yml, configValidator(infos)), new PluginBridge(rpc), bundledPlugins(store), priorities);
  return {
    ctx,
    adminApi,
    request: (request) => gateway.handle(request),
    async stop() {
      rpc.close();
      await socket.close();
      server.close();
      await ctx.close();
      await adminApi.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
