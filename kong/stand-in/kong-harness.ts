import { bundledPlugins } from './bundled-plugins.js';
import { startFakeAdminApi, type FakeAdminApi } from './fake-admin-api.js';
import { Gateway, routesFromKongYml, type GatewayRequest, type GatewayResult, type GatewayRoute } from './gateway.js';
import { validatePluginConfig, validatePluginInfo } from './kong-schema.js';
import { createKongStore, seedFromKongYml, type KongStore } from './kong-store.js';
import { loadKongYml, parseKongYml, type KongPlugin, type KongYml } from './kong-yml.js';
import { MsgpackRpcClient } from './msgpack-rpc-client.js';
import { PluginBridge } from './plugin-bridge.js';
import { PluginServerProcess, runCli } from './plugin-server-process.js';

export const OUR_PLUGINS = ['token-issuer', 'token-validator', 'token-revocation'] as const;
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export type PluginInfo = { Name: string; Priority: number; [key: string]: unknown };

/** Kong's query_cmd, one entry per plugin: Kong 3.9+ keeps only the first element of what it prints. */
export async function queryPluginInfo(name: string): Promise<PluginInfo> {
  const { code, stdout, stderr } = await runCli(['--dump-plugin-info', name]);
  if (code !== 0) throw new Error(`query_cmd for ${name} exited ${code}: ${stderr}`);
  const parsed = JSON.parse(stdout) as unknown;
  const info = (Array.isArray(parsed) ? parsed : (parsed as { Plugins: unknown[] }).Plugins)[0] as PluginInfo;
  const problems = validatePluginInfo(info);
  if (problems.length > 0) throw new Error(`Kong would reject ${name}'s plugin info: ${problems.join('; ')}`);
  return info;
}

/** What Kong does with a declarative file: validate each external plugin's config against its schema, fill defaults. */
export function configValidator(infos: Record<string, PluginInfo>) {
  return (plugin: KongPlugin): Record<string, unknown> => {
    const info = infos[plugin.name];
    if (!info) return plugin.config ?? {};
    const checked = validatePluginConfig(info, plugin.config ?? {});
    if (!checked.ok) throw new Error(`schema violation (${plugin.name}: ${JSON.stringify(checked.errors)})`);
    return checked.config;
  };
}

export interface HarnessOptions {
  /** kong.yml text, a parsed file, or a path. */
  kongYml: string | KongYml;
  env?: Record<string, string>;
  adminToken?: string;
  pageSize?: number;
  /** KONNECT: the fake serves a control plane's /core-entities paths with Bearer auth. */
  mode?: 'API_GATEWAY' | 'KONNECT';
  /** A second Kong node: its own plugin server process, the same Admin API and consumers as `sharing`. */
  sharing?: KongHarness;
}

/**
 * Kong, as far as our plugin server can tell: the real plugin-server process, Kong's side of the
 * socket protocol, Kong's bundled plugins for the routes, and a fake Admin API on 127.0.0.1.
 */
export class KongHarness {
  /** Every access_token a response carried; none may ever appear in the process output. */
  readonly issuedTokens: string[] = [];
  /** Secrets a test introduced after the start (a rotation), checked like the seeded ones. */
  readonly secretsAlsoToHide: string[] = [];
  private rpc: MsgpackRpcClient;
  private bridge: PluginBridge;
  private gateway: Gateway;

  private constructor(
    readonly store: KongStore,
    readonly adminApi: FakeAdminApi,
    readonly server: PluginServerProcess,
    routes: GatewayRoute[],
    readonly infos: Record<string, PluginInfo>,
    readonly adminToken: string,
    private readonly ownsAdminApi: boolean,
  ) {
    this.rpc = new MsgpackRpcClient(server.socketPath);
    this.bridge = new PluginBridge(this.rpc);
    const priorities = Object.fromEntries(Object.values(infos).map((info) => [info.Name, info.Priority]));
    this.gateway = new Gateway(routes, this.bridge, bundledPlugins(store), priorities);
  }

