import { AuthError } from './errors.js';
import type { Kong } from './plugin.js';
import { consumerName, type ConsumerHeaders } from './request-headers.js';

/**
 * Kong's consumer headers are only trusted when they name the consumer Kong itself authenticated
 * (kong.client.get_consumer): a route without an auth plugin passes whatever the client sent.
 * Returns that consumer's name (username, else custom_id, else id); AUTH_001 otherwise.
 */
export async function authenticatedConsumerName(kong: Kong, claimed: ConsumerHeaders): Promise<string> {
  const consumer = (await kong.client.getConsumer()) as { id?: unknown; username?: unknown; custom_id?: unknown } | null;
  if (!consumer || consumer.id !== claimed.consumerId) {
    throw new AuthError('AUTH_001', 'The consumer headers do not match the consumer Kong authenticated', { extensions: { reason: 'consumer_mismatch' } });
  }
  return consumerName({ id: claimed.consumerId, username: consumer.username, custom_id: consumer.custom_id });
}
