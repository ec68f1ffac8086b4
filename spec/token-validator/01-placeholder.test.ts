import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { KongHarness } from '../support/kong-harness.js';
import { PROJECT_ROOT } from '../support/plugin-server-process.js';

describe('token-validator before validation lands', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: join(PROJECT_ROOT, 'kong.yml') });
  });
  after(() => kong.stop());

  test('refuses every request with a clear AUTH_008 instead of pretending to validate', async () => {
    const res = await kong.request({ path: '/tokens/validate', headers: { apikey: 'example-apikey-client-1', authorization: 'Bearer x.y.z' } });
    assert.equal(res.status, 500);
    assert.equal(res.source, 'exit');
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const body = res.json();
    assert.equal(body.code, 'AUTH_008');
    assert.equal(body.detail, 'token-validator is not available in this version');
    assert.equal(body.instance, '/tokens/validate');
  });
});
