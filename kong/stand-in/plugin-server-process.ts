import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';

/** The project root, from dist/kong/stand-in/. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI_PATH = join(PROJECT_ROOT, 'dist', 'lib', 'cli.js');
/**
 * Node flags every deployment starts the server with (Dockerfile, systemd unit, kong.conf start_cmd —
 * spec/deploy/wiring.test.ts holds them to this list), and so do the harness and the benchmarks. V8's
 * young generation grows to 16 MB semi-spaces by default; 4 MB saved ~20 MB of RSS under load at no
 * measurable CPU cost (bench --variants).
 */
export const NODE_FLAGS = ['--max-semi-space-size=4'] as const;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The user and primary group a child process runs as (the test must be root); it gets no supplementary groups. */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Runs the CLI to completion, as Kong runs query_cmd; killed after timeoutMs (code null). */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliResult> {
  return runScript(CLI_PATH, args, env, timeoutMs);
}

/** Runs a Node script of this project to completion; killed after timeoutMs (code null). */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
  runAs?: RunAs,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...runAs,
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** PATH and nothing from the developer's shell that could change behaviour. */
function baseEnv(): Record<string, string> {
  // A free status port each: test files run in parallel.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'test', STATUS_PORT: '0', STATUS_HOST: '127.0.0.1' };
}

/** The real plugin server, spawned the way Kong's process manager or a sidecar container starts it. */
export class PluginServerProcess {
  readonly socketPath: string;
  private child: ChildProcess | undefined;
  private output = '';
  private exited: Promise<number | null> | undefined;
  /** Called with each chunk the process writes, e.g. to show logs live in `make dev`. */
  onOutput: ((text: string) => void) | undefined;
  /** A command the server is started under, as an operator would (e.g. `taskset -c 0`). */
  launcher: string[] = [];
  runAs: RunAs | undefined;

  constructor(
    private readonly env: Record<string, string>,
    readonly prefix: string = mkdtempSync(join(tmpdir(), 'kas-')),
    readonly sockName = 'js_pluginserver.sock',
  ) {
    this.socketPath = join(prefix, sockName);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything the process wrote to stdout and stderr, across restarts. */
  get capturedOutput(): string {
    return this.output;
  }

  /** The complete log lines so far (the server writes them in batches, so the last one may still be arriving). */
  logLines(): Record<string, unknown>[] {
    return this.output
      .slice(0, this.output.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The first log line matching `predicate`, waiting up to `timeoutMs` for it to be written. */
  async waitForLogLine(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs = 3_000,
  ): Promise<Record<string, unknown> | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.logLines().find(predicate);
      if (line || Date.now() > deadline) return line;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async start(extraArgs: string[] = []): Promise<void> {
    // With KONG_PREFIX in the environment the flag is left out, so the CLI's default is what is tested.
    const prefixArgs = this.env.KONG_PREFIX === undefined ? ['--kong-prefix', this.prefix] : [];
    const [command, ...args] = [
      ...this.launcher,
      process.execPath,
      ...NODE_FLAGS,
      CLI_PATH,
      ...prefixArgs,
      '--sock-name',
      this.sockName,
      ...extraArgs,
    ];
    const child = spawn(command as string, args, {
      env: { ...baseEnv(), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...this.runAs,
    });
    this.child = child;
    const capture = (d: Buffer) => {
      this.output += d.toString();
      this.onOutput?.(d.toString());
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await Promise.race([
      waitForSocket(this.socketPath),
      this.exited.then((code) => {
        throw new Error(`plugin server exited with ${code} before listening:\n${this.output}`);
      }),
    ]);
  }

  /** The status port's base URL, from the start-up log line (needs LOG_LEVEL info or lower). */
  async statusUrl(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const started = this.logLines()
        .filter((line) => line['event.action'] === 'started')
        .pop();
      if (typeof started?.['url.full'] === 'string') return started['url.full'];
      if (Date.now() > deadline) throw new Error(`no status URL in the log within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the exit code of a process that is stopping by itself. */
  exitCode(): Promise<number | null> {
    return this.exited ?? Promise.resolve(null);
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return this.child?.exitCode ?? null;
    this.child.kill(signal);
    return this.exited as Promise<number | null>;
  }

  /** Simulates a crash: no cleanup, the socket file stays behind. */
  async crash(): Promise<void> {
    await this.stop('SIGKILL');
  }

  removePrefix(): void {
    rmSync(this.prefix, { recursive: true, force: true });
  }
}

export async function waitForSocket(path: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(path);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`socket ${path} did not accept connections within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
