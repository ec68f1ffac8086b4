import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { runCli } from '../../kong/stand-in/plugin-server-process.js';

interface Status {
  Events: number;
  Plugins: Record<string, { Instances: Array<{ Id: number }> }>;
}

describe('plugin server process lifecycle', () => {
  test('a stale socket file from a crashed run does not stop a restart', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML });
    t.after(() => kong.stop());
    await kong.server.crash();
    assert.ok(existsSync(kong.server.socketPath), 'SIGKILL leaves the socket file behind');
    await kong.server.start();
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
  });

  test('a second server on a live socket refuses with a clear message and exit 1, the first keeps serving', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML });
    t.after(() => kong.stop());
    const second = await runCli(['--kong-prefix', kong.server.prefix], {}, 5000);
    assert.equal(second.code, 1);
    assert.equal(second.stdout, '');
    assert.equal(second.stderr, `kong-auth-sidecar: another plugin server is already listening on ${kong.server.socketPath}\n`);
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
  });

  test('idle instances expire after PLUGIN_INSTANCE_TTL_SECONDS (in seconds, with the timer running) and Kong restarts them', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { PLUGIN_INSTANCE_TTL_SECONDS: '1' } });
    t.after(() => kong.stop());
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
    const running = await kong.call<Status>('plugin.GetStatus');
    assert.equal(running.Plugins['token-issuer']!.Instances.length, 1);
    await new Promise((r) => setTimeout(r, 2500));
    const expired = await kong.call<Status>('plugin.GetStatus');
    assert.equal(expired.Plugins['token-issuer']!.Instances.length, 0);
    const res = await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } });
    assert.equal(res.status, 200);
    assert.ok(res.kongLog.some((l) => /no plugin instance/.test(l.message)));
  });

  test('SIGTERM stops the server with exit 0 and removes nothing Kong still needs', async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML });
    t.after(() => kong.stop());
    assert.equal(await kong.server.stop('SIGTERM'), 0);
  });

  test("with our process down, a request on a started instance fails open to the dead-end service (503), a new instance gets Kong's 500", async (t) => {
    const kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML });
    t.after(() => kong.stop());
    assert.equal((await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } })).status, 200);
    await kong.server.stop('SIGTERM');
    const started = await kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } });
    assert.equal(started.status, 503);
    assert.deepEqual(started.json(), { message: 'token service unavailable' });
    assert.ok(started.kongLog.some((l) => l.level === 'err' && /could not connect/.test(l.message)));
    const fresh = await kong.request({ path: '/multi/tokens', headers: { apikey: 'alice-key' } });
    assert.equal(fresh.status, 500);
    assert.equal(fresh.source, 'error');
  });
});
