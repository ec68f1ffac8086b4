import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { batchedLogOutput } from '../../lib/ops/log-output.js';

const line = (n: number) => `${JSON.stringify({ n, message: 'x'.repeat(80) })}\n`;

/** A stdout that records what it took, and can refuse writes with an errno code. */
function sink() {
  const writes: string[] = [];
  let failWith: string | undefined;
  return {
    writes,
    text: () => writes.join(''),
    refuse(code: string | undefined) {
      failWith = code;
    },
    write(_fd: number, bytes: Uint8Array): number {
      if (failWith) throw Object.assign(new Error(failWith), { code: failWith });
      // Takes at most 1,000 bytes per call, as a pipe may: the rest must be written after.
      const taken = Math.min(bytes.length, 1000);
      writes.push(Buffer.from(bytes.subarray(0, taken)).toString('utf8'));
      return taken;
    },
  };
}

describe('batched log output', () => {
  test('writes lines in order, in batches rather than one write per line, partial writes included', () => {
    const out = sink();
    const logs = batchedLogOutput({ write: out.write, registerExit: false });
    const expected = Array.from({ length: 200 }, (_, n) => line(n));
    for (const l of expected) logs.stream.write(l);
    logs.flushSync();
    assert.equal(out.text(), expected.join(''));
    const bytes = Buffer.byteLength(expected.join(''));
    // 1,000 bytes per call at most: a write per line would be 200 calls.
    assert.ok(out.writes.length <= Math.ceil(bytes / 1000) + 5, `${out.writes.length} writes for ${bytes} bytes`);
    assert.equal(logs.dropped(), 0);
  });

  test('holds lines while stdout refuses them (EAGAIN) and writes them, in order, once it takes them again', () => {
    const out = sink();
    const logs = batchedLogOutput({ write: out.write, registerExit: false });
    out.refuse('EAGAIN');
    for (let n = 0; n < 100; n++) logs.stream.write(line(n));
    logs.flushSync();
    assert.equal(out.text(), '');
    out.refuse(undefined);
    for (let n = 100; n < 110; n++) logs.stream.write(line(n));
    logs.flushSync();
    assert.equal(out.text(), Array.from({ length: 110 }, (_, n) => line(n)).join(''));
    assert.equal(logs.dropped(), 0);
  });

  test('a stdout that never takes lines costs at most 16 MB: later lines are dropped and counted', () => {
    const out = sink();
    const logs = batchedLogOutput({ write: out.write, registerExit: false });
    out.refuse('EAGAIN');
    const big = `${'y'.repeat(1024 * 1024 - 1)}\n`;
    for (let n = 0; n < 20; n++) logs.stream.write(big);
    assert.equal(logs.dropped(), 4, '16 lines of 1 MB fit');
  });

  test('a closed stdout (EPIPE) stops writing; its lines are counted as dropped and logging never throws', () => {
    const out = sink();
    const logs = batchedLogOutput({ write: out.write, registerExit: false });
    out.refuse('EPIPE');
    for (let n = 0; n < 3; n++) logs.stream.write(line(n));
    logs.flushSync();
    logs.stream.write(line(3));
    assert.equal(logs.dropped(), 4);
    out.refuse(undefined);
    logs.flushSync();
    assert.equal(out.text(), '');
  });

  test('what is still buffered is written when the process exits', () => {
    const module = fileURLToPath(new URL('../../lib/ops/log-output.js', import.meta.url));
    const script = `import(${JSON.stringify(module)}).then(({ batchedLogOutput }) => {
      const logs = batchedLogOutput();
      logs.stream.write('first\\n');
      logs.stream.write('second\\n');
      process.exit(0);
    });`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, 'first\nsecond\n');
  });
});
