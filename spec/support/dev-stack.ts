import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';

export interface DevStack {
  /** The dev gateway, http://127.0.0.1:<port>. */
  gateway: string;
  /** The status port's base URL. */
  status: string;
  child: ChildProcess;
  /** The stack's SIGNING_KEYS_DIR: empty at start, so the stack generates its key; removed on interrupt. */
  keysDir: string;
  /** Everything the stack printed so far. */
  output(): string;
  /** Ctrl-C, as a developer stops it; resolves to the exit code. */
  interrupt(): Promise<number | null>;
}

/** `make dev`'s script on free ports and a key directory of its own, resolved once it printed its banner. */
export async function startDevStack(): Promise<DevStack> {
  const keysDir = mkdtempSync(join(tmpdir(), 'dev-keys-'));
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/kong/stand-in/dev-stack.js')], {
    env: { PATH: process.env.PATH ?? '', DEV_PORT: '0', STATUS_PORT: '0', SIGNING_KEYS_DIR: keysDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('Ctrl-C stops everything.')) resolve();
    });
    child.once('exit', () => reject(new Error(`dev stack exited early:\n${output}`)));
  });
  const gateway = /dev gateway\s+(http:\/\/\S+)/.exec(output)?.[1];
  const status = /status port\s+(http:\/\/\S+)/.exec(output)?.[1];
  if (!gateway || !status) throw new Error(`the dev stack did not print its addresses:\n${output}`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve)).finally(() =>
    rmSync(keysDir, { recursive: true, force: true }),
  );
  return {
    gateway,
    status,
    child,
    keysDir,
    output: () => output,
    interrupt() {
      child.kill('SIGINT');
      return exited;
    },
  };
}

/**
 * Runs a documented `curl -s [-H 'name: value'] [-u user:password] [-d name=value]… URL` line as curl
 * would (-u as HTTP Basic, the -d values joined with & as a form POST), against `gateway` in place of
 * the URL's origin.
 */
export async function runCurlLine(line: string, gateway: string): Promise<Response> {
  const words = line.trim().split(/\s+/);
  if (words[0] !== 'curl' || words[1] !== '-s') throw new Error(`not a curl -s line: ${line}`);
  const headers: Record<string, string> = {};
  const form: string[] = [];
  let url: string | undefined;
  for (let i = 2; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '-u') headers.authorization = `Basic ${btoa(words[++i] ?? '')}`;
    else if (word === '-d') form.push(words[++i] ?? '');
    else if (word === '-H') {
      const header = /^'([^:]+):\s*(.*)'$/.exec(`${words[++i]} ${words[++i]}`);
      if (!header) throw new Error(`unreadable -H in: ${line}`);
      headers[(header[1] as string).toLowerCase()] = header[2] as string;
    } else url = word.replace(/^(https?:\/\/)?[^/]+/, gateway);
  }
  if (url === undefined) throw new Error(`no URL in: ${line}`);
  if (form.length === 0) return fetch(url, { headers });
  headers['content-type'] = 'application/x-www-form-urlencoded';
  return fetch(url, { method: 'POST', headers, body: form.join('&') });
}
