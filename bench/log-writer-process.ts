import { randomUUID } from 'node:crypto';
import { readFileSync, readSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { batchedLogOutput } from '../lib/ops/log-output.js';
import { createLogger } from '../lib/ops/logger.js';
import { VERSION } from '../lib/version.js';

/**
 * The two ends of one log-writer measurement (bench/log-writer.ts), each its own process: the writer logs
 * the issuer's per-token line through one destination to its stdout; the reader is the other end of the pipe.
 * Usage: log-writer-process.js writer '<WriterLoad as JSON>' | reader <warm-up lines> <slow seconds>; each
 * prints one JSON line on stderr.
 */
export const WRITERS = ['format-only', 'ours', 'pino'] as const;
export type WriterName = (typeof WRITERS)[number];

export interface WriterLoad {
  writer: WriterName;
  /** Lines logged before the measured ones, for the JIT; the reader takes them at full speed. */
  warmupLines: number;
  /** Closed loop: this many lines, 100 per event-loop turn. */
  lines?: number;
  /** Open loop: this many lines per second for `seconds` (the slow-reader runs). */
  rate?: number;
  seconds?: number;
  /** Seconds the event loop is left free after the measured lines, before the last flush (the slow-reader runs). */
  drainSeconds?: number;
  /** Touch process.stdout first, which makes a pipe on fd 1 non-blocking (as any use of process.stdout does). */
  nonBlocking?: boolean;
}

export interface WriterResult {
  writer: WriterName;
  lines: number;
  cpuUsPerLine: number;
  wallUsPerLine: number;
  /** Longest the event loop was held (a 10 ms timer's worst lateness), ms. */
  maxLoopDelayMs: number;
  /** RSS growth over the measured lines, MB. */
  rssGrowthMb: number;
  /** Lines the destination said it dropped (ours counts them; pino's emits 'drop' only with maxLength). */
  dropped: number;
  /** O_NONBLOCK on fd 1 during the run, from /proc. */
  stdoutNonBlocking: boolean;
}

export interface ReaderResult {
  reader: true;
  lines: number;
}

interface Destination {
  stream: { write(line: string): void };
  dropped(): number;
  flushSync(): void;
}

function destination(writer: WriterName): Destination {
  if (writer === 'ours') return batchedLogOutput();
  if (writer === 'format-only') return { stream: { write: () => undefined }, dropped: () => 0, flushSync: () => undefined };
  let dropped = 0;
  // `dest: 1` as logger.ts passes it: without it, pino.destination reads process.stdout.fd, which makes a pipe non-blocking.
  const sonic = pino.destination({ dest: 1, sync: true, minLength: 4096 });
  sonic.on('drop', () => dropped++);
  return { stream: sonic, dropped: () => dropped, flushSync: () => sonic.flushSync() };
}

const O_NONBLOCK = 0o4000;
const nonBlocking = (fd: number) =>
  (parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8) & O_NONBLOCK) !== 0;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const rssMb = () => process.memoryUsage().rss / 1048576;

export async function runWriter(load: WriterLoad): Promise<WriterResult> {
  if (load.nonBlocking) void process.stdout.fd;
  const out = destination(load.writer);
  const log = createLogger({ level: 'info', serviceVersion: VERSION, destination: out.stream });
  const consumerId = randomUUID();
  const logOne = () =>
    log.info(
      {
        'event.action': 'token-issue',
        'event.outcome': 'success',
        'event.duration': 41_250,
        'user.id': consumerId,
        'user.name': 'corp#bench-consumer',
        'event.id': randomUUID(),
      },
      'token issued',
    );
  for (let n = 0; n < load.warmupLines; n++) {
    logOne();
    if (n % 100 === 99) await turn();
  }
  out.flushSync();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const rssBefore = rssMb();
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  delay.enable();
  let lines = 0;
  if (load.rate !== undefined) {
    const endAt = startedAt + (load.seconds ?? 1) * 1000;
    for (let now = startedAt; now < endAt; now = performance.now()) {
      const due = Math.min(load.rate * ((now - startedAt) / 1000), lines + 1000);
      while (lines < due) {
        logOne();
        lines++;
      }
      await turn();
    }
  } else {
    while (lines < (load.lines ?? 0)) {
      for (let n = 0; n < 100; n++) logOne();
      lines += 100;
      await turn();
    }
  }
  out.flushSync();
  delay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - startedAt;
  const rssGrowthMb = Math.round((rssMb() - rssBefore) * 10) / 10;
  if (load.drainSeconds) {
    await new Promise((resolve) => setTimeout(resolve, load.drainSeconds! * 1000));
    out.flushSync();
  }
  return {
    writer: load.writer,
    lines,
    cpuUsPerLine: (cpu.user + cpu.system) / lines,
    wallUsPerLine: (wallMs * 1000) / lines,
    maxLoopDelayMs: Math.round(delay.max / 1e5) / 10,
    rssGrowthMb,
    dropped: out.dropped(),
    stdoutNonBlocking: nonBlocking(1),
  };
}

/**
 * Reads stdin to its end and counts lines: at full speed for the first `fastLines` (the writer's warm-up), then
 * at most `slowBytesPerTick` every 10 ms for `slowSeconds`, then at full speed again.
 */
export function runReader(fastLines: number, slowSeconds: number, slowBytesPerTick = 4096): ReaderResult {
  const buffer = Buffer.alloc(65536);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let slowUntil: number | undefined;
  let lines = 0;
  for (;;) {
    if (slowUntil === undefined && lines >= fastLines) slowUntil = performance.now() + slowSeconds * 1000;
    const slow = slowUntil !== undefined && performance.now() < slowUntil;
    const read = readSync(0, buffer, 0, slow ? slowBytesPerTick : buffer.length, null);
    if (read === 0) return { reader: true, lines };
    for (let i = 0; i < read; i++) if (buffer[i] === 10) lines++;
    if (slow) Atomics.wait(pause, 0, 0, 10);
  }
}

// Not `import { argv } from 'node:process'`: that module's namespace reads process.stdin and process.stdout,
// which makes a pipe on fd 0 or 1 non-blocking.
const argv = process.argv;
if (argv[1] && import.meta.url === pathToFileURL(argv[1]).href) {
  const result =
    argv[2] === 'writer' ? await runWriter(JSON.parse(argv[3] as string) as WriterLoad) : runReader(Number(argv[3]), Number(argv[4]));
  process.stderr.write(`${JSON.stringify(result)}\n`);
}
