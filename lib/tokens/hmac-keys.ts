import { webcrypto } from 'node:crypto';
import type { SigningCredential } from './signing-credential.js';

/**
 * The credential's secret (its UTF-8 bytes, as Kong's jwt plugin with secret_is_base64 false) imported
 * as an HMAC-SHA256 verification key once per credential object: jose would otherwise import a raw key
 * for every token. Cached credentials are long-lived objects, so the key lives as long as the cache entry.
 */
export function createHmacVerifyKeys(): (credential: SigningCredential) => Promise<webcrypto.CryptoKey> {
  const keys = new WeakMap<SigningCredential, Promise<webcrypto.CryptoKey>>();
  return (credential) => {
    let key = keys.get(credential);
    if (!key) {
      key = webcrypto.subtle.importKey('raw', Buffer.from(credential.secret, 'utf8'), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
      keys.set(credential, key);
    }
    return key;
  };
}
