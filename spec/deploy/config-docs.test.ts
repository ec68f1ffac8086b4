import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { OUR_PLUGINS } from '../../kong/stand-in/kong-harness.js';
import { PROJECT_ROOT, runCli } from '../../kong/stand-in/plugin-server-process.js';

/** The text between `<!-- name:start -->` and `<!-- name:end -->`, each on a line of its own. */
function block(markdown: string, name: string): string {
  const start = `<!-- ${name}:start -->\n`;
  const from = markdown.indexOf(start);
  const to = markdown.indexOf(`\n<!-- ${name}:end -->`, from);
  assert.ok(from !== -1 && to !== -1, `no <!-- ${name}:start --> … <!-- ${name}:end --> block`);
  return markdown.slice(from + start.length, to + 1);
}

function firstDifference(written: string, generated: string): string {
  const [a, b] = [written.split('\n'), generated.split('\n')];
  const line = a.findIndex((row, i) => row !== b[i]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1} of the table:\n  docs: ${a[at] ?? '(none)'}\n  code: ${b[at] ?? '(none)'}`;
}

describe('the generated tables of docs/', () => {
  test('the environment table of docs/configuration.md is, byte for byte, the one lib/config.ts generates', async () => {
    const { code, stdout } = await runCli(['--dump-config-table']);
    assert.equal(code, 0);
    const written = block(readFileSync(join(PROJECT_ROOT, 'docs/configuration.md'), 'utf8'), 'env-table');
    assert.ok(
      written === stdout,
      `docs/configuration.md disagrees with lib/config.ts at ${firstDifference(written, stdout)}\nrun \`make docs\``,
    );
  });

  for (const plugin of OUR_PLUGINS) {
    test(`the ${plugin} field table of docs/configuration.md is, byte for byte, the one its schema generates`, async () => {
      const { code, stdout } = await runCli(['--dump-fields-table', plugin]);
      assert.equal(code, 0);
      const written = block(readFileSync(join(PROJECT_ROOT, 'docs/configuration.md'), 'utf8'), `${plugin}-fields`);
      assert.ok(
        written === stdout,
        `docs/configuration.md disagrees with plugins/${plugin}.ts at ${firstDifference(written, stdout)}\nrun \`make docs\``,
      );
    });
  }
});
