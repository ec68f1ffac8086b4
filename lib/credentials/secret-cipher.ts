import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Seals secrets before they leave the process (Redis). Without a key, values pass through unchanged. */
export interface SecretCipher {
  readonly encrypts: boolean;
  seal(plain: string): string;
  /** Throws when the value was tampered with or sealed under another key. */
  open(sealed: string): string;
}

const SEALED_PREFIX = 'aesgcm1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The forms a key is given in (CACHE_ENCRYPTION_KEY). */
export const ENCRYPTION_KEY_FORM = '32 bytes as 64 hex characters or as base64 (e.g. `openssl rand -base64 32`)';

/** Throws a message fit for the start-up line. */
export function parseEncryptionKey(raw: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) {
    const key = Buffer.from(raw, raw.includes('-') || raw.includes('_') ? 'base64url' : 'base64');
    if (key.length === 32) return key;
  }
  throw new Error(ENCRYPTION_KEY_FORM);
}

export function createSecretCipher(key: Buffer | undefined): SecretCipher {
  if (!key) return { encrypts: false, seal: (plain) => plain, open: (sealed) => sealed };
  return {
    encrypts: true,
    seal(plain) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    open(sealed) {
      if (!sealed.startsWith(SEALED_PREFIX)) throw new Error('value is not sealed with this cipher');
      const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    },
  };
}
