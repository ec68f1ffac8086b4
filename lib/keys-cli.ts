import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { readDirectory } from './tokens/key-directory.js';
import {
  KEY_ALGS,
  MANIFEST_FILE,
  ManifestError,
  writeFileAtomically,
  writeManifest,
  type KeyAlg,
  type Manifest,
} from './tokens/key-manifest.js';
import { buildKeySet, generatePrivateKeyPem, KeySetError, RETIRED_KEY_KEPT_SECONDS } from './tokens/key-set.js';

export const KEYS_USAGE = `Usage: kong-auth-sidecar keys <command> [--dir DIR]
  generate --alg ES256|EdDSA|RS256      write a new private key file (0600) and add it as next; prints its kid
  promote --kid KID [--publish-ahead S] next → current; the previous current key of its alg → retired.
                                        Refused until the key has been published for S seconds (default 3600)
  retire --kid KID                      next or current → retired (kept until its last token expired)
  list [--json]                         kid, alg, state, published_at, retired_at and when a retired key is dropped
  --dir DIR                             the key directory (default $SIGNING_KEYS_DIR)
See docs/keys.md for the rotation runbook.`;

/** A refusal of the command: its message is the one line printed, exit 1. */
class KeysCommandError extends Error {}

interface KeysOptions {
  command: string;
  dir: string;
  alg?: KeyAlg;
  kid?: string;
  publishAheadSeconds: number;
  json: boolean;
}

const DEFAULT_PUBLISH_AHEAD_SECONDS = 3600;

function parseKeysArgs(argv: string[], env: NodeJS.ProcessEnv): KeysOptions {
  const [command, ...rest] = argv;
  if (command === undefined) throw new Error('a command is needed');
  if (!['generate', 'promote', 'retire', 'list'].includes(command)) throw new Error(`unknown command ${command}`);
  let dir = env.SIGNING_KEYS_DIR?.trim() || undefined;
  const opts: Omit<KeysOptions, 'dir'> = { command, publishAheadSeconds: DEFAULT_PUBLISH_AHEAD_SECONDS, json: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = () => {
      const v = eq === -1 ? rest[++i] : arg.slice(eq + 1);
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--dir') dir = value();
    else if (flag === '--kid' && command !== 'generate' && command !== 'list') opts.kid = value();
    else if (flag === '--alg' && command === 'generate') {
      const alg = value();
      if (!(KEY_ALGS as readonly string[]).includes(alg)) throw new Error(`--alg must be one of ${KEY_ALGS.join(', ')}`);
      opts.alg = alg as KeyAlg;
    } else if (flag === '--publish-ahead' && command === 'promote') {
      const seconds = value();
      if (!/^\d+$/.test(seconds)) throw new Error('--publish-ahead takes whole seconds');
      opts.publishAheadSeconds = Number(seconds);
    } else if (flag === '--json' && command === 'list') opts.json = true;
    else throw new Error(`unknown option ${arg} for keys ${command}`);
  }
  if (dir === undefined) throw new Error('--dir is needed (or SIGNING_KEYS_DIR)');
  if (command === 'generate' && opts.alg === undefined) throw new Error('keys generate needs --alg');
  if ((command === 'promote' || command === 'retire') && opts.kid === undefined) throw new Error(`keys ${command} needs --kid`);
  return { ...opts, dir };
}

/** The directory's content as the sidecar reads it, and its kids; refused unless it is a valid set (`current` not required). */
async function readKeys(dir: string, nowMs: number) {
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    if (!existsSync(dir)) throw new KeysCommandError(`${dir} is not a directory`);
    return { manifest: { keys: [] } as Manifest, files: new Map<string, Buffer>(), kids: [] as (string | undefined)[], current: 0 };
  }
  const content = await readDirectory(dir);
  const { kids, set } = await buildKeySet(content.manifest, content.files, { nowMs, requireCurrent: false });
  return { manifest: content.manifest, files: content.files, kids, current: set.current.size, set };
}

/** What the sidecar would do with the changed manifest: refused (not written) unless it is a valid set. */
async function checkAndWrite(dir: string, manifest: Manifest, files: Map<string, Buffer>, nowMs: number, requireCurrent: boolean) {
  await buildKeySet(manifest, files, { nowMs, requireCurrent });
  writeManifest(dir, manifest);
}

const isoAt = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function generate(opts: KeysOptions, nowMs: number, out: (line: string) => void): Promise<void> {
  const alg = opts.alg as KeyAlg;
  const { manifest, files } = await readKeys(opts.dir, nowMs);
  const pem = generatePrivateKeyPem(alg);
  const kid = await calculateJwkThumbprint(await exportJWK(createPublicKey(pem)), 'sha256');
  const file = `${alg.toLowerCase()}-${kid}.pem`;
  const next: Manifest = { keys: [...manifest.keys, { file, kid, alg, state: 'next', published_at: isoAt(nowMs) }] };
  await buildKeySet(next, new Map([...files, [file, Buffer.from(pem)]]), { nowMs, requireCurrent: false });
  // The key file first, the manifest last: a sidecar reading in between sees the old, complete manifest.
  writeFileAtomically(opts.dir, file, pem, 0o600);
  writeManifest(opts.dir, next);
  out(kid);
}

