import { writeSync } from 'node:fs';

/** Lines are written in batches of about this many bytes, or after FLUSH_MS when traffic is light. */
const BATCH_BYTES = 4096;
const FLUSH_MS = 100;
/** After stdout refused a write (EAGAIN), it is tried again this soon: a reader that is back empties a pipe in less. */
const RETRY_MS = 1;
/** A stdout that refuses writes (a non-blocking pipe that is full) holds at most this much before lines are dropped. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** On exit, a stdout that refuses writes is waited for at most this long. */
const EXIT_WAIT_MS = 1000;

export interface LogOutput {
  /** What pino writes each line to. */
  readonly stream: { write(line: string): void };
  /** Lines dropped because stdout did not take them. */
  dropped(): number;
  /** Writes what is buffered now; called on exit. */
  flushSync(): void;
}

type WriteSync = (fd: number, bytes: Uint8Array) => number;

/** A batch stdout has not taken (all of it yet), and how many lines it holds. */
interface Unwritten {
  bytes: Buffer;
  lines: number;
}

/**
 * Log lines batched into one write(2) per ~4 KB. Written synchronously: an asynchronous fs.write hands
 * every batch to libuv's thread pool, which cost more per line than formatting it. Cheaper per line than
 * pino.destination({ sync: true, minLength: 4096 }) too, which also holds the event loop in 100 ms sleeps
 * while a non-blocking stdout refuses writes (bench/README.md, "The log writer"). As with pino's
 * destination and Node's own stdout, a blocking stdout that stops reading blocks the process. One that
 * refuses writes (EAGAIN) is tried again every millisecond and keeps up to 16 MB, then drops and counts
 * lines. What is buffered is written when the process exits, waiting up to 1 s for a stdout that refuses.
 */
export function batchedLogOutput(opts: { fd?: number; write?: WriteSync; registerExit?: boolean } = {}): LogOutput {
  const fd = opts.fd ?? 1;
  const write = opts.write ?? writeSync;
  let lines: string[] = [];
  let size = 0;
  /** Batches in the order they go out, written before any newer line. */
  const unwritten: Unwritten[] = [];
  let unwrittenBytes = 0;
  let dropped = 0;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  /** Writes every batch it can; false when stdout refused one (EAGAIN). */
  function writeBatches(): boolean {
    if (closed) return true;
    if (size > 0) {
      const bytes = Buffer.from(lines.join(''), 'utf8');
      unwritten.push({ bytes, lines: lines.length });
      unwrittenBytes += bytes.length;
      lines = [];
      size = 0;
    }
    while (unwritten.length > 0) {
      const head = unwritten[0] as Unwritten;
      let written: number;
      try {
        written = write(fd, head.bytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        // EPIPE, EBADF…: nobody can read stdout any more. Stop writing rather than fail every request.
        closed = true;
        dropped += unwritten.reduce((sum, batch) => sum + batch.lines, 0);
        unwritten.length = 0;
        unwrittenBytes = 0;
        return true;
      }
      unwrittenBytes -= written;
      if (written < head.bytes.length) head.bytes = head.bytes.subarray(written);
      else unwritten.shift();
    }
    return true;
  }

  function flushSync(): void {
    if (writeBatches() || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      flushSync();
    }, RETRY_MS);
    retry.unref();
  }

  function flushOnExit(): void {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const giveUpAt = Date.now() + EXIT_WAIT_MS;
    while (!writeBatches() && Date.now() < giveUpAt) Atomics.wait(pause, 0, 0, RETRY_MS);
  }

  const timer = setInterval(flushSync, FLUSH_MS);
  timer.unref();
  if (opts.registerExit !== false) process.on('exit', flushOnExit);

  return {
    stream: {
      write(line) {
        if (closed || size + unwrittenBytes + line.length > MAX_PENDING_BYTES) {
          dropped++;
          return;
        }
        lines.push(line);
        size += line.length;
        if (size >= BATCH_BYTES && unwritten.length === 0) flushSync();
      },
    },
    dropped: () => dropped,
    flushSync,
  };
}
