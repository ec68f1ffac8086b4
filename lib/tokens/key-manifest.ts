import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KEY_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;
export type KeyAlg = (typeof KEY_ALGS)[number];

export const KEY_STATES = ['next', 'current', 'retired'] as const;
/** `next`: published, not signing. `current`: signing (one per alg). `retired`: published until its last token expired. */
export type KeyState = (typeof KEY_STATES)[number];

/** The manifest file of a key directory. */
export const MANIFEST_FILE = 'keys.json';

/** One key of the manifest, as written in keys.json. */
export interface ManifestEntry {
  /** A file name in the key directory (no path): a PEM or JWK key. */
  file: string;
  /** Default: the RFC 7638 thumbprint of the public key. */
  kid?: string;
  alg: KeyAlg;
  state: KeyState;
  /** When the key was added as `next` (ISO 8601); `keys promote` waits for the publish-ahead time from it. */
  published_at?: string;
  /** When the key stopped signing (ISO 8601); required for `retired`. */
  retired_at?: string;
}

export interface Manifest {
  keys: ManifestEntry[];
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

const FIELDS = new Set(['file', 'kid', 'alg', 'state', 'published_at', 'retired_at']);
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const isOneOf = <T extends string>(values: readonly T[], value: unknown): value is T => (values as readonly unknown[]).includes(value);

function date(value: unknown, where: string, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !ISO_DATE.test(value) || Number.isNaN(Date.parse(value)))
    throw new ManifestError(`${where}: "${field}" is not an ISO 8601 date and time`);
  return value;
}

function entryOf(value: unknown, index: number): ManifestEntry {
  const where = `${MANIFEST_FILE} key ${index + 1}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ManifestError(`${where} is not an object`);
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).find((name) => !FIELDS.has(name));
  if (unknown !== undefined) throw new ManifestError(`${where}: unknown field ${JSON.stringify(unknown)}`);
  const { file, kid, alg, state } = fields;
  if (typeof file !== 'string' || !FILE_NAME.test(file))
    throw new ManifestError(`${where}: "file" must be a file name in the key directory`);
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > 256))
    throw new ManifestError(`${where}: "kid" must be a non-empty string of at most 256 characters`);
  if (!isOneOf(KEY_ALGS, alg)) throw new ManifestError(`${where}: "alg" must be one of ${KEY_ALGS.join(', ')}`);
  if (!isOneOf(KEY_STATES, state)) throw new ManifestError(`${where}: "state" must be one of ${KEY_STATES.join(', ')}`);
  const published_at = date(fields.published_at, where, 'published_at');
  const retired_at = date(fields.retired_at, where, 'retired_at');
  if (state === 'retired' && retired_at === undefined) throw new ManifestError(`${where}: a retired key needs "retired_at"`);
  const entry: ManifestEntry = kid === undefined ? { file, alg, state } : { file, kid, alg, state };
  if (published_at !== undefined) entry.published_at = published_at;
  if (retired_at !== undefined) entry.retired_at = retired_at;
  return entry;
}

/** The manifest in `text`; ManifestError naming the first problem (never a key's content: keys.json holds none). */
export function parseManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ManifestError(`${MANIFEST_FILE} is not JSON`);
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (typeof value !== 'object' || Array.isArray(value) || !Array.isArray(keys))
    throw new ManifestError(`${MANIFEST_FILE} must be an object with a "keys" array`);
  return { keys: keys.map(entryOf) };
}

/**
 * Writes `content` to `dir/name` atomically: a temporary file in the same directory, then a rename, so
 * a sidecar polling the directory never reads half a file.
 */
export function writeFileAtomically(dir: string, name: string, content: string, mode: number): void {
  const temporary = join(dir, `.${name}.${process.pid}.tmp`);
  writeFileSync(temporary, content, { mode, flag: 'wx' });
  renameSync(temporary, join(dir, name));
}

export function writeManifest(dir: string, manifest: Manifest): void {
  writeFileAtomically(dir, MANIFEST_FILE, JSON.stringify(manifest, null, 2) + '\n', 0o644);
}
