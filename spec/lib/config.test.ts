import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../lib/config.js';

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    return err;
  }
  return undefined;
};

describe('loadConfig', () => {
  test('an invalid REDIS_URL is not echoed, since it may carry the password', () => {
    const err = refusal({ REDIS_URL: 'redis//:hunter2@cache:6379' });
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message, 'invalid REDIS_URL="<redacted>": a redis:// or rediss:// URL');
  });

  test('a % that is no escape in OTEL_RESOURCE_ATTRIBUTES is refused with a line naming the variable', () => {
    const err = refusal({ OTEL_RESOURCE_ATTRIBUTES: 'team=a%zz' });
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message, 'invalid OTEL_RESOURCE_ATTRIBUTES="team=a%zz": comma-separated key=value pairs');
  });

  test('REDIS_CLUSTER_NODES: the seeds, with credentials and TLS from REDIS_URL; another database than 0 stops the start', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-2:7001', REDIS_URL: 'rediss://:pw@ignored:6379/0' });
    assert.deepEqual(config.redis?.clusterNodes, [
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-2', port: 7001 },
    ]);
    assert.equal(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000' }).redis?.url, undefined, 'REDIS_URL is optional');
    const err = refusal({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_URL: 'redis://:hunter2@ignored:6379/2' });
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(
      err.message,
      'invalid REDIS_URL="<redacted>": database 0 or none (Redis Cluster has database 0 only; REDIS_CLUSTER_NODES is set)',
    );
  });

  test('REDIS_CLUSTER_NODES with REDIS_SENTINELS, or not a host:port list, is refused', () => {
    const both = refusal({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_SENTINELS: '10.0.0.9:26379' });
    assert.ok(both instanceof ConfigError, String(both));
    assert.equal(both.message, 'invalid REDIS_CLUSTER_NODES="10.0.0.1:7000": unset while REDIS_SENTINELS is set (one topology at a time)');
    const malformed = refusal({ REDIS_CLUSTER_NODES: '10.0.0.1' });
    assert.ok(malformed instanceof ConfigError, String(malformed));
    assert.equal(malformed.message, 'invalid REDIS_CLUSTER_NODES="10.0.0.1": a comma-separated list of host:port');
  });

  test('every variable of the table is read: by loadConfig, and KONG_PREFIX by the command line', () => {
    const read = new Set<string>();
    // Redis and a ratio sampler turn on the variables read only with them.
    const given: Record<string, string> = { REDIS_URL: 'redis://127.0.0.1:6379', OTEL_TRACES_SAMPLER: 'traceidratio' };
    loadConfig(new Proxy(given, { get: (target, name) => (read.add(String(name)), Reflect.get(target, name)) }));
    assert.deepEqual([...read, 'KONG_PREFIX'].sort(), [...CONFIG_VARIABLES].sort());
  });
});
