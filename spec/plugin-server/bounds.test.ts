import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Schema as issuerSchema } from '../../plugins/token-issuer.js';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';

interface Instance {
  Id: number;
  Config: Record<string, unknown>;
}
interface Status {
  Plugins: Record<string, { Instances: Instance[] }>;
}

const alice = { apikey: 'alice-key' };
const instanceIds = async (kong: KongHarness) =>
  Object.values((await kong.call<Status>('plugin.GetStatus')).Plugins).flatMap((p) => p.Instances.map((i) => i.Id));
const startIssuer = (kong: KongHarness, config: unknown) =>
  kong.call<Instance>('plugin.StartInstance', { Name: 'token-issuer', Config: config });

describe('what one client of the plugin socket can make the server hold', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML });
  });
  after(() => kong.stop());

  test('a StartInstance config over 64 KiB is refused with a clear error and starts nothing', async () => {
    const before = await instanceIds(kong);
    const big = JSON.stringify({ audience: ['a'.repeat(1024 * 1024)] });
    await assert.rejects(startIssuer(kong, big), { message: `plugin config of ${big.length} bytes refused: the limit is 65536` });
    assert.deepEqual(await instanceIds(kong), before);
  });

  test("an instance keeps only the fields of its plugin's schema; a config that is not a JSON object is refused", async () => {
    const config = { ttl_seconds: 120, __seq__: 3, __plugin_id: 'p-1', padding: 'x'.repeat(60_000) };
    const started = await startIssuer(kong, JSON.stringify(config));
    const fields = issuerSchema.map((field) => Object.keys(field)[0]);
    for (const reported of [started.Config, (await kong.call<Instance>('plugin.InstanceStatus', started.Id)).Config]) {
      assert.deepEqual(Object.keys(reported), fields);
      assert.equal(reported.ttl_seconds, 120);
    }
    await kong.call('plugin.CloseInstance', started.Id);
    for (const bad of ['not json', '[1, 2]', '42', 'null', 7, { ttl_seconds: 120 }]) {
      await assert.rejects(
        startIssuer(kong, bad),
        { message: 'plugin config refused: a JSON object in a string is expected, as Kong sends it' },
        JSON.stringify(bad),
      );
    }
  });

  test('an EventName that is not a phase of the plugin is answered with a clear error and never becomes a metric label', async () => {
    assert.equal((await kong.request({ path: '/tokens', headers: alice })).status, 200);
    const [instance] = (await kong.call<Status>('plugin.GetStatus')).Plugins['token-issuer']!.Instances;
    for (const name of ['x-odd-1', 'x-odd-2', 'constructor', '__proto__', 'log', 42, null]) {
      await assert.rejects(kong.call('plugin.HandleEvent', { InstanceId: instance!.Id, EventName: name }), {
        message: `token-issuer has no phase ${JSON.stringify(name)}; its phases: access`,
      });
    }
    await assert.rejects(
      kong.call('plugin.HandleEvent', { InstanceId: 42, EventName: 'x-odd-3' }),
      /no plugin instance 42/,
      'an unknown instance is still "no plugin instance" first',
    );
    assert.equal((await kong.request({ path: '/tokens', headers: alice })).status, 200);
    const text = await (await fetch(`${await kong.server.statusUrl()}/metrics/prometheus`)).text();
    // Read from the text: the parser the other specs use drops a histogram's labels.
    const samples = text.split('\n').filter((line) => /^kong_auth_event(s_total|_duration_seconds_(bucket|sum|count))\{/.test(line));
    assert.ok(samples.length > 0, text);
    const labels = (name: string) => new Set(samples.map((line) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1]));
    assert.deepEqual(labels('phase'), new Set(['access']));
    assert.deepEqual(labels('plugin'), new Set(['token-issuer']));
  });
});

describe('the number of live plugin instances', () => {
  let kong: KongHarness;
  before(async () => {
    kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { PLUGIN_MAX_INSTANCES: '2' } });
  });
  after(() => kong.stop());

  test('past PLUGIN_MAX_INSTANCES a new instance is refused with a clear error (Kong answers that request 500); closing one makes room', async () => {
    assert.equal((await kong.request({ path: '/tokens', headers: alice })).status, 200);
    assert.equal((await kong.request({ path: '/multi/tokens', headers: alice })).status, 200);
    const refusal = '2 plugin instances are running, the most PLUGIN_MAX_INSTANCES allows; Kong starts one per plugin entity and worker';
    const refused = await kong.request({ path: '/limited/tokens', headers: alice });
    assert.equal(refused.status, 500);
    assert.ok(
      refused.kongLog.some((line) => line.message === `starting instance: ${refusal}`),
      JSON.stringify(refused.kongLog),
    );
    await assert.rejects(startIssuer(kong, '{}'), { message: refusal });
    const [first] = await instanceIds(kong);
    await kong.call('plugin.CloseInstance', first);
    assert.equal((await kong.request({ path: '/limited/tokens', headers: alice })).status, 200);
  });
});
