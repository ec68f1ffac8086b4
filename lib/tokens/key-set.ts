import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { MANIFEST_FILE, type KeyAlg, type KeyState, type Manifest, type ManifestEntry } from './key-manifest.js';

/** The longest lifetime a token of ours can have (token-issuer's `ttl_seconds` maximum), in seconds. */
export const MAX_TOKEN_LIFETIME_SECONDS = 86_400;
/** Beyond it, the largest clock skew a validator accepts (token-validator's `clock_skew_seconds` maximum), in seconds. */
export const RETIRED_KEY_LEEWAY_SECONDS = 300;
/** How long a retired key stays in the set after it stopped signing, in seconds. */
export const RETIRED_KEY_KEPT_SECONDS = MAX_TOKEN_LIFETIME_SECONDS + RETIRED_KEY_LEEWAY_SECONDS;

const MIN_RSA_BITS = 2048;

/** One key of the set, parsed once. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: KeyAlg;
  readonly state: KeyState;
  readonly publicKey: KeyObject;
  /** The public parameters only (exportJWK of the public key): no private member can reach the JWKS from here. */
  readonly publicJwk: JWK;
  /** Absent for a retired key kept as its public half only. */
  readonly privateKey: KeyObject | undefined;
  readonly publishedAtMs: number | undefined;
  readonly retiredAtMs: number | undefined;
  /** When a retired key leaves the set: retired_at + the longest token lifetime + leeway. */
  readonly dropAfterMs: number | undefined;
}

/** A retired key of the manifest already past its drop time: in no set, shown by `keys list`. */
export interface DroppedKey {
  readonly kid: string | undefined;
  /** Unknown for a key dropped from a last good set (its manifest could not be read). */
  readonly file: string | undefined;
  readonly alg: KeyAlg;
  readonly dropAfterMs: number;
}

export interface KeySet {
  /** In manifest order. */
  readonly keys: readonly SigningKey[];
  /** Exact kid lookup: the only way a token finds its key. */
  readonly byKid: ReadonlyMap<string, SigningKey>;
  /** The signing key of each algorithm that has one. */
  readonly current: ReadonlyMap<KeyAlg, SigningKey>;
  readonly dropped: readonly DroppedKey[];
  /** When the next retired key is due to leave the set: the set must be built again then. */
  readonly nextDropMs: number | undefined;
}

/** Why a directory's content is not a key set; its message names the file and the rule, never key material. */
export class KeySetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeySetError';
  }
}

interface ParsedKey {
  publicKey: KeyObject;
  privateKey: KeyObject | undefined;
  publicJwk: JWK;
  thumbprint: string;
  /** The `alg` a JWK file names itself, if any. */
  fileAlg: unknown;
}

/** Parsed keys by the SHA-256 of their file, so a rebuilt set parses only the files that changed. */
export type ParsedKeys = Map<string, ParsedKey>;

