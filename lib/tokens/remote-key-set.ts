import { constants, KeyObject, verify } from 'node:crypto';
import { importJWK, type JWK } from 'jose';

/** The algorithms a remote identity provider's token may be signed with (JWS, RFC 7518 and RFC 8037). */
export const REMOTE_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type RemoteAlg = (typeof REMOTE_ALGORITHMS)[number];

/** A JWKS has a handful of keys; more is not a provider's key set. */
export const MAX_REMOTE_KEYS = 100;
const MIN_RSA_BITS = 2048;
/** RFC 7517 §4: members only a private or symmetric key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** One usable public key of a remote JWKS, parsed once per fetched set. */
export interface RemoteKey {
  readonly kid: string;
  /** The algorithms it verifies: its JWK `alg` alone when it names one, else those its key type takes. */
  readonly algs: readonly RemoteAlg[];
  readonly publicKey: KeyObject;
  /** Its public members and alg as published: an entry the next fetch publishes alike keeps this very object. */
  readonly published: string;
}

export interface RemoteKeySet {
  /** Exact kid lookup: the only way a token finds its key. */
  readonly byKid: ReadonlyMap<string, RemoteKey>;
  /** Keys of the document left out (no kid, not for signatures, a type or size we do not verify, a private member…). */
  readonly skipped: number;
  /** Why they were left out: how many for each reason, in the order first met. */
  readonly skippedWhy: ReadonlyMap<SkipReason, number>;
}

/** Why a JWKS entry is not a usable key; a log line names these, never the entry. */
export type SkipReason =
  | 'not an object'
  | 'no kid'
  | 'not for signatures'
  | 'a private or symmetric key'
  | 'a key type, curve or alg we do not verify'
  | 'not a valid public key'
  | 'RSA below 2048 bits'
  | 'a kid seen before';

/** "2 a key type, curve or alg we do not verify, 1 no kid": how many keys a set left out, and why. */
export function describeSkipped(set: RemoteKeySet): string {
  return [...set.skippedWhy].map(([why, n]) => `${n} ${why}`).join(', ');
}

/** Why a document is not a usable key set; the message says what is wrong, never what is in it. */
export class RemoteJwksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteJwksError';
  }
}

const isOneOf = <T extends string>(values: readonly T[], value: unknown): value is T => (values as readonly unknown[]).includes(value);

/** The algorithms a JWK's key type and curve take, before its `alg`. */
function algsOfType(jwk: Record<string, unknown>): readonly RemoteAlg[] {
  if (jwk.kty === 'RSA') return ['RS256', 'PS256'];
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return ['ES256'];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return ['EdDSA'];
  return [];
}

/** Where a gate finds a provider's key set: as it is (waiting for a first fetch), or fetched again for a kid it lacks. */
export interface RemoteKeySource {
  keys(): Promise<RemoteKeySet | undefined>;
  refetch(): Promise<RemoteKeySet | undefined>;
}

/** The usable key of one JWKS entry, or why it is to be left out. */
async function remoteKeyOf(entry: unknown, previous: RemoteKeySet | undefined): Promise<RemoteKey | SkipReason> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'not an object';
  const jwk = entry as Record<string, unknown>;
  if (typeof jwk.kid !== 'string' || jwk.kid === '' || jwk.kid.length > 256) return 'no kid';
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'not for signatures';
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return 'not for signatures';
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) return 'a private or symmetric key';
  const byType = algsOfType(jwk);
  // A JWK that names its alg is for that alg alone (RFC 8725 §3.1: never what the token's header says).
  const algs = jwk.alg === undefined ? byType : isOneOf(byType, jwk.alg) ? [jwk.alg] : [];
  const [first] = algs;
  if (first === undefined) return 'a key type, curve or alg we do not verify';
  const { kty, crv, n, e, x, y } = jwk;
  const published = JSON.stringify([kty, crv, n, e, x, y, jwk.alg]);
  const known = previous?.byKid.get(jwk.kid);
  if (known?.published === published) return known;
  let publicKey: KeyObject;
  try {
    const imported = await importJWK({ kty, crv, n, e, x, y } as JWK, first);
    if (imported instanceof Uint8Array) return 'not a valid public key';
    publicKey = KeyObject.from(imported);
  } catch {
    return 'not a valid public key';
  }
  if (publicKey.type !== 'public') return 'not a valid public key';
  if (jwk.kty === 'RSA' && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return 'RSA below 2048 bits';
  return { kid: jwk.kid, algs, publicKey, published };
}

/**
 * The usable keys of a JWKS document (RFC 7517 §5): signature keys with a `kid`, RSA of 2048 bits or
 * more, EC P-256 or Ed25519, public members only. Other entries are left out and counted; a kid seen
 * twice keeps its first key. A key `previous` holds under the same kid with the same members is kept as
 * that object, unparsed. A JWKS without a usable key is an empty set: the provider's word that no key
 * of it is to be trusted. RemoteJwksError when the text is not a JWKS (or lists more than MAX_REMOTE_KEYS).
 */
export async function parseRemoteJwks(text: string, previous?: RemoteKeySet): Promise<RemoteKeySet> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new RemoteJwksError('the answer is not JSON');
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (typeof document !== 'object' || Array.isArray(document) || !Array.isArray(keys))
    throw new RemoteJwksError('the answer is not a JWKS (an object with a "keys" array)');
  if (keys.length > MAX_REMOTE_KEYS) throw new RemoteJwksError(`the JWKS has ${keys.length} keys, more than ${MAX_REMOTE_KEYS}`);
  const byKid = new Map<string, RemoteKey>();
  const skippedWhy = new Map<SkipReason, number>();
  let skipped = 0;
  for (const entry of keys) {
    const key = await remoteKeyOf(entry, previous);
    if (typeof key !== 'string' && !byKid.has(key.kid)) {
      byKid.set(key.kid, key);
      continue;
    }
    const why = typeof key === 'string' ? key : 'a kid seen before';
    skipped++;
    skippedWhy.set(why, (skippedWhy.get(why) ?? 0) + 1);
  }
  return { byKid, skipped, skippedWhy };
}

/** node:crypto's verify input for each algorithm: the digest (none for EdDSA), RSA-PSS's padding, ES256's r‖s form. */
function verifyInput(alg: RemoteAlg, key: KeyObject) {
  if (alg === 'PS256') return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  if (alg === 'ES256') return { key, dsaEncoding: 'ieee-p1363' as const };
  return key;
}

/** Whether `signature` (base64url) is `key`'s signature of `signingInput` under `alg`. */
export function verifiesWith(alg: RemoteAlg, key: KeyObject, signingInput: string, signature: string): boolean {
  try {
    return verify(alg === 'EdDSA' ? null : 'sha256', Buffer.from(signingInput), verifyInput(alg, key), Buffer.from(signature, 'base64url'));
  } catch {
    // A signature of the wrong length for its key, for one.
    return false;
  }
}