async function promote(opts: KeysOptions, nowMs: number, out: (line: string) => void): Promise<void> {
  const { manifest, files, kids, current } = await readKeys(opts.dir, nowMs);
  const index = kids.indexOf(opts.kid);
  const entry = manifest.keys[index];
  if (!entry) throw new KeysCommandError(`no key with kid ${JSON.stringify(opts.kid)} in ${MANIFEST_FILE}`);
  if (entry.state !== 'next') throw new KeysCommandError(`key ${opts.kid} is ${entry.state}; only a next key can be promoted`);
  // Before the first current key no token exists, and no verifier has a set to miss the key from.
  if (current > 0 && opts.publishAheadSeconds > 0) {
    const publishedMs = entry.published_at === undefined ? undefined : Date.parse(entry.published_at);
    if (publishedMs === undefined)
      throw new KeysCommandError(`key ${opts.kid} has no published_at; pass --publish-ahead 0 once every verifier has fetched it`);
    const waitSeconds = Math.ceil((publishedMs + opts.publishAheadSeconds * 1000 - nowMs) / 1000);
    if (waitSeconds > 0)
      throw new KeysCommandError(
        `key ${opts.kid} was published at ${entry.published_at}; wait ${waitSeconds} s more, until verifiers' cached JWKS hold it (--publish-ahead ${opts.publishAheadSeconds})`,
      );
  }
  const retiredAt = isoAt(nowMs);
  const keys = manifest.keys.map((other, i) => {
    if (i === index) return { ...other, state: 'current' as const };
    if (other.alg === entry.alg && other.state === 'current') {
      out(`${kids[i]} ${other.alg}: current → retired (dropped after ${isoAt(nowMs + RETIRED_KEY_KEPT_SECONDS * 1000)})`);
      return { ...other, state: 'retired' as const, retired_at: retiredAt };
    }
    return other;
  });
  await checkAndWrite(opts.dir, { keys }, files, nowMs, true);
  out(`${opts.kid} ${entry.alg}: next → current`);
}

async function retire(opts: KeysOptions, nowMs: number, out: (line: string) => void): Promise<void> {
  const { manifest, files, kids } = await readKeys(opts.dir, nowMs);
  const index = kids.indexOf(opts.kid);
  const entry = manifest.keys[index];
  if (!entry) throw new KeysCommandError(`no key with kid ${JSON.stringify(opts.kid)} in ${MANIFEST_FILE}`);
  if (entry.state === 'retired') throw new KeysCommandError(`key ${opts.kid} is already retired`);
  if (entry.state === 'current' && manifest.keys.every((other) => other === entry || other.state !== 'current'))
    throw new KeysCommandError(`key ${opts.kid} is the only current key; promote another key first`);
  const keys = manifest.keys.map((other, i) => (i === index ? { ...other, state: 'retired' as const, retired_at: isoAt(nowMs) } : other));
  await checkAndWrite(opts.dir, { keys }, files, nowMs, true);
  out(`${opts.kid} ${entry.alg}: ${entry.state} → retired (dropped after ${isoAt(nowMs + RETIRED_KEY_KEPT_SECONDS * 1000)})`);
}

async function list(opts: KeysOptions, nowMs: number, out: (line: string) => void): Promise<void> {
  const { manifest, kids } = await readKeys(opts.dir, nowMs);
  const rows = manifest.keys.map((entry, i) => {
    const dropAfterMs = entry.retired_at === undefined ? undefined : Date.parse(entry.retired_at) + RETIRED_KEY_KEPT_SECONDS * 1000;
    return {
      kid: kids[i] ?? '-',
      alg: entry.alg,
      state: dropAfterMs !== undefined && dropAfterMs <= nowMs ? 'dropped' : entry.state,
      published_at: entry.published_at ?? '-',
      retired_at: entry.retired_at ?? '-',
      dropped_after: dropAfterMs === undefined ? '-' : isoAt(dropAfterMs),
      file: entry.file,
    };
  });
  if (opts.json) return out(JSON.stringify(rows, null, 2));
  const header = {
    kid: 'KID',
    alg: 'ALG',
    state: 'STATE',
    published_at: 'PUBLISHED_AT',
    retired_at: 'RETIRED_AT',
    dropped_after: 'DROPPED_AFTER',
    file: 'FILE',
  };
  const table = [header, ...rows];
  const columns = Object.keys(header) as (keyof typeof header)[];
  const widths = columns.map((column) => Math.max(...table.map((row) => row[column].length)));
  for (const row of table)
    out(
      columns
        .map((column, i) => row[column].padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    );
}

const COMMANDS = { generate, promote, retire, list };

export interface KeysCommandIo {
  env: NodeJS.ProcessEnv;
  nowMs: number;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_IO = (): KeysCommandIo => ({
  env: process.env,
  nowMs: Date.now(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});

/** `kong-auth-sidecar keys …`: exit 0 done, 1 refused (the set would be invalid, an unknown kid…), 2 usage. */
export async function runKeysCommand(argv: string[], io: KeysCommandIo = PROCESS_IO()): Promise<number> {
  let opts: KeysOptions;
  try {
    opts = parseKeysArgs(argv, io.env);
  } catch (err) {
    io.stderr(`kong-auth-sidecar keys: ${(err as Error).message}\n${KEYS_USAGE}\n`);
    return 2;
  }
  try {
    await COMMANDS[opts.command as keyof typeof COMMANDS](opts, io.nowMs, (line) => io.stdout(line + '\n'));
    return 0;
  } catch (err) {
    // Our refusals, and the file system's (a read-only mount, a missing directory): one line, exit 1.
    if (err instanceof KeysCommandError || err instanceof KeySetError || err instanceof ManifestError || isSystemError(err)) {
      io.stderr(`kong-auth-sidecar keys ${opts.command}: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

const isSystemError = (err: unknown) => typeof (err as NodeJS.ErrnoException | undefined)?.code === 'string';
