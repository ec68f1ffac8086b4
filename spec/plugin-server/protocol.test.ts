import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { ISSUER_KONG_YML } from '../support/fixtures.js';
import { KongHarness } from '../../kong/stand-in/kong-harness.js';
import { MsgpackRpcClient, RpcError } from '../../kong/stand-in/msgpack-rpc-client.js';

interface Status {
  Pid: number;
  Events: number;
  Plugins: Record<string, { Instances: Array<{ Id: number }> }>;
}

const issue = (kong: KongHarness) => kong.request({ path: '/tokens', headers: { apikey: 'alice-key' } });

describe("the plugin server speaks Kong's protocol", () => {
  let kong: KongHarness;

  before(async () => {
    kong = await KongHarness.start({ kongYml: ISSUER_KONG_YML, env: { EVENT_TTL_SECONDS: '1' } });
  });
  after(() => kong.stop());

  test('an unknown instance id answers "no plugin instance", and Kong recovers by restarting the instance', async () => {
    await assert.rejects(kong.call('plugin.HandleEvent', { InstanceId: 42, EventName: 'access' }), (err: Error) => {
      assert.ok(err instanceof RpcError);
      assert.match(err.message, /no plugin instance/);
      return true;
    });
    await assert.rejects(kong.call('plugin.CloseInstance', 42), /no plugin instance/);
    assert.equal((await issue(kong)).status, 200);
  });

  test("a restarted server never reuses an instance id of the previous one, and Kong's cached ids recover", async () => {
    assert.equal((await issue(kong)).status, 200);
    const before = await kong.call<Status>('plugin.GetStatus');
    const oldIds = Object.values(before.Plugins).flatMap((p) => p.Instances.map((i) => i.Id));
    assert.ok(oldIds.length > 0);
    await kong.restartServer();
    const res = await issue(kong);
    assert.equal(res.status, 200);
    assert.ok(
      res.kongLog.some((l) => l.level === 'warn' && /no plugin instance/.test(l.message)),
      'Kong saw the stale id and restarted it',
    );
    const afterRestart = await kong.call<Status>('plugin.GetStatus');
    const newIds = Object.values(afterRestart.Plugins).flatMap((p) => p.Instances.map((i) => i.Id));
    assert.ok(newIds.length > 0);
    for (const id of newIds) for (const old of oldIds) assert.ok(id > old, `new id ${id} must be beyond old id ${old}`);
  });

  test('GetStatus lists the running instances and the server pid', async () => {
    await issue(kong);
    const status = await kong.call<Status>('plugin.GetStatus');
    assert.equal(status.Pid, kong.server.pid);
    assert.ok(status.Plugins['token-issuer']!.Instances.length >= 1);
    assert.deepEqual(status.Plugins['token-validator']!.Instances, []);
  });

  test('GetPluginInfo answers the same info as the query command', async () => {
    assert.deepEqual(await kong.call('plugin.GetPluginInfo', 'token-issuer'), kong.infos['token-issuer']);
    await assert.rejects(kong.call('plugin.GetPluginInfo', 'nope'), /not served here/);
  });

  test('unknown namespaces and methods are errors, not crashes', async () => {
    await assert.rejects(kong.call('other.Method'), /RPC for other is not supported/);
    await assert.rejects(kong.call('plugin.Nope'), /method Nope not implemented/);
    assert.equal((await issue(kong)).status, 200);
  });

  test('a Step for an unknown event is an error', async () => {
    await assert.rejects(kong.call('plugin.Step', { EventId: 987654, Data: null }), /event id 987654 not found/);
  });

  test('2,000 sequential events without an error', async () => {
    for (let i = 0; i < 2000; i++) {
      const res = await issue(kong);
      if (res.status !== 200) assert.fail(`event ${i} answered ${res.status}: ${res.body}`);
    }
  });

  test('50 concurrent connections without an error', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => issue(kong)));
    assert.deepEqual(
      results.map((r) => r.status),
      Array(50).fill(200),
    );
    assert.ok(kong.rpcClient.peakConnections >= 50, `peak ${kong.rpcClient.peakConnections} connections`);
  });

  test('after 10,000 events that end in kong.response.exit the server holds no leftover events', async () => {
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(Array.from({ length: 100 }, () => issue(kong)));
    }
    const status = await kong.call<Status>('plugin.GetStatus');
    assert.equal(status.Events, 0);
  });

  test('an event Kong abandons (no further Step) is dropped after EVENT_TTL_SECONDS', async () => {
    const [instance] = (await kong.call<Status>('plugin.GetStatus')).Plugins['token-issuer']!.Instances;
    const reply = await kong.call<{ EventId: number; Data: { Method: string } }>('plugin.HandleEvent', {
      InstanceId: instance!.Id,
      EventName: 'access',
    });
    assert.equal(reply.Data.Method, 'kong.request.get_headers');
    assert.equal((await kong.call<Status>('plugin.GetStatus')).Events, 1);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await kong.call<Status>('plugin.GetStatus')).Events, 0);
    await assert.rejects(kong.call('plugin.StepMultiMap', { EventId: reply.EventId, Data: {} }), /not found/);
  });

  test('garbage bytes close that connection only; the server keeps serving', async () => {
    const raw = new MsgpackRpcClient(kong.server.socketPath);
    try {
      for (const bytes of [
        Buffer.from([0xc1, 0xc1, 0xc1]),
        Buffer.from('GET / HTTP/1.1\r\n\r\n'),
        encode({ not: 'an rpc' }),
        encode([0, 'x', 5, null]),
      ]) {
        const { closedByServer } = await raw.sendRaw(bytes);
        assert.equal(closedByServer, true, `server closed the connection after ${bytes.toString('hex')}`);
      }
    } finally {
      raw.close();
    }
    assert.equal((await issue(kong)).status, 200);
  });

  test('whole requests and the start of another in one write are each answered, in order', async () => {
    const [instance] = (await kong.call<Status>('plugin.GetStatus')).Plugins['token-issuer']!.Instances;
    const raw = new MsgpackRpcClient(kong.server.socketPath);
    try {
      const requests = [21, 22, 23].map((msgid) => encode([0, msgid, 'plugin.InstanceStatus', [instance!.Id]]));
      const joined = Buffer.concat(requests);
      const cut = requests[0]!.length + requests[1]!.length + 3;
      const { socket, messages } = await raw.openRaw();
      socket.write(joined.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 50));
      socket.write(joined.subarray(cut));
      const answers = (await messages(3)) as Array<[number, number, unknown, { Id: number }]>;
      assert.deepEqual(
        answers.map(([type, msgid, error, result]) => [type, msgid, error, result.Id]),
        [21, 22, 23].map((msgid) => [1, msgid, null, instance!.Id]),
      );
    } finally {
      raw.close();
    }
  });

  test('a request split across several writes is still understood', async () => {
    const [instance] = (await kong.call<Status>('plugin.GetStatus')).Plugins['token-issuer']!.Instances;
    const raw = new MsgpackRpcClient(kong.server.socketPath);
    try {
      const bytes = encode([0, 7, 'plugin.InstanceStatus', [instance!.Id]]);
      const { socket, messages } = await raw.openRaw();
      socket.write(bytes.subarray(0, 5));
      await new Promise((r) => setTimeout(r, 50));
      socket.write(bytes.subarray(5));
      const [[type, msgid, error, result]] = (await messages(1)) as [[number, number, unknown, { Id: number }]];
      assert.deepEqual([type, msgid, error], [1, 7, null]);
      assert.equal(result.Id, instance!.Id);
    } finally {
      raw.close();
    }
  });
});
