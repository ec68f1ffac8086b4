import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import type { KeySet } from './key-set.js';

/** The public members of each key type (RFC 7518 §6, RFC 8037): nothing else of a key is ever published. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
  RSA: ['kty', 'n', 'e'],
};

export interface PublishedJwk {
  readonly [member: string]: string;
  readonly kid: string;
  readonly alg: string;
  readonly use: 'sig';
}

/** The JWKS of a key set, serialized once per set. */
export interface JwksDocument {
  readonly keys: readonly PublishedJwk[];
  /** `{"keys":[…]}`, the body of the JWKS route. */
  readonly body: string;
  /** A strong ETag: the quoted base64url SHA-256 of the body. */
  readonly etag: string;
}

function publicMembers(jwk: JWK): Record<string, string> {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`no public form for key type ${String(jwk.kty)}`);
  const out: Record<string, string> = {};
  for (const name of members) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** A strong entity tag for a body: its SHA-256, base64url, quoted. */
export function entityTag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}

/** Every key of the set (next, current, and retired until dropped), public members only, with kid, alg and use. */
export function jwksOf(set: KeySet): JwksDocument {
  const keys = set.keys.map((key): PublishedJwk => ({ ...publicMembers(key.publicJwk), kid: key.kid, alg: key.alg, use: 'sig' }));
  const body = JSON.stringify({ keys });
  return { keys, body, etag: entityTag(body) };
}
