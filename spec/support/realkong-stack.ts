import { startFakeAdminApi, type FakeAdminApi } from '../../kong/stand-in/fake-admin-api.js';
import { createKongStore, seedFromKongYml, type KongStore } from '../../kong/stand-in/kong-store.js';
import type { KongYml } from '../../kong/stand-in/kong-yml.js';
import { PluginServerProcess } from '../../kong/stand-in/plugin-server-process.js';
import type { KillSwitchSocket } from './kill-switch-socket.js';
import { RealKong, type RealKongRoutes } from './realkong.js';

const ADMIN_TOKEN = 'realkong-admin-token-0123456789';

/** The consumers in a fake Admin API, our plugin server, and Kong's bridge on its socket (or on one `between` it and Kong). */
export class RealKongStack {
  private constructor(
    readonly store: KongStore,
    readonly adminApi: FakeAdminApi,
    readonly server: PluginServerProcess,
    readonly kong: RealKong,
    private readonly between?: KillSwitchSocket,
  ) {}

  static async start(
    consumers: KongYml,
    routes: RealKongRoutes,
    between?: (server: PluginServerProcess) => KillSwitchSocket,
    /** More of the plugin server's environment (SIGNING_KEYS_DIR…). */
    env: Record<string, string> = {},
    /** The realkong kit to run (a copy with kong/backstop.lua: realkong-backstop.ts). */
    kitDir?: string,
  ): Promise<RealKongStack> {
    const store = createKongStore();
    seedFromKongYml(store, consumers);
    const adminApi = await startFakeAdminApi({ store, adminToken: ADMIN_TOKEN });
    const server = new PluginServerProcess({ KONG_ADMIN_URL: adminApi.url, KONG_ADMIN_TOKEN: ADMIN_TOKEN, ...env });
    await server.start();
    const socket = between?.(server);
    await socket?.listen();
    return new RealKongStack(store, adminApi, server, await RealKong.start(socket?.path ?? server.socketPath, routes, kitDir), socket);
  }

  consumer(name: string) {
    return this.store.consumerByIdOrUsername(name)!;
  }

  async stop(): Promise<void> {
    await this.kong.stop();
    await this.between?.close();
    await this.server.stop();
    this.server.removePrefix();
    await this.adminApi.close();
  }
}
