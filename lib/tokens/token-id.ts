import { randomUUID } from 'node:crypto';

/**
 * Token ids are UUIDv7 (RFC 9562 §5.7): the first 48 bits are the issue time in milliseconds, so a
 * "revoked before" mark can tell tokens of the same `iat` second apart.
 */
export function tokenIdAt(issuedAtMs: number): string {
  const random = randomUUID(); // v4: 122 random bits; its variant bits are already RFC 9562's
  return `${timePrefix(issuedAtMs)}${random.slice(15)}`;
}

// Tokens come in bursts within one millisecond: its hex form (a slow number-to-string) is built once.
let prefixMs = -1;
let prefix = '';

/** The UUIDv7 up to its random bits: 48-bit time, version 7. */
function timePrefix(ms: number): string {
  if (ms !== prefixMs) {
    const time = ms.toString(16).padStart(12, '0');
    prefixMs = ms;
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
  }
  return prefix;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * When a token was issued, in milliseconds: the time in its UUIDv7 `jti` when that falls within its `iat`
 * second, else the start of the `iat` second (the earliest it can have been issued, so a mark of that
 * second covers it). Without a usable `iat`: -Infinity, before every mark.
 */
export function issuedAtMs(claims: { jti?: unknown; iat?: unknown }): number {
  const iat = claims.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return -Infinity;
  const jti = claims.jti;
  if (typeof jti === 'string' && UUID_V7.test(jti)) {
    const ms = parseInt(jti.slice(0, 8) + jti.slice(9, 13), 16);
    if (Math.floor(ms / 1000) === iat) return ms;
  }
  return iat * 1000;
}
