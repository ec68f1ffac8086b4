import { AuthError } from '../errors.js';
import type { Kong } from '../kong/plugin.js';
import { consumerName, type ConsumerHeaders } from './request-headers.js';

interface KongEntity {
  id?: unknown;
  username?: unknown;
  custom_id?: unknown;
  tags?: unknown;
  consumer?: { id?: unknown } | null;
}

/**
 * Kong's consumer headers are only trusted when they name the consumer Kong itself authenticated
 * (kong.client.get_consumer): a route without an auth plugin passes whatever the client sent. The
 * anonymous consumer of an auth plugin's `anonymous` setting is authenticated without a credential
 * (kong.client.get_credential is nil), which no client header can change or hide.
 * Returns that consumer's name (username, else custom_id, else id) and its tags as Kong holds them;
 * AUTH_001 or AUTH_009 otherwise.
 */
export async function authenticatedConsumer(kong: Kong, claimed: ConsumerHeaders): Promise<{ name: string; tags: unknown }> {
  const consumer = (await kong.client.getConsumer()) as KongEntity | null;
  if (!consumer || consumer.id !== claimed.consumerId) {
    throw new AuthError('AUTH_001', 'The consumer headers do not match the consumer Kong authenticated', {
      extensions: { reason: 'consumer_mismatch' },
    });
  }
  const credential = (await kong.client.getCredential()) as KongEntity | null;
  if (!credential || typeof credential !== 'object') {
    throw new AuthError('AUTH_009', undefined, { extensions: { reason: 'Anonymous consumers are not allowed' } });
  }
  const owner = credential.consumer?.id;
  if (owner !== undefined && owner !== claimed.consumerId) {
    throw new AuthError('AUTH_001', 'The credential Kong authenticated belongs to another consumer', {
      extensions: { reason: 'consumer_mismatch' },
    });
  }
  return {
    name: consumerName({ id: claimed.consumerId, username: consumer.username, custom_id: consumer.custom_id }),
    tags: consumer.tags,
  };
}
