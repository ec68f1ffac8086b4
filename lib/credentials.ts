import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AdminApiConflictError, AdminApiUnavailableError, type AdminClient, type JwtCredential } from './admin-client.js';
import { AuthError } from './errors.js';
import type { Logger } from './logger.js';

/** What signing and verifying need from a consumer's credential. */
export interface SigningCredential {
  consumerId: string;
  key: string;
  secret: string;
}

export interface CredentialStore {
  /** The consumer's HS256 credential; throws AuthError AUTH_002 (unknown / none) or AUTH_004 (Admin API down). */
  forConsumer(consumerId: string, opts: { provision: boolean }): Promise<SigningCredential>;
}

const PROVISION_ATTEMPTS = 3;

export function createCredentialStore(
  deps: { admin: AdminClient; log: Logger },
  opts: { ttlSeconds: number; maxEntries: number },
): CredentialStore {
  const cache = new LRUCache<string, SigningCredential>({ max: opts.maxEntries, ttl: opts.ttlSeconds * 1000 });

  async function lookup(consumerId: string, provision: boolean): Promise<SigningCredential> {
    const listed = await deps.admin.listJwtCredentials(consumerId);
    if (listed === undefined) throw notFound(consumerId, 'unknown consumer');
    const existing = oldestHs256(listed.filter((cred) => cred.consumer?.id === consumerId));
    if (existing) return toSigning(existing);
    if (!provision) throw notFound(consumerId, 'no HS256 credential');
    return toSigning(await provisionCredential(consumerId));
  }

  async function provisionCredential(consumerId: string): Promise<JwtCredential> {
    for (let attempt = 1; attempt <= PROVISION_ATTEMPTS; attempt++) {
      try {
        const created = await deps.admin.createJwtCredential(consumerId, {
          key: randomBytes(16).toString('hex'),
          secret: randomBytes(32).toString('hex'),
          algorithm: 'HS256',
        });
        if (created === undefined || created.consumer?.id !== consumerId) throw notFound(consumerId, 'unknown consumer');
        deps.log.info({ 'event.action': 'credential-provisioned', 'user.id': consumerId }, 'provisioned a jwt credential');
        return created;
      } catch (err) {
        if (!(err instanceof AdminApiConflictError)) throw err;
      }
    }
    throw new AdminApiUnavailableError(`credential key collided ${PROVISION_ATTEMPTS} times`);
  }

  return {
    async forConsumer(consumerId, { provision }) {
      const cached = cache.get(consumerId);
      if (cached) return cached;
      try {
        const credential = await lookup(consumerId, provision);
        cache.set(consumerId, credential);
        return credential;
      } catch (err) {
        if (err instanceof AdminApiUnavailableError) {
          throw new AuthError('AUTH_004', 'The Kong Admin API is unavailable; try again shortly', { retryAfterSeconds: 30, cause: err });
        }
        throw err;
      }
    },
  };
}

function notFound(consumerId: string, reason: string): AuthError {
  return new AuthError('AUTH_002', undefined, { extensions: { consumerId }, cause: new Error(reason) });
}

/** Kong treats a missing algorithm as HS256. Several → the oldest, ties broken by id, so every node picks the same. */
export function oldestHs256(credentials: JwtCredential[]): JwtCredential | undefined {
  return credentials
    .filter((cred) => (cred.algorithm ?? 'HS256') === 'HS256' && typeof cred.secret === 'string' && cred.secret !== '')
    .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
}

function toSigning(cred: JwtCredential): SigningCredential {
  return { consumerId: cred.consumer?.id ?? '', key: cred.key, secret: cred.secret };
}