  /** As Kong starts: plugin info from query_cmd, then the declarative config checked against it, then traffic. */
  static async start(opts: HarnessOptions): Promise<KongHarness> {
    const yml =
      typeof opts.kongYml !== 'string'
        ? opts.kongYml
        : opts.kongYml.includes('\n')
          ? parseKongYml(opts.kongYml)
          : loadKongYml(opts.kongYml);
    const infos: Record<string, PluginInfo> = {};
    for (const name of OUR_PLUGINS) infos[name] = await queryPluginInfo(name);
    const routes = routesFromKongYml(yml, configValidator(infos));
    const shared = opts.sharing;
    const store = shared?.store ?? createKongStore();
    if (!shared) seedFromKongYml(store, yml);
    const adminToken = shared?.adminToken ?? opts.adminToken ?? TEST_ADMIN_TOKEN;
    const adminApi =
      shared?.adminApi ?? (await startFakeAdminApi({ store, adminToken, pageSize: opts.pageSize, mode: opts.mode ?? 'API_GATEWAY' }));
    const server = new PluginServerProcess({
      KONG_MODE: adminApi.mode,
      KONG_ADMIN_URL: adminApi.url,
      KONG_ADMIN_TOKEN: adminToken,
      ...opts.env,
    });
    try {
      await server.start();
    } catch (err) {
      if (!shared) await adminApi.close();
      server.removePrefix();
      throw err;
    }
    const harness = new KongHarness(store, adminApi, server, routes, infos, adminToken, !shared);
    // Kong keeps only their digests, so the clear passwords are known from the file alone.
    for (const consumer of yml.consumers) harness.secretsAlsoToHide.push(...consumer.basicauth_credentials.map((c) => c.password));
    return harness;
  }

  get rpcCalls(): string[] {
    return this.bridge.calls;
  }

  /** The PDK methods our plugins called (kong.request.get_raw_body…), in order. */
  get pdkCalls(): string[] {
    return this.bridge.pdkCalls;
  }

  /** A direct RPC, as Kong would send it (GetStatus, a HandleEvent with a made-up id…). */
  call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return this.rpc.call<T>(method, ...params);
  }

  get rpcClient(): MsgpackRpcClient {
    return this.rpc;
  }

  async request(request: GatewayRequest): Promise<GatewayResult> {
    const response = await this.gateway.handle(request);
    const token = response.status === 200 && response.source === 'exit' ? tokenIn(response.body) : undefined;
    if (token) this.issuedTokens.push(token);
    return response;
  }

  /** Restart the plugin server process on the same socket; Kong keeps its cached instance ids. */
  async restartServer(): Promise<void> {
    await this.server.stop();
    await this.server.start();
  }

  /** Every string that must never leave the process: credential secrets, the admin token, issued tokens. */
  secrets(): string[] {
    const secrets = [this.adminToken, ...this.issuedTokens, ...this.secretsAlsoToHide];
    for (const consumer of this.store.consumers()) for (const cred of this.store.jwtCredentialsOf(consumer.id)) secrets.push(cred.secret);
    return secrets.filter((s) => s.length >= 8);
  }

  /**
   * Stops everything, then fails if any secret appeared in the process's stdout/stderr, or if any line
   * it printed is not an ECS JSON log line.
   */
  async stop(): Promise<void> {
    this.rpc.close();
    await this.server.stop();
    if (this.ownsAdminApi) await this.adminApi.close();
    this.server.removePrefix();
    const output = this.server.capturedOutput;
    const leaked = this.secrets().filter((secret) => output.includes(secret));
    if (leaked.length > 0) throw new Error(`the plugin server printed ${leaked.length} secret value(s)`);
    const problems = output
      .split('\n')
      .filter((line) => line !== '')
      .map(ecsProblem)
      .filter((p) => p !== undefined);
    if (problems.length > 0) throw new Error(`the plugin server printed lines that are not ECS JSON: ${problems.slice(0, 3).join('; ')}`);
  }
}

const ECS_FIELDS = ['@timestamp', 'log.level', 'message', 'service.name', 'service.version'];
const EVENT_ACTIONS = new Set(['token-issue', 'token-validate', 'token-revoke']);

function ecsProblem(line: string): string | undefined {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `not JSON: ${line.slice(0, 80)}`;
  }
  const missing = ECS_FIELDS.filter((field) => !(field in entry));
  if (EVENT_ACTIONS.has(String(entry['event.action']))) {
    for (const field of ['event.outcome', 'event.duration']) if (!(field in entry)) missing.push(field);
  }
  return missing.length > 0 ? `missing ${missing.join(', ')}: ${line.slice(0, 80)}` : undefined;
}

function tokenIn(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { access_token?: unknown };
    return typeof parsed.access_token === 'string' ? parsed.access_token : undefined;
  } catch {
    return undefined;
  }
}
