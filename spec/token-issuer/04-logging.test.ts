import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

describe('logs at the most verbose level', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { LOG_LEVEL: 'trace' } });
  });
  // stop() fails if any issued token, credential secret or the admin token was printed.
  after(() => kong.stop());

  test('every line is JSON with ECS fields, and no RPC argument (token, secret) is ever logged', async () => {
    for (const apikey of ['alice-key', 'bob-key', 'carol-key'])
      assert.equal((await kong.request({ path: '/tokens', headers: { apikey } })).status, 200);
    await kong.request({ path: '/open/tokens' });
    kong.adminApi.setFault({ kind: 'status', status: 500 });
    await kong.request({
      path: '/trusting/tokens',
      headers: { 'x-consumer-id': '00000000-0000-4000-8000-000000000001', 'x-consumer-username': 'x' },
    });
    const outage = await kong.server.waitForLogLine((l) => l['error.code'] === 'AUTH_004');
    const lines = kong.server.logLines();
    assert.ok(lines.length >= 5);
    for (const entry of lines) {
      for (const field of ['@timestamp', 'log.level', 'message', 'service.name', 'service.version'])
        assert.ok(field in entry, `${field} in ${JSON.stringify(entry)}`);
    }
    assert.ok(outage, 'the Admin API outage is logged');
    assert.equal(outage['log.level'], 'warn');
    assert.match(JSON.stringify(outage.error), /answered 500/);
    assert.equal(kong.issuedTokens.length, 3);
  });
});
