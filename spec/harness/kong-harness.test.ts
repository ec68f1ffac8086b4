import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

test('a kong.yml with an invalid token-issuer config fails to load, as Kong refuses it', async () => {
  const yml = `
_format_version: "3.0"
services:
  - name: s
    url: http://127.0.0.1:9
    routes:
      - name: r
        paths: [/tokens]
        plugins:
          - name: token-issuer
            config: { ttl_seconds: 5, colour: blue }
`;
  await assert.rejects(KongHarness.start({ kongYml: yml }), (err: Error) => {
    assert.match(err.message, /schema violation \(token-issuer: /);
    assert.match(err.message, /"ttl_seconds":"value should be between 60 and 86400"/);
    assert.match(err.message, /"colour":"unknown field"/);
    return true;
  });
});
