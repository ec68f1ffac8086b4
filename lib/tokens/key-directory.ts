import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../ops/logger.js';
import type { SigningKeyStats } from '../ops/metric-sources.js';
import { jwksOf, type JwksDocument } from './jwks.js';
import { MANIFEST_FILE, ManifestError, parseManifest, type Manifest } from './key-manifest.js';
import { buildKeySet, KeySetError, withoutDropped, type KeySet, type ParsedKeys } from './key-set.js';

/** A good key set and its JWKS, replaced together. */
export interface LoadedKeys {
  readonly set: KeySet;
  readonly jwks: JwksDocument;
}

export interface KeyDirectory {
  /** The last good set; undefined until the directory has held one. */
  keys(): LoadedKeys | undefined;
  /** Reads the directory now (the poll does so every pollMs); one read at a time. */
  refresh(): Promise<void>;
  stats(): SigningKeyStats;
  /** Stops the poll. */
  close(): void;
}

export interface KeyDirectoryOptions {
  dir: string;
  /** How often the manifest and key files are read again, in ms. */
  pollMs: number;
}

export interface DirectoryContent {
  manifest: Manifest;
  files: Map<string, Buffer>;
  /** The SHA-256 of the manifest and every file it names: what tells a change. */
  fingerprint: string;
}

/**
 * Reads by content, never by event or mtime: a Kubernetes Secret mount changes by swapping its `..data`
 * symlink, which fs.watch misses and which can keep mtimes, while reading through the symlink sees the
 * new files at once. A handful of small files every few seconds costs nothing.
 */
export async function readDirectory(dir: string): Promise<DirectoryContent> {
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(join(dir, MANIFEST_FILE));
  } catch (err) {
    throw new ManifestError(`${join(dir, MANIFEST_FILE)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const fingerprint = createHash('sha256').update(manifestBytes);
  const manifest = parseManifest(manifestBytes.toString('utf8'));
  const files = new Map<string, Buffer>();
  for (const { file } of manifest.keys) {
    // A missing or unreadable file is left out; the key set names it if it is still needed.
    const bytes = await readFile(join(dir, file)).catch(() => undefined);
    fingerprint.update(`\0${file}\0${bytes ? createHash('sha256').update(bytes).digest('hex') : '-'}`);
    if (bytes) files.set(file, bytes);
  }
  return { manifest, files, fingerprint: fingerprint.digest('hex') };
}

function countByState(set: KeySet): SigningKeyStats['keys'] {
  const keys = { next: 0, current: 0, retired: 0 };
  for (const key of set.keys) keys[key.state]++;
  return keys;
}

/**
 * The signing key set of `SIGNING_KEYS_DIR`, read at open and polled. A content that is not a valid set
 * never replaces a good one: the last good set stays, one error line is logged per such content, and
 * `valid` is false until a valid content is read. Nothing of a key file is ever logged.
 */
export async function openKeyDirectory(deps: { log: Logger; nowMs: () => number }, opts: KeyDirectoryOptions): Promise<KeyDirectory> {
  const { log } = deps;
  let loaded: LoadedKeys | undefined;
  let parsed: ParsedKeys | undefined;
  let lastFingerprint: string | undefined;
  let valid = false;
  const reloads = { loaded: 0, invalid: 0 };
  let running: Promise<void> | undefined;

  const refuse = (reason: string, fingerprint: string) => {
    valid = false;
    // The last good set stays, but its retired keys still leave it on time.
    if (loaded) {
      const pruned = withoutDropped(loaded.set, deps.nowMs());
      if (pruned !== loaded.set) loaded = { set: pruned, jwks: jwksOf(pruned) };
    }
    if (fingerprint === lastFingerprint) return;
    lastFingerprint = fingerprint;
    reloads.invalid++;
    log.error(
      { 'event.action': 'signing-keys-invalid', 'file.directory': opts.dir, 'error.message': reason },
      `signing keys not loaded, ${loaded ? 'the last good set stays in use' : 'no key set yet'}: ${reason}`,
    );
  };

  const read = async () => {
    let content: DirectoryContent;
    try {
      content = await readDirectory(opts.dir);
    } catch (err) {
      const reason = err instanceof ManifestError ? err.message : 'the key directory cannot be read';
      return refuse(reason, `unreadable:${reason}`);
    }
    const nowMs = deps.nowMs();
    const dropDue = loaded?.set.nextDropMs !== undefined && loaded.set.nextDropMs <= nowMs;
    if (content.fingerprint === lastFingerprint && !dropDue) return;
    let built: Awaited<ReturnType<typeof buildKeySet>>;
    try {
      built = await buildKeySet(content.manifest, content.files, { nowMs, previous: parsed });
    } catch (err) {
      return refuse(err instanceof KeySetError ? err.message : 'the key set cannot be built', content.fingerprint);
    }
    lastFingerprint = content.fingerprint;
    valid = true;
    parsed = built.parsed;
    loaded = { set: built.set, jwks: jwksOf(built.set) };
    reloads.loaded++;
    log.info(
      {
        'event.action': 'signing-keys-loaded',
        'file.directory': opts.dir,
        'signing_keys.kids': built.set.keys.map((key) => `${key.kid} ${key.alg} ${key.state}`),
      },
      `signing keys loaded: ${built.set.keys.length} keys`,
    );
  };

  const refresh = () => (running ??= read().finally(() => (running = undefined)));
  await refresh();
  const timer = setInterval(() => void refresh(), opts.pollMs);
  timer.unref();

  return {
    keys: () => loaded,
    refresh,
    stats: () => ({ valid, keys: loaded ? countByState(loaded.set) : { next: 0, current: 0, retired: 0 }, reloads: { ...reloads } }),
    close: () => clearInterval(timer),
  };
}
