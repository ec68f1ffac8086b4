import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pin } from './harness.js';

const run = promisify(execFile);

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses other than 2xx/3xx, and socket errors. */
  errors: number;
  seconds: number;
}

/** A wrk latency figure ("812.00us", "1.23ms", "2.01s") in ms. */
function ms(figure: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(figure);
  if (!match) throw new Error(`wrk printed a latency it did not explain: ${figure}`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number((Number(match[1]) * scale).toFixed(3));
}

/** wrk's --latency report: its requests, rate, p50, p99 and errors. */
export function parseWrk(out: string): Omit<WrkResult, 'seconds'> {
  const figure = (re: RegExp) => {
    const match = re.exec(out);
    if (!match) throw new Error(`wrk's report lacks ${re.source}:\n${out}`);
    return match[1] as string;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: Number(figure(/(\d+) requests in /)),
    requestsPerSecond: Math.round(Number(figure(/Requests\/sec:\s+([\d.]+)/))),
    p50Ms: ms(figure(/^\s+50%\s+(\S+)/m)),
    p99Ms: ms(figure(/^\s+99%\s+(\S+)/m)),
    errors:
      Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
      (socketErrors
        ? socketErrors
            .slice(1)
            .map(Number)
            .reduce((a, b) => a + b)
        : 0),
  };
}

/** wrk on core 1 (beside Kong's worker), one thread, `connections` keep-alive connections, for `seconds`. */
export async function wrk(url: string, headers: Record<string, string>, connections: number, seconds: number): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const [command, ...rest] = [...pin(1), 'wrk', ...args, url];
  const { stdout } = await run(command as string, rest, { maxBuffer: 1 << 20 });
  return { ...parseWrk(stdout), seconds };
}
