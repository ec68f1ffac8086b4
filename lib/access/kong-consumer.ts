import { AuthError } from '../errors.js';
import type { Kong } from '../kong/plugin.js';
import type { ConsumerHeaders } from './request-headers.js';

interface KongEntity {
  id?: unknown;
  consumer?: { id?: unknown } | null;
}

const mismatch = (detail: string) => new AuthError('AUTH_001', detail, { extensions: { reason: 'consumer_mismatch' } });

/**
 * Kong's consumer headers are only trusted when they name the consumer Kong itself authenticated: a
 * route without an auth plugin passes whatever the client sent. The proof is the credential Kong
 * authenticated (kong.client.get_credential): Kong's auth plugins (key-auth, basic-auth, jwt, hmac-auth,
 * oauth2) authenticate the consumer their credential belongs to, and the credential names it
 * (`consumer.id`), so one round trip settles it. A credential that names no consumer (session, custom
 * plugins), or none, has Kong's consumer read as well (kong.client.get_consumer). The anonymous consumer
 * of an auth plugin's `anonymous` setting is authenticated without a credential, which no client header
 * can change or hide. AUTH_001 or AUTH_009 otherwise.
 */
export async function authenticatedConsumer(kong: Kong, claimed: ConsumerHeaders): Promise<void> {
  const credential = (await kong.client.getCredential()) as KongEntity | null;
  const owner = credential && typeof credential === 'object' ? credential.consumer?.id : undefined;
  if (owner !== undefined && owner !== null) {
    if (owner !== claimed.consumerId) throw mismatch('The credential Kong authenticated belongs to another consumer');
    return;
  }
  const consumer = (await kong.client.getConsumer()) as KongEntity | null;
  if (!consumer || consumer.id !== claimed.consumerId) throw mismatch('The consumer headers do not match the consumer Kong authenticated');
  if (!credential || typeof credential !== 'object') {
    throw new AuthError('AUTH_009', undefined, { extensions: { reason: 'Anonymous consumers are not allowed' } });
  }
}
