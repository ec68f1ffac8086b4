import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createLogger, type Logger } from '../../lib/ops/logger.js';
import type { KeyAlg, ManifestEntry } from '../../lib/tokens/key-manifest.js';

/** A fresh key pair of an algorithm (or a deliberately wrong one: RSA 1024, P-384, Ed448). */
export function keyPair(kind: KeyAlg | 'RSA1024' | 'P-384' | 'Ed448'): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (kind) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'P-384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'Ed448':
      return generateKeyPairSync('ed448');
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'RSA1024':
      return generateKeyPairSync('rsa', { modulusLength: 1024 });
  }
}

export const privatePem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
export const publicPem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;
export const privateJwk = (key: KeyObject) => JSON.stringify(key.export({ format: 'jwk' }));

/** A temporary key directory, removed after the test. */
export function tempKeyDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'signing-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the key files and keys.json of `keys` into `dir`. */
export function writeKeys(dir: string, keys: Array<ManifestEntry & { content?: string }>): void {
  for (const { content, file } of keys) if (content !== undefined) writeFileSync(join(dir, file), content, { mode: 0o600 });
  writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: keys.map(({ content: _, ...entry }) => entry) }));
}

/** A logger whose lines are kept as parsed objects, with the raw text for leak checks. */
export function capturedLogger(): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const log = createLogger({ level: 'debug', serviceVersion: 'test', destination: { write: (line: string) => void raw.push(line) } });
  return { log, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>), text: () => raw.join('') };
}

/** Every private JWK member (RFC 7518): none may appear in a JWKS, a log line or the metrics text. */
export const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;
