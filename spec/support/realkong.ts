import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OUR_PLUGINS } from '../../kong/stand-in/kong-harness.js';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';

const run = promisify(execFile);

/**
 * Kong's own plugin-server Lua (kong/runloop/plugin_servers/*) under Debian's nginx + ngx_lua, in front
 * of our socket: the workspace's realkong kit, beside the repository (REALKONG_DIR overrides).
 * `make test` installs its Debian packages (`make realkong`).
 */
export const REALKONG_DIR = process.env.REALKONG_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'realkong');

export interface RealKongPlugin {
  name: string;
  config: Record<string, unknown>;
}

/** Path prefix → the plugins that route runs, in order. Paths under /gated also run kong.yml's backstop. */
export type RealKongRoutes = Record<string, RealKongPlugin[]>;

export interface RealKongResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The RPCs Kong made for the request (X-Realkong-Rpc; `!` marks a call that failed). */
  rpc: string[];
  /** What the echo upstream received, when the request got through. */
  upstream: { headers: Record<string, string | string[]> } | undefined;
  json<T = Record<string, unknown>>(): T;
}

export class RealKong {
  private constructor(
    readonly port: number,
    private readonly workDir: string,
    private readonly runSh: string,
  ) {}

  /** Starts nginx with our plugins' info files (dist/plugin-info) on `socketPath`, from the kit at `kitDir`. */
  static async start(socketPath: string, routes: RealKongRoutes, kitDir = REALKONG_DIR): Promise<RealKong> {
    const runSh = join(kitDir, 'run.sh');
    if (!existsSync(runSh)) throw new Error(`Kong's bridge kit is not at ${kitDir} (set REALKONG_DIR)`);
    const workDir = mkdtempSync(join(tmpdir(), 'kas-realkong-'));
    const pluginservers = Object.fromEntries(
      OUR_PLUGINS.map((name) => [
        name,
        { query_cmd: `cat ${join(PROJECT_ROOT, 'dist', 'plugin-info', `${name}.json`)}`, socket: socketPath },
      ]),
    );
    const routesFile = join(workDir, 'routes.json');
    writeFileSync(
      routesFile,
      JSON.stringify({ pluginservers, routes: Object.fromEntries(Object.entries(routes).map(([path, plugins]) => [path, { plugins }])) }),
    );
    const { stdout } = await run(runSh, ['start', socketPath, routesFile], {
      env: { ...process.env, REALKONG_PREFIX: join(workDir, 'nginx') },
    });
    return new RealKong(Number(stdout.trim()), workDir, runSh);
  }

  /** One HTTP request; headers go out in the order given (after Host, and Content-Length for a body), repeated names included. */
  request(path: string, headers: Array<[string, string]> = [], method = 'GET', body?: string | Uint8Array): Promise<RealKongResponse> {
    // Node adds no Host (nor Content-Length) header to a raw header list.
    const length: Array<[string, string]> = body === undefined ? [] : [['Content-Length', String(Buffer.byteLength(body))]];
    const raw = [['Host', `127.0.0.1:${this.port}`], ...length, ...headers].flat();
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: this.port, path, method, headers: raw, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const json = <T>() => JSON.parse(body) as T;
          const fromUpstream = res.headers['x-realkong-upstream'] === 'echo';
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            rpc: String(res.headers['x-realkong-rpc'] ?? '')
              .split(' ')
              .filter(Boolean),
            upstream: fromUpstream ? json<{ headers: Record<string, string | string[]> }>() : undefined,
            json,
          });
        });
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  /** nginx's error log: Kong's bridge logs each failed call there. */
  async log(): Promise<string> {
    return (await run(this.runSh, ['log', join(this.workDir, 'nginx')])).stdout;
  }

  async stop(): Promise<void> {
    await run(this.runSh, ['stop', join(this.workDir, 'nginx')]);
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
