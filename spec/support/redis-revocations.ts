import { pino } from 'pino';
import type { Logger } from '../../lib/ops/logger.js';
import { createRedisConnection } from '../../lib/credentials/redis-connection.js';
import { createRedisRevocationStore, type RedisRevocationStore } from '../../lib/credentials/redis-revocation-store.js';

type After = { after(fn: () => Promise<void> | void): void };

/**
 * A Redis revocation store as a sidecar builds it (its own connection, a subscriber duplicated from it),
 * in the test process: a sidecar that records revocations the processes under test must learn of.
 * Closed after the test.
 */
export function revocationStoreOn(
  t: After,
  url: string,
  opts: { log?: Logger; nowMs?: () => number; keyPrefix?: string } = {},
): RedisRevocationStore {
  const keyPrefix = opts.keyPrefix ?? 'test:';
  const connection = createRedisConnection(
    {
      url,
      sentinels: [],
      clusterNodes: [],
      sentinelMaster: 'mymaster',
      sentinelPassword: undefined,
      tlsCaFile: undefined,
      keyPrefix,
      commandTimeoutMs: 200,
    },
    { log: pino({ level: 'silent' }) },
  );
  const store = createRedisRevocationStore(
    {
      client: connection.client,
      subscriber: connection.subscriber(),
      masters: () => connection.masters(),
      log: opts.log ?? pino({ level: 'silent' }),
      nowMs: opts.nowMs ?? Date.now,
    },
    { keyPrefix },
  );
  t.after(async () => {
    await store.close();
    await connection.close();
  });
  return store;
}
