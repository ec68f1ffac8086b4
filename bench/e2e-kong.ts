import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../kong/stand-in/plugin-server-process.js';
import { REALKONG_DIR } from '../spec/support/realkong.js';
import { pin } from './harness.js';

const run = promisify(execFile);
const BASELINES = join(PROJECT_ROOT, 'bench', 'baselines');

/** A plugin route of Kong's bridge: the plugins it runs (paths under /gated also run kong.yml's backstop). */
export type KongRoutes = Record<string, Array<{ name: string; config: Record<string, unknown> }>>;

export interface KongSetup {
  routes: KongRoutes;
  /** Plugin name → the socket Kong's bridge connects to for it, and a query_cmd for its info (else a default one). */
  pluginservers: Record<string, { socket: string; query_cmd?: string }>;
  /** The in-process Lua gate (bench/baselines/lua-gate.lua) at this path. */
  luaGatePath: string;
  /** This path proxied to the HTTP token service on 127.0.0.1:<port>. */
  httpIssuer: { path: string; port: number };
  /** The upstream of every other proxied route, on 127.0.0.1 (instead of the kit's echo inside nginx's worker). */
  echoPort: number;
  /** The realkong kit to run (a copy with kong/backstop.lua under BACKSTOP_PREFIX); the shared kit by default. */
  kitDir?: string;
}

/** The parent pid of a process, from /proc/<pid>/stat. */
function parentOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  } catch {
    return undefined;
  }
}

const childrenOf = (pid: number): number[] =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => parentOf(child) === pid);

/**
 * Kong's own plugin-server bridge (the realkong kit: Kong's Lua under Debian's nginx + ngx_lua, one worker)
 * pinned to core 1, with the kit's nginx.conf plus two locations for the anchors: the in-process Lua gate,
 * and a route proxied to the HTTP token service. The kit's upstream (an echo in nginx's own worker) is
 * replaced by one on 127.0.0.1, out of the worker whose CPU is measured. Both also run the kit's runloop (route match, the test
 * consumer hook), as every plugin route does, so that only the plugin's work differs between routes.
 */
export class BenchKong {
  private constructor(
    readonly port: number,
    readonly workerPid: number,
    private readonly dir: string,
    private readonly runSh: string,
  ) {}

  static async start(setup: KongSetup): Promise<BenchKong> {
    const dir = mkdtempSync(join(tmpdir(), 'kas-bench-kong-'));
    const prefix = join(dir, 'nginx');
    const routes = {
      pluginservers: setup.pluginservers,
      routes: {
        ...Object.fromEntries(Object.entries(setup.routes).map(([path, plugins]) => [path, { plugins }])),
        [setup.luaGatePath]: { plugins: [] },
        [setup.httpIssuer.path]: { plugins: [] },
      },
    };
    writeFileSync(join(dir, 'routes.json'), JSON.stringify(routes));
    const runSh = join(setup.kitDir ?? REALKONG_DIR, 'run.sh');
    const [command, ...args] = [...pin(1), runSh, 'start', join(dir, 'unused.sock'), join(dir, 'routes.json')];
    const { stdout } = await run(command as string, args, { env: { ...process.env, REALKONG_PREFIX: prefix } });
    const port = Number(stdout.trim());
    const conf = join(prefix, 'nginx.conf');
    const master = Number(readFileSync(join(prefix, 'nginx.pid'), 'utf8'));
    const [oldWorker] = childrenOf(master);
    writeFileSync(conf, withAnchors(readFileSync(conf, 'utf8'), setup));
    await run(runSh, ['reload', prefix]);
    const kong = new BenchKong(port, await newWorker(master, oldWorker), dir, runSh);
    const ping = await fetch(`http://127.0.0.1:${port}/__realkong/ping`);
    if (!ping.ok) throw new Error(`Kong's bridge did not come back after its reload: ${await kong.log()}`);
    return kong;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  log(): string {
    return readFileSync(join(this.dir, 'nginx', 'logs', 'error.log'), 'utf8');
  }

  async stop(): Promise<void> {
    await run(this.runSh, ['stop', join(this.dir, 'nginx')]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The worker nginx started on its reload: the one child of the master that is not `old`, once `old` has gone. */
async function newWorker(master: number, old: number | undefined): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const children = childrenOf(master);
    if (children.length === 1 && children[0] !== old) return children[0] as number;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('nginx did not replace its worker on reload');
}

/** The kit's nginx.conf with bench/baselines on the Lua path, the upstreams on 127.0.0.1, and the anchors' locations. */
function withAnchors(conf: string, setup: KongSetup): string {
  const locations = `
        location ${setup.luaGatePath} {
            set $upstream_host $http_host;
            access_by_lua_block { require("runloop").access() require("lua-gate")() }
            header_filter_by_lua_block { require("runloop").header_filter() }
            proxy_http_version 1.1;
            proxy_set_header Host $upstream_host;
            proxy_set_header Connection "";
            proxy_pass http://realkong_echo;
        }
        location ${setup.httpIssuer.path} {
            access_by_lua_block { require("runloop").access() }
            header_filter_by_lua_block { require("runloop").header_filter() }
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://bench_http_issuer;
        }
`;
  const upstream = `    upstream bench_http_issuer {\n        server 127.0.0.1:${setup.httpIssuer.port};\n        keepalive 64;\n    }\n\n`;
  const patched = conf
    .replace("lua_package_path  '", `lua_package_path  '${BASELINES}/?.lua;`)
    .replace('    server {\n', `${upstream}    server {\n`)
    .replace(
      /(upstream realkong_echo \{\s*server )unix:[^;]+;(\s*keepalive )\d+;/,
      (_, server: string, keepalive: string) => `${server}127.0.0.1:${setup.echoPort};${keepalive}64;`,
    )
    .replace(/(location = \/__realkong\/ping .*\n)/, `$1${locations}`);
  if (
    !patched.includes('bench_http_issuer;') ||
    !patched.includes(`${BASELINES}/?.lua`) ||
    !patched.includes(`127.0.0.1:${setup.echoPort};`)
  )
    throw new Error("the realkong kit's nginx.conf has changed: the bench cannot add its anchors' locations");
  return patched;
}
