import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';
import { startDevStack } from '../support/dev-stack.js';

/** One shell command of the README and, when a `# …` line follows it, what it is documented to print. */
interface Step {
  command: string;
  expected: string | undefined;
}

/** The commands of the README's ```sh blocks that talk to `make dev`'s gateway, in reading order. */
function readmeSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const body = block[1] as string;
    if (!body.includes('localhost:8000')) continue;
    // A trailing backslash continues a command on the next line.
    for (const line of body.replace(/\\\n\s*/g, ' ').split('\n')) {
      if (line.startsWith('# ')) {
        const last = steps.at(-1);
        if (last && last.expected === undefined) last.expected = line.slice(2);
      } else if (line.trim() !== '') steps.push({ command: line, expected: undefined });
    }
  }
  return steps;
}

/** `"name":value` pairs of a documented answer; values elided with … match anything and are skipped. */
function documentedPairs(expected: string): string[] {
  const pairs = expected.match(/"[\w-]+":(?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)/g) ?? [];
  return pairs.filter((pair) => !pair.includes('…'));
}

const STATUS_LINE = /\n@@status (\d{3})\n$/;

/**
 * What a step printed meets its documentation: the status when one is documented (`# 400 …`; else a
 * 2xx), then every documented pair, or the documented line itself.
 */
function assertDocumented(step: Step, output: string): void {
  const status = STATUS_LINE.exec(output)?.[1];
  const printed = output.replace(STATUS_LINE, '');
  if (status !== undefined) {
    const documented = /^(\d{3}) /.exec(step.expected ?? '')?.[1];
    if (documented) assert.equal(status, documented, step.command);
    else assert.match(status, /^2\d\d$/, `${step.command}\n  printed ${printed}`);
  }
  if (step.expected === undefined) return;
  const pairs = documentedPairs(step.expected);
  if (pairs.length > 0) {
    for (const pair of pairs) assert.ok(printed.includes(pair), `${step.command}\n  documented ${pair}\n  printed ${printed}`);
    return;
  }
  const line = step.expected.replace(/^\d{3} /, '');
  assert.ok(printed.toLowerCase().includes(line.toLowerCase()), `${step.command}\n  documented ${line}\n  printed ${printed}`);
}

test("the README's curl lines work against make dev and print what the README says they print", async () => {
  const steps = readmeSteps(readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8'));
  assert.ok(steps.length >= 5, 'the README has curl lines for make dev');
  const dev = await startDevStack();
  try {
    // A command that prints its answer also prints its status (curl -w), for the check above.
    const withStatus = (command: string) => command.replace(/^curl /, "curl -w '\\n@@status %{http_code}\\n' ");
    // One shell for all of them, so a variable set in one block is there in the next, as for a reader.
    const marker = (i: number) => `@@step ${i}@@`;
    const script = steps
      .map((step, i) => {
        const assigned = /^([A-Z_]+)=\$\(/.exec(step.command)?.[1];
        const check = assigned ? `; test -n "$${assigned}" || echo "${assigned} is empty"` : '';
        return `echo '${marker(i)}'\n${withStatus(step.command).replaceAll('localhost:8000', dev.gateway)}${check}`;
      })
      .join('\n');
    const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const printed = run.stdout.split(/@@step \d+@@\n/).slice(1);
    assert.equal(printed.length, steps.length, run.stdout);
    steps.forEach((step, i) => {
      assert.doesNotMatch(printed[i] as string, /is empty$/m, step.command);
      assertDocumented(step, printed[i] as string);
    });
  } finally {
    assert.equal(await dev.interrupt(), 0);
  }
});