const contentHash = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The key objects of a PEM (PKCS#8, SEC1, PKCS#1 or SPKI) or JWK text; null when it is neither. */
function keyObjectsOf(text: string): { privateKey: KeyObject | undefined; publicKey: KeyObject; fileAlg: unknown } | null {
  if (text.startsWith('{')) {
    const jwk = JSON.parse(text) as JsonWebKey;
    const privateKey = jwk.d === undefined ? undefined : createPrivateKey({ key: jwk, format: 'jwk' });
    return {
      privateKey,
      publicKey: privateKey ? createPublicKey(privateKey) : createPublicKey({ key: jwk, format: 'jwk' }),
      fileAlg: jwk.alg,
    };
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    const privateKey = createPrivateKey(text);
    return { privateKey, publicKey: createPublicKey(privateKey), fileAlg: undefined };
  }
  if (/-----BEGIN [A-Z ]*PUBLIC KEY-----/.test(text))
    return { privateKey: undefined, publicKey: createPublicKey(text), fileAlg: undefined };
  return null;
}

/** A key file parsed; the messages say what is wrong, never what is in it. */
async function parseKeyFile(bytes: Buffer, where: string): Promise<ParsedKey> {
  const text = bytes.toString('utf8').trim();
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) throw new KeySetError(`${where}: encrypted private keys are not supported`);
  let objects: ReturnType<typeof keyObjectsOf>;
  try {
    objects = keyObjectsOf(text);
  } catch {
    // node:crypto's and JSON's messages are generic, but nothing of the file is ever repeated.
    throw new KeySetError(`${where}: not a readable PEM or JWK key`);
  }
  if (!objects) throw new KeySetError(`${where}: not a PEM or JWK key`);
  const publicJwk = await exportJWK(objects.publicKey);
  return { ...objects, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** The key type each algorithm takes (RFC 8037 EdDSA: Ed25519 only). */
function checkKeyType(alg: KeyAlg, key: KeyObject, where: string): void {
  const details = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType;
  if (alg === 'ES256' && !(type === 'ec' && details.namedCurve === 'prime256v1'))
    throw new KeySetError(`${where}: ES256 needs a P-256 EC key, not ${describeKey(key)}`);
  if (alg === 'EdDSA' && type !== 'ed25519') throw new KeySetError(`${where}: EdDSA needs an Ed25519 key, not ${describeKey(key)}`);
  if (alg === 'RS256') {
    if (type !== 'rsa') throw new KeySetError(`${where}: RS256 needs an RSA key, not ${describeKey(key)}`);
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS)
      throw new KeySetError(`${where}: RS256 needs an RSA key of at least ${MIN_RSA_BITS} bits, not ${details.modulusLength} bits`);
  }
}

/** A new private key of the type `alg` takes (RSA: 2048 bits), as a PKCS#8 PEM. */
export function generatePrivateKeyPem(alg: KeyAlg): string {
  const { privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

function describeKey(key: KeyObject): string {
  const { namedCurve, modulusLength } = key.asymmetricKeyDetails ?? {};
  if (namedCurve !== undefined) return `an ${key.asymmetricKeyType} ${namedCurve} key`;
  if (modulusLength !== undefined) return `a ${modulusLength}-bit ${key.asymmetricKeyType} key`;
  return `an ${key.asymmetricKeyType} key`;
}

const dateMs = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));

async function signingKeyOf(entry: ManifestEntry, bytes: Buffer, where: string, parsed: ParsedKeys, previous: ParsedKeys | undefined) {
  const hash = contentHash(bytes);
  const key = parsed.get(hash) ?? previous?.get(hash) ?? (await parseKeyFile(bytes, where));
  parsed.set(hash, key);
  checkKeyType(entry.alg, key.publicKey, where);
  if (key.fileAlg !== undefined && key.fileAlg !== entry.alg)
    throw new KeySetError(`${where}: the JWK says alg ${JSON.stringify(key.fileAlg)}, the manifest ${entry.alg}`);
  if (!key.privateKey && entry.state !== 'retired')
    throw new KeySetError(`${where}: a ${entry.state} key needs its private key; only a retired key may be public only`);
  const retiredAtMs = dateMs(entry.retired_at);
  return {
    kid: entry.kid ?? key.thumbprint,
    alg: entry.alg,
    state: entry.state,
    publicKey: key.publicKey,
    publicJwk: key.publicJwk,
    privateKey: key.privateKey,
    publishedAtMs: dateMs(entry.published_at),
    retiredAtMs,
    dropAfterMs: retiredAtMs === undefined ? undefined : retiredAtMs + RETIRED_KEY_KEPT_SECONDS * 1000,
  } satisfies SigningKey;
}

/**
 * The key set of a manifest and its files (by file name; a missing file is absent), at `nowMs`. A
 * retired key past its drop time is left out without reading its file. KeySetError for the first rule
 * broken: a file missing or unreadable, a key type or size its alg does not take, a next or current
 * key without its private key, two keys with one kid or one file, two current keys of one alg, or no
 * current key at all.
 */
export async function buildKeySet(
  manifest: Manifest,
  files: ReadonlyMap<string, Buffer>,
  opts: {
    nowMs: number;
    previous?: ParsedKeys;
    /** false only while a directory is being set up (`keys generate`). */ requireCurrent?: boolean;
  },
): Promise<{
  set: KeySet;
  parsed: ParsedKeys;
  /** Each manifest entry's kid, in manifest order (a dropped key's only if written). */ kids: (string | undefined)[];
}> {
  const parsed: ParsedKeys = new Map();
  const keys: SigningKey[] = [];
  const dropped: DroppedKey[] = [];
  const byKid = new Map<string, SigningKey>();
  const current = new Map<KeyAlg, SigningKey>();
  const seenFiles = new Set<string>();
  const kids: (string | undefined)[] = [];
  for (const [index, entry] of manifest.keys.entries()) {
    const where = `${MANIFEST_FILE} key ${index + 1} (${entry.file})`;
    if (seenFiles.has(entry.file)) throw new KeySetError(`${where}: the file is listed twice`);
    seenFiles.add(entry.file);
    const retiredAtMs = dateMs(entry.retired_at);
    if (entry.state === 'retired' && retiredAtMs !== undefined && retiredAtMs + RETIRED_KEY_KEPT_SECONDS * 1000 <= opts.nowMs) {
      dropped.push({ kid: entry.kid, file: entry.file, alg: entry.alg, dropAfterMs: retiredAtMs + RETIRED_KEY_KEPT_SECONDS * 1000 });
      kids.push(entry.kid);
      continue;
    }
    const bytes = files.get(entry.file);
    if (!bytes) throw new KeySetError(`${where}: the file is missing`);
    const key = await signingKeyOf(entry, bytes, where, parsed, opts.previous);
    if (byKid.has(key.kid)) throw new KeySetError(`${where}: kid ${JSON.stringify(key.kid)} is used by another key`);
    if (key.state === 'current') {
      if (current.has(key.alg)) throw new KeySetError(`${where}: a second current ${key.alg} key; exactly one per algorithm signs`);
      current.set(key.alg, key);
    }
    byKid.set(key.kid, key);
    keys.push(key);
    kids.push(key.kid);
  }
  if (current.size === 0 && opts.requireCurrent !== false)
    throw new KeySetError(`${MANIFEST_FILE}: no current key; promote one with "keys promote"`);
  const drops = keys.flatMap((key) => (key.dropAfterMs === undefined ? [] : [key.dropAfterMs]));
  return { set: { keys, byKid, current, dropped, nextDropMs: drops.length ? Math.min(...drops) : undefined }, parsed, kids };
}

/** The set without its retired keys past their drop time, at `nowMs`: what a set that cannot be rebuilt still drops. */
export function withoutDropped(set: KeySet, nowMs: number): KeySet {
  const isDropped = (key: SigningKey) => key.dropAfterMs !== undefined && key.dropAfterMs <= nowMs;
  const gone = set.keys.filter(isDropped);
  if (gone.length === 0) return set;
  const keys = set.keys.filter((key) => !isDropped(key));
  const drops = keys.flatMap((key) => (key.dropAfterMs === undefined ? [] : [key.dropAfterMs]));
  return {
    keys,
    byKid: new Map(keys.map((key) => [key.kid, key])),
    current: set.current,
    dropped: [
      ...set.dropped,
      ...gone.map(({ kid, alg, dropAfterMs }) => ({ kid, file: undefined, alg, dropAfterMs: dropAfterMs as number })),
    ],
    nextDropMs: drops.length ? Math.min(...drops) : undefined,
  };
}
