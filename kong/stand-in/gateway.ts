import { randomUUID } from 'node:crypto';
import type { BundledPlugin } from './bundled-plugins.js';
import { errorBody, KongRaised } from './kong-pdk.js';
import { KongRequest, type KongResponse } from './kong-request.js';
import type { KongPlugin, KongYml } from './kong-yml.js';
import type { PdkFaults, PluginBridge, PluginEntity } from './plugin-bridge.js';

/** A route as Kong's router sees it, with the plugins that apply to it (route > service > global). */
export interface GatewayRoute {
  name: string;
  paths: string[];
  methods: string[] | undefined;
  serviceName: string;
  plugins: PluginEntity[];
}

export interface GatewayRequest {
  method?: string;
  /** Path with an optional query string. */
  path: string;
  headers?: Record<string, string | string[]>;
  /** The request body; Content-Length is set from it unless the request names one (or Transfer-Encoding). */
  body?: string | Uint8Array;
  /** PDK methods Kong should answer with StepError in this request. */
  pdkFaults?: PdkFaults;
}

export interface GatewayResult extends KongResponse {
  /** The headers the upstream received, when the request got that far. */
  upstreamHeaders?: Record<string, string[]>;
  /** Kong's error log for the request (fail-open errors land here). */
  kongLog: KongRequest['log'];
  /** The consumer in Kong's context after the access phase (kong.client.authenticate / auth plugins). */
  authenticatedConsumer: KongRequest['consumer'];
  authenticatedCredential: KongRequest['credential'];
  /** kong.ctx.shared after the access phase. */
  ctxShared: KongRequest['ctxShared'];
  json<T = Record<string, unknown>>(): T;
}

/** Build routes from a declarative file; `validate` is Kong's schema check + defaults for external plugins. */
export function routesFromKongYml(yml: KongYml, validate: (plugin: KongPlugin) => Record<string, unknown>): GatewayRoute[] {
  let seq = 0;
  const entity = (plugin: KongPlugin, scope: PluginEntity['scope'] = {}): PluginEntity => ({
    id: plugin.id ?? randomUUID(),
    name: plugin.name,
    config: validate(plugin),
    seq: ++seq,
    scope,
  });
  const globals = yml.plugins.filter((p) => p.enabled !== false).map((p) => entity(p));
  const routes: GatewayRoute[] = [];
  for (const service of yml.services) {
    const serviceName = service.name ?? service.id ?? 'service';
    const serviceId = service.id ?? randomUUID();
    const servicePlugins = service.plugins.filter((p) => p.enabled !== false).map((p) => entity(p, { service_id: serviceId }));
    for (const route of service.routes) {
      const name = route.name ?? route.id ?? `${serviceName}-route-${routes.length}`;
      const routeId = route.id ?? randomUUID();
      const routePlugins = route.plugins.filter((p) => p.enabled !== false).map((p) => entity(p, { route_id: routeId }));
      // The most specific entity of each plugin name wins (Kong's plugins iterator).
      const byName = new Map<string, PluginEntity>();
      for (const plugin of [...globals, ...servicePlugins, ...routePlugins]) byName.set(plugin.name, plugin);
      routes.push({ name, paths: route.paths ?? ['/'], methods: route.methods, serviceName, plugins: [...byName.values()] });
    }
  }
  return routes;
}

/**
 * Kong's request pipeline for the access phase: route match, plugins by descending priority, stop at
 * the first exit (delay_response), else proxy to the upstream (an echo that records what it got).
 */
export class Gateway {
  constructor(
    private readonly routes: GatewayRoute[],
    private readonly bridge: PluginBridge,
    private readonly bundled: Record<string, BundledPlugin>,
    private readonly externalPriorities: Record<string, number>,
  ) {}

  match(method: string, path: string): GatewayRoute | undefined {
    let best: { route: GatewayRoute; length: number } | undefined;
    for (const route of this.routes) {
      if (route.methods && !route.methods.includes(method)) continue;
      for (const prefix of route.paths) {
        if (path.startsWith(prefix) && (!best || prefix.length > best.length)) best = { route, length: prefix.length };
      }
    }
    return best?.route;
  }

  async handle(request: GatewayRequest): Promise<GatewayResult> {
    const req = KongRequest.fromUrl(request.method ?? 'GET', request.path, request.headers ?? {});
    if (request.body !== undefined) {
      req.body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
      if (req.header('content-length') === undefined && req.header('transfer-encoding') === undefined)
        req.setHeader('content-length', String(req.body.length));
    }
    const route = this.match(req.method, req.path);
    if (!route)
      return result(req, { status: 404, headers: jsonType(), body: '{"message":"no Route matched with those values"}', source: 'error' });
    const plugins = [...route.plugins].sort((a, b) => this.priorityOf(b.name) - this.priorityOf(a.name));
    try {
      for (const plugin of plugins) {
        const bundled = this.bundled[plugin.name];
        if (bundled) bundled.access(req, plugin.config);
        else await this.bridge.handleEvent(plugin, 'access', req, request.pdkFaults);
        if (req.response) return result(req, req.response);
      }
    } catch (err) {
      if (!(err instanceof KongRaised)) throw err;
      req.kongLog('err', err.message);
      // init.lua's access iterator: a raising handler becomes kong.response.error(500).
      return result(req, { status: 500, headers: jsonType(), body: errorBody(req, 'An unexpected error occurred'), source: 'error' });
    }
    const upstreamHeaders = Object.fromEntries(req.headers);
    const body = JSON.stringify({ upstream: route.serviceName, headers: upstreamHeaders });
    return { ...result(req, { status: 200, headers: jsonType(), body, source: 'upstream' }), upstreamHeaders };
  }

  private priorityOf(name: string): number {
    const priority = this.bundled[name]?.priority ?? this.externalPriorities[name];
    if (priority === undefined) throw new Error(`plugin ${name} is neither bundled in the harness nor served by the plugin server`);
    return priority;
  }
}

function jsonType(): Record<string, string> {
  return { 'content-type': 'application/json; charset=utf-8' };
}

function result(req: KongRequest, response: KongResponse): GatewayResult {
  const headers = { ...response.headers };
  // Kong 3.5+ returns its request id to the client on every response.
  headers['x-kong-request-id'] ??= req.kongRequestId || randomUUID();
  // nginx sends only the headers of a HEAD answer and of a 304: a body Kong was given is dropped.
  const body = req.method === 'HEAD' || response.status === 304 ? '' : response.body;
  return {
    ...response,
    body,
    headers,
    kongLog: req.log,
    authenticatedConsumer: req.consumer,
    authenticatedCredential: req.credential,
    ctxShared: req.ctxShared,
    json<T>() {
      return JSON.parse(body) as T;
    },
  };
}
