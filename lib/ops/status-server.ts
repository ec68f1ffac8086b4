import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

export const VIEWS = ['operational', 'infrastructure', 'telemetry', 'exports', 'config', 'full'] as const;
export type View = (typeof VIEWS)[number];

/** What the status port answers with; the process that owns the numbers builds it. */
export interface StatusViews {
  health(): Promise<{ status: number; body: Record<string, unknown> }>;
  ready(): { status: number; body: Record<string, unknown> };
  telemetry(): { healthy: boolean; telemetry: Record<string, unknown> };
  view(view: View): Record<string, unknown>;
  debugInfo(): Record<string, unknown>;
}

export interface StatusServer {
  readonly url: string;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, url: URL) => Promise<Reply> | Reply;
interface Reply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

const json = (status: number, body: unknown): Reply => ({ status, body: JSON.stringify(body), contentType: 'application/json' });

/** RFC 7807 for the status port's own errors (no AUTH code: these are not plugin answers). */
function problem(status: number, title: string, detail: string, instance: string, extensions?: Record<string, unknown>): Reply {
  const body = {
    type: 'about:blank',
    title,
    status,
    detail,
    instance,
    timestamp: new Date().toISOString(),
    ...(extensions ? { extensions } : {}),
  };
  return { status, body: JSON.stringify(body), contentType: 'application/problem+json' };
}

/** `/health`, `/health/ready`, `/health/telemetry`, `/metrics` (JSON views or Prometheus text), `/debug/info` outside production. */
export async function startStatusServer(opts: {
  host: string;
  port: number;
  views: StatusViews;
  registry: Registry;
  exposeDebug: boolean;
  log: Logger;
}): Promise<StatusServer> {
  const prometheus = async (): Promise<Reply> => ({
    status: 200,
    body: await opts.registry.metrics(),
    contentType: opts.registry.contentType,
  });
  const routes: Record<string, Handler> = {
    '/health': async () => {
      const { status, body } = await opts.views.health();
      return json(status, body);
    },
    '/health/ready': () => {
      const { status, body } = opts.views.ready();
      return json(status, body);
    },
    '/health/telemetry': () => json(200, opts.views.telemetry()),
    '/metrics': (req, url) => {
      if (url.searchParams.get('view') === null && wantsPrometheusText(req.headers.accept)) return prometheus();
      const view = url.searchParams.get('view') ?? 'operational';
      if (!(VIEWS as readonly string[]).includes(view)) {
        return problem(400, 'Invalid view parameter', `Valid views: ${VIEWS.join(', ')}`, url.pathname, { validViews: VIEWS });
      }
      return json(200, opts.views.view(view as View));
    },
    '/metrics/prometheus': prometheus,
  };
  if (opts.exposeDebug) routes['/debug/info'] = () => json(200, opts.views.debugInfo());

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://status.local');
    const route = routes[url.pathname];
    let reply: Reply;
    if (!route) reply = problem(404, 'Not Found', `No status resource at ${url.pathname}`, url.pathname);
    else if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply = { ...problem(405, 'Method Not Allowed', `${req.method} is not allowed here`, url.pathname), headers: { Allow: 'GET, HEAD' } };
    } else {
      try {
        reply = await route(req, url);
      } catch (err) {
        opts.log.error({ 'event.action': 'status-request-failed', error: err }, 'status request failed');
        reply = problem(500, 'Internal Server Error', 'The status request failed', url.pathname);
      }
    }
    res.writeHead(reply.status, { 'Content-Type': reply.contentType, 'Cache-Control': 'no-store', ...reply.headers });
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  }

  const server: Server = createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** Prometheus scrapers ask for text/plain (or OpenMetrics); browsers and curl | jq get JSON. */
function wantsPrometheusText(accept: string | undefined): boolean {
  return accept !== undefined && /text\/plain|application\/openmetrics-text/.test(accept) && !/application\/json/.test(accept);
}
