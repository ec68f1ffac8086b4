import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, mock, test } from 'node:test';
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

  test('a reader that pauses for 20 ms loses no line at 13,000 lines/s: the backlog goes as soon as the pipe has room', () => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    try {
      // A pipe of 64 KB that its reader empties every millisecond, except for 20 ms after the first second;
      // the issuer's per-token lines are about 350 bytes.
      let inPipe = 0;
      let taken = 0;
      const write = (_fd: number, bytes: Uint8Array): number => {
        const room = 65536 - inPipe;
        if (room === 0) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
        const n = Math.min(room, bytes.length);
        inPipe += n;
        taken += n;
        return n;
      };
      const logs = batchedLogOutput({ write, registerExit: false });
      let logged = 0;
      for (let ms = 0; ms < 8_000; ms++) {
        if (ms < 1_000 || ms >= 1_020) inPipe = 0;
        for (let n = 0; n < 13; n++) {
          const l = `${JSON.stringify({ n: ms * 13 + n, message: 'x'.repeat(330) })}\n`;
          logs.stream.write(l);
          logged += l.length;
        }
        mock.timers.tick(1);
      }
      inPipe = 0;
      logs.flushSync();
      assert.equal(logs.dropped(), 0, `${logs.dropped()} lines dropped`);
      assert.equal(taken, logged);
    } finally {
      mock.timers.reset();
    }
  });

  test('what is buffered is written when the process exits, also to a non-blocking stdout that refuses it for a moment', () => {
    const module = fileURLToPath(new URL('../../lib/ops/log-output.js', import.meta.url));
    // process.stdout makes the pipe non-blocking; 4 MB at once is more than the pipe holds before the parent reads.
    const script = `import(${JSON.stringify(module)}).then(({ batchedLogOutput }) => {
      void process.stdout.fd;
      const logs = batchedLogOutput();
      for (let n = 0; n < 40000; n++) logs.stream.write(String(n).padStart(99, '.') + '\\n');
      process.exit(0);
    });`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(child.status, 0, child.stderr);
    const lines = child.stdout.split('\n');
    assert.equal(lines.length, 40001, `${lines.length - 1} of 40,000 lines written`);
    assert.equal(lines[39999], String(39999).padStart(99, '.'));
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
