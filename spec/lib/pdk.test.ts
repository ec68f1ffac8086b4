import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import KongPdk from 'kong-pdk/pdk.js';
import { pdkFor, PdkError, type PdkChannel } from '../../lib/kong/pdk.js';

/** A channel that records each call and answers with `answer`. */
function recordingChannel(answer: (method: string) => [unknown, unknown] = () => ['ok', undefined]) {
  const sent: { Method: string; Args: unknown[] }[] = [];
  const channel: PdkChannel & { sent: typeof sent } = {
    sent,
    async call(method, args) {
      sent.push({ Method: method, Args: args });
      return answer(method)[0];
    },
  };
  return channel;
}

/** kong-pdk 0.6.0's own PDK object over a pipe that records what it sends and answers `answer`. */
function kongPdkRecorder(answer: [unknown, unknown] = ['ok', undefined]) {
  const sent: unknown[] = [];
  const pdk = new KongPdk({ put: (message: unknown) => sent.push(message), get: async () => answer } as never);
  return { kong: pdk.kong as unknown as Record<string, unknown>, sent };
}

type Path = [string[], unknown[]];

const PATHS: Path[] = [
  [['request', 'getHeaders'], []],
  [['request', 'getHeader'], ['x-consumer-id']],
  [['client', 'getConsumer'], []],
  [
    ['client', 'authenticate'],
    [{ id: 'c' }, { id: 'k' }],
  ],
  [['client', 'tls', 'getFullClientCertificateChain'], []],
  [['service', 'request', 'setHeaders'], [{ 'X-A': 'b' }]],
  [['service', 'response', 'getHeaders'], []],
  [
    ['ctx', 'shared', 'set'],
    ['mark', true],
  ],
  [['nginx', 'getVar'], ['kong_request_id']],
  [['log', 'err'], ['message']],
  [['router', 'getRoute'], []],
];

async function invoke(kong: unknown, [path, args]: Path): Promise<unknown> {
  let target = kong as Record<string, unknown>;
  for (const name of path.slice(0, -1)) target = target[name] as Record<string, unknown>;
  return (target[path.at(-1) as string] as (...a: unknown[]) => Promise<unknown>)(...args);
}

describe('the PDK object handed to plugin code', () => {
  test('every call reaches Kong under the same method name, with the same arguments, as with kong-pdk', async () => {
    for (const path of PATHS) {
      const ours = recordingChannel();
      const theirs = kongPdkRecorder();
      assert.equal(await invoke(pdkFor(ours), path), 'ok');
      assert.equal(await invoke(theirs.kong, path), 'ok');
      assert.deepEqual(ours.sent, theirs.sent, path[0].join('.'));
    }
  });

  test('a failed call is a PDKError with kong-pdk’s name and message', async () => {
    const theirs = kongPdkRecorder([undefined, 'boom']);
    const expected = await (theirs.kong.request as { getHeaders(): Promise<unknown> }).getHeaders().catch((err: Error) => err);
    assert.ok(expected instanceof Error);
    const ours = new PdkError('kong.request.get_headers', 'boom');
    assert.equal(ours.name, expected.name);
    assert.equal(ours.message, expected.message);
  });

  test('a namespace is one object per event and is never taken for a promise', async () => {
    const channel = recordingChannel();
    const kong = pdkFor(channel);
    assert.equal(kong.request, kong.request);
    assert.equal(kong.service.request, kong.service.request);
    assert.equal(await Promise.resolve(kong.request), kong.request);
    const other = recordingChannel();
    await pdkFor(other).request.getHeaders();
    assert.equal(channel.sent.length, 0);
    assert.equal(other.sent.length, 1);
  });
});
