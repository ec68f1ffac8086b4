import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAdminApi, type FakeAdminApi } from '../../kong/stand-in/fake-admin-api.js';
import { createKongStore, seedFromKongYml, type KongStore } from '../../kong/stand-in/kong-store.js';
import type { KongYml } from '../../kong/stand-in/kong-yml.js';
import { PluginServerProcess } from '../../kong/stand-in/plugin-server-process.js';
import type { KillSwitchSocket } from './kill-switch-socket.js';
import { RealKong, type RealKongRoutes } from './realkong.js';
import { writeKeys } from './signing-keys.js';

const ADMIN_TOKEN = 'realkong-admin-token-0123456789';

/** The consumers in a fake Admin API, our plugin server, and Kong's bridge on its socket (or on one `between` it and Kong). */
export class RealKongStack {
  /** Run after the stack has stopped (a key directory to remove). */
  private cleanup?: () => void;

  private constructor(
    readonly store: KongStore,
    readonly adminApi: FakeAdminApi,
    readonly server: PluginServerProcess,
    readonly kong: RealKong,
    private readonly between?: KillSwitchSocket,
  ) {}

  /** start() with a key directory of `keys` as the plugin server's SIGNING_KEYS_DIR, removed at stop(). */
  static async startWithKeys(consumers: KongYml, routes: RealKongRoutes, keys: Parameters<typeof writeKeys>[1]): Promise<RealKongStack> {
    const dir = mkdtempSync(join(tmpdir(), 'realkong-keys-'));
    const removeDir = () => rmSync(dir, { recursive: true, force: true });
    try {
      writeKeys(dir, keys);
      const stack = await RealKongStack.start(consumers, routes, undefined, { SIGNING_KEYS_DIR: dir });
      stack.cleanup = removeDir;
      return stack;
    } catch (err) {
      removeDir();
      throw err;
    }
  }

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
    this.cleanup?.();
  }
}
