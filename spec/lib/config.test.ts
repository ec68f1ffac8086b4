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

  test('every variable of the table is read: by loadConfig, and KONG_PREFIX by the command line', () => {
    const read = new Set<string>();
    // Redis and a ratio sampler turn on the variables read only with them.
    const given: Record<string, string> = { REDIS_URL: 'redis://127.0.0.1:6379', OTEL_TRACES_SAMPLER: 'traceidratio' };
    loadConfig(new Proxy(given, { get: (target, name) => (read.add(String(name)), Reflect.get(target, name)) }));
    assert.deepEqual([...read, 'KONG_PREFIX'].sort(), [...CONFIG_VARIABLES].sort());
  });
});
