import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { pino } from 'pino';
import {
  DEFAULT_SOCKET_READS,
  listenRpcSocket,
  MAX_MESSAGE_BYTES,
  type Dispatch,
  type RpcSocketServer,
  type SocketReads,
} from '../../lib/kong/rpc-socket.js';
import { MsgpackRpcClient } from '../../kong/stand-in/msgpack-rpc-client.js';

/** Answers `echo` with its params and the length of each string in them, so a corrupted read shows. */
const echo: Dispatch = (method, params, respond) => {
  if (method !== 'echo') return respond(`no method ${method}`, null);
  const lengths = params.map((p) => (typeof p === 'string' ? p.length : null));
  // Answered a tick later, as a PDK call is: reads of other connections happen in between.
  setImmediate(() => respond(null, { params, lengths }));
};

type Answer = [1, number, string | null, { params: unknown[]; lengths: Array<number | null> }];

async function openClient(path: string): Promise<{ socket: Socket; answers: (count: number) => Promise<Answer[]> }> {
  const { socket, messages } = await new MsgpackRpcClient(path).openRaw();
  return { socket, answers: async (count) => (await messages(count)) as Answer[] };
}

const request = (msgid: number, ...params: unknown[]) => Buffer.from(encode([0, msgid, 'echo', params]));

/** A new connection is answered. */
async function assertStillServing(path: string): Promise<void> {
  const good = await openClient(path);
  good.socket.write(request(5, 'still here'));
  const [[, msgid, , result]] = (await good.answers(1)) as [Answer];
  assert.deepEqual([msgid, result.params], [5, ['still here']]);
  good.socket.destroy();
}

for (const reads of ['shared-buffer', 'stream'] as SocketReads[]) {
  // The timeout only turns a hang (an answer that never comes) into a failure.
  describe(`the RPC socket reading into ${reads === 'shared-buffer' ? 'one shared buffer' : 'stream chunks'}`, { timeout: 20_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'kas-rpc-'));
    let server: RpcSocketServer;
    after(async () => {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('listens in that mode', async () => {
      server = await listenRpcSocket(join(dir, 'rpc.sock'), echo, pino({ level: 'silent' }), { mode: 0o600, reads });
      assert.equal(server.reads, reads);
    });

    test('a message larger than one read arrives whole', async () => {
      const client = await openClient(server.path);
      const big = 'k'.repeat(300_000);
      client.socket.write(request(1, big, 'tail'));
      const [[, msgid, error, result]] = (await client.answers(1)) as [Answer];
      assert.deepEqual([msgid, error, result.lengths], [1, null, [300_000, 4]]);
      assert.equal(result.params[0], big);
      client.socket.destroy();
    });

    test('the unfinished end of one read survives the reads of other connections before its rest comes', async () => {
      const clients = await Promise.all([0, 1, 2, 3].map(() => openClient(server.path)));
      const messages = clients.map((_, i) => Buffer.concat([request(10 + i, `first-${i}`), request(20 + i, `${String(i).repeat(500)}`)]));
      // Each client sends its first request and the start of its second; the others' bytes come in between.
      const cut = (m: Buffer) => m.length - 200;
      for (const [i, client] of clients.entries()) client.socket.write(messages[i]!.subarray(0, cut(messages[i]!)));
      await new Promise((r) => setTimeout(r, 30));
      for (const [i, client] of clients.entries()) client.socket.write(messages[i]!.subarray(cut(messages[i]!)));
      for (const [i, client] of clients.entries()) {
        const answers = await client.answers(2);
        assert.deepEqual(
          answers.map(([, msgid, , result]) => [msgid, result.params[0]]),
          [
            [10 + i, `first-${i}`],
            [20 + i, String(i).repeat(500)],
          ],
        );
        client.socket.destroy();
      }
    });

    test('a message of almost MAX_MESSAGE_BYTES (1 MiB) is answered', async () => {
      const client = await openClient(server.path);
      client.socket.write(request(6, 'k'.repeat(MAX_MESSAGE_BYTES - 64)));
      const [[, msgid, error, result]] = (await client.answers(1)) as [Answer];
      assert.deepEqual([msgid, error, result.lengths], [6, null, [MAX_MESSAGE_BYTES - 64]]);
      client.socket.destroy();
    });

    test('15 MB of a message that never ends: answered with an error naming the limit and that connection closed, others keep working', async () => {
      const greedy = await openClient(server.path);
      const closed = new Promise((resolve) => greedy.socket.once('close', resolve));
      const unfinished = request(7, 'k'.repeat(15 * 1024 * 1024)).subarray(0, -1);
      // Once written, the client ends its side: a server still waiting for the rest closes without an answer.
      greedy.socket.write(unfinished, () => greedy.socket.end());
      const [answer] = await greedy.answers(1);
      assert.deepEqual(answer, [1, 7, 'message refused: over the 1048576-byte limit of one plugin socket message', null]);
      await closed;
      await assertStillServing(server.path);
    });

    test('bytes that are not MessagePack close that connection only', async () => {
      const bad = await openClient(server.path);
      const closed = new Promise((resolve) => bad.socket.once('close', resolve));
      bad.socket.write(Buffer.from([0xc1, 0xc1, 0xc1]));
      await closed;
      await assertStillServing(server.path);
    });
  });
}

test("this Node reads Kong's connections into the shared buffer by default", () => {
  assert.equal(DEFAULT_SOCKET_READS, 'shared-buffer');
});
