import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WRITERS, type ReaderResult, type WriterLoad, type WriterName, type WriterResult } from './log-writer-process.js';
import { table } from './report.js';
import { median } from './stats.js';

/**
 * `node dist/bench/log-writer.js`: the cost per log line of our batched writer (lib/ops/log-output.ts)
 * against pino.destination({ sync: true, minLength: 4096 }) (sonic-boom), and what each does when the
 * reader is slow. Every run is a fresh writer process pinned to core 0, logging the issuer's per-token line
 * through lib/ops/logger.ts to /dev/null or to a pipe read by another process on core 1; rounds interleave
 * the writers. "format-only" is pino with a destination that drops the line: the rest is the writer's.
 */
const USAGE = 'usage: node dist/bench/log-writer.js [--rounds 7] [--lines 1000000] [--slow-seconds 10] [--rate 13000]';
const PROCESS_SCRIPT = fileURLToPath(new URL('./log-writer-process.js', import.meta.url));
const pin = (core: number) => (cpus().length > 1 ? `taskset -c ${core} ` : '');
const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Runs `writer` with its stdout to /dev/null, or to a pipe read by a reader process; returns both ends' results. */
async function run(
  load: WriterLoad,
  target: '/dev/null' | 'pipe',
  slowSeconds = 0,
): Promise<{ writer: WriterResult; reader?: ReaderResult }> {
  const writer = `${pin(0)}${quote(process.execPath)} ${quote(PROCESS_SCRIPT)} writer ${quote(JSON.stringify(load))}`;
  const reader = `${pin(1)}${quote(process.execPath)} ${quote(PROCESS_SCRIPT)} reader ${load.warmupLines} ${slowSeconds}`;
  const child = spawn('sh', ['-c', target === 'pipe' ? `${writer} | ${reader}` : `${writer} > /dev/null`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const results = err
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as WriterResult | ReaderResult);
  const writerResult = results.find((r): r is WriterResult => 'writer' in r);
  if (code !== 0 || !writerResult) throw new Error(`log writer run failed (${code}): ${err}`);
  return { writer: writerResult, reader: results.find((r): r is ReaderResult => 'reader' in r) };
}

const fixed = (n: number, digits = 2) => n.toFixed(digits);
const spread = (values: number[]) => `${fixed(median(values))} (${fixed(Math.min(...values))}–${fixed(Math.max(...values))})`;

/** Per round, `a` minus `b`: the rounds run the writers back to back, so a difference is less at the mercy of the machine's drift. */
const paired = (a: number[], b: number[]) => a.map((v, i) => v - (b[i] ?? 0));

async function costPerLine(rounds: number, lines: number): Promise<string> {
  const rows: string[][] = [];
  for (const target of ['/dev/null', 'pipe'] as const) {
    const cpu: Record<string, number[]> = {};
    const wall: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      for (const writer of round % 2 === 0 ? WRITERS : [...WRITERS].reverse()) {
        const { writer: result } = await run({ writer, warmupLines: 50_000, lines }, target);
        (cpu[writer] ??= []).push(result.cpuUsPerLine);
        (wall[writer] ??= []).push(result.wallUsPerLine);
        process.stderr.write(
          `  ${target} | ${writer} | round ${round + 1} | ${fixed(result.cpuUsPerLine)} µs CPU, ${fixed(result.wallUsPerLine)} µs wall per line${result.stdoutNonBlocking ? ' (stdout non-blocking)' : ''}\n`,
        );
      }
    }
    const of = (writer: WriterName) => cpu[writer] ?? [];
    for (const writer of WRITERS) {
      rows.push([
        target,
        writer,
        spread(of(writer)),
        writer === 'format-only' ? '–' : spread(paired(of(writer), of('format-only'))),
        spread(wall[writer] ?? []),
      ]);
    }
    rows.push([target, 'pino − ours', spread(paired(of('pino'), of('ours'))), '', '']);
  }
  return table(['stdout', 'writer', 'CPU µs per line', 'over format-only (paired)', 'wall µs per line'], rows);
}

/** The pipe cases: a reader slower than the log for `seconds`, on a blocking and on a non-blocking pipe; a fast reader on a non-blocking one. */
const READER_CASES = [
  { pipe: 'blocking', nonBlocking: false, slow: true },
  { pipe: 'non-blocking', nonBlocking: true, slow: true },
  { pipe: 'non-blocking', nonBlocking: true, slow: false },
] as const;

async function readerCases(seconds: number, rate: number): Promise<string> {
  const rows: Array<Array<string | number>> = [];
  for (const { pipe, nonBlocking, slow } of READER_CASES) {
    for (const writer of ['ours', 'pino'] as const satisfies readonly WriterName[]) {
      const warmupLines = 10_000;
      const { writer: w, reader } = await run(
        { writer, warmupLines, rate, seconds, drainSeconds: 1, nonBlocking },
        'pipe',
        slow ? seconds : 0,
      );
      const logged = warmupLines + w.lines;
      const read = reader?.lines ?? 0;
      const label = `${pipe}, ${slow ? 'slow' : 'fast'} reader`;
      process.stderr.write(
        `  ${label} | ${writer} | ${logged} logged, ${read} read, ${w.dropped} dropped, loop held ${w.maxLoopDelayMs} ms${w.stdoutNonBlocking !== nonBlocking ? ' (stdout was not as asked)' : ''}\n`,
      );
      rows.push([
        label,
        writer,
        Math.round(w.lines / seconds),
        w.maxLoopDelayMs,
        logged,
        read,
        w.dropped,
        logged - read - w.dropped,
        w.rssGrowthMb,
      ]);
    }
  }
  return table(
    [
      'pipe',
      'writer',
      'lines/s logged',
      'event loop held, max ms',
      'lines logged',
      'lines read',
      'dropped (counted)',
      'lost uncounted',
      'RSS growth MB',
    ],
    rows,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      rounds: { type: 'string', default: '7' },
      lines: { type: 'string', default: '1000000' },
      'slow-seconds': { type: 'string', default: '10' },
      rate: { type: 'string', default: '13000' },
    },
  });
  const [rounds, lines, slowSeconds, rate] = [values.rounds, values.lines, values['slow-seconds'], values.rate].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  if (![rounds, lines, slowSeconds, rate].every((n) => Number.isInteger(n) && n > 0))
    throw new Error('every option takes a positive whole number');
  process.stderr.write(`cost per line: ${rounds} rounds of ${lines.toLocaleString('en-US')} lines per writer\n`);
  const cost = await costPerLine(rounds, lines);
  process.stderr.write(`readers: ${rate.toLocaleString('en-US')} lines/s for ${slowSeconds} s; a slow reader takes 4 KB every 10 ms\n`);
  const slow = await readerCases(slowSeconds, rate);
  process.stdout.write(
    `## Log writer — ${new Date().toISOString()} — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n\n### Cost per line (median of ${rounds} rounds, min–max)\n\n${cost}\n\n### Slow and fast readers: ${rate.toLocaleString('en-US')} lines/s for ${slowSeconds} s; a slow reader takes 4 KB every 10 ms meanwhile, then the rest\n\n${slow}\n`,
  );
}

try {
  await main();
} catch (err) {
  process.stderr.write(`log-writer: ${(err as Error).message}\n${USAGE}\n`);
  process.exitCode = 2;
}
