import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createSecretCipher, parseEncryptionKey } from '../../lib/credentials/secret-cipher.js';

const KEY_BYTES = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const SECRET = JSON.stringify({ consumerId: 'alice', key: 'alice-iss', secret: 'alice-test-secret-0123456789abcdef' });

describe('parseEncryptionKey (CACHE_ENCRYPTION_KEY)', () => {
  test('accepts 64 hex characters, in either case', () => {
    assert.deepEqual(parseEncryptionKey(KEY_BYTES.toString('hex')), KEY_BYTES);
    assert.deepEqual(parseEncryptionKey(KEY_BYTES.toString('hex').toUpperCase()), KEY_BYTES);
  });

  test('accepts base64 and base64url of 32 bytes', () => {
    const key = Buffer.from('fbff'.repeat(16), 'hex'); // encodes with + and / (or - and _)
    assert.deepEqual(parseEncryptionKey(key.toString('base64')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('base64url')), key);
  });

  test('rejects 31 and 33 bytes, in hex and in base64', () => {
    for (const length of [31, 33]) {
      const key = randomBytes(length);
      assert.throws(() => parseEncryptionKey(key.toString('hex')), /32 bytes as 64 hex characters or as base64/);
      assert.throws(() => parseEncryptionKey(key.toString('base64')), /32 bytes as 64 hex characters or as base64/);
    }
  });

  test('rejects junk', () => {
    for (const junk of ['', 'too-short', 'x'.repeat(64), `${'a'.repeat(63)}!`, 'not base64 at all, has spaces and 32+ characters']) {
      assert.throws(() => parseEncryptionKey(junk), /32 bytes as 64 hex characters or as base64/, JSON.stringify(junk));
    }
  });
});

describe('createSecretCipher', () => {
  test('opens what it sealed', () => {
    const cipher = createSecretCipher(KEY_BYTES);
    assert.equal(cipher.encrypts, true);
    assert.equal(cipher.open(cipher.seal(SECRET)), SECRET);
  });

  test('a sealed value contains no part of the plain text, and sealing twice differs', () => {
    const cipher = createSecretCipher(KEY_BYTES);
    const sealed = cipher.seal(SECRET);
    for (const part of ['alice-test-secret', 'alice-iss', 'consumerId']) assert.ok(!sealed.includes(part), part);
    assert.notEqual(cipher.seal(SECRET), sealed);
  });

  test('a tampered value throws', () => {
    const cipher = createSecretCipher(KEY_BYTES);
    const sealed = cipher.seal(SECRET);
    const body = Buffer.from(sealed.slice(sealed.indexOf(':') + 1), 'base64');
    body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
    assert.throws(() => cipher.open(`${sealed.slice(0, sealed.indexOf(':') + 1)}${body.toString('base64')}`));
  });

  test('a value sealed under another key throws', () => {
    const sealed = createSecretCipher(randomBytes(32)).seal(SECRET);
    assert.throws(() => createSecretCipher(KEY_BYTES).open(sealed));
  });

  test('a value that was never sealed throws', () => {
    assert.throws(() => createSecretCipher(KEY_BYTES).open(SECRET), /not sealed/);
  });

  test('without a key, values pass through unchanged', () => {
    const cipher = createSecretCipher(undefined);
    assert.equal(cipher.encrypts, false);
    assert.equal(cipher.seal(SECRET), SECRET);
    assert.equal(cipher.open(SECRET), SECRET);
  });
});
