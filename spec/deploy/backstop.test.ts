import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GATE_MARK, HEADERS_MARK, IDENTITY_HEADERS } from '../../lib/access/gate.js';
import { BACKSTOP_IDENTITY_HEADERS, BACKSTOP_LUA } from '../../kong/stand-in/backstop-lua.js';
import { loadKongYml, type KongPlugin } from '../../kong/stand-in/kong-yml.js';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';

/** Every `- |` block under an `access:` key in a Markdown page's YAML, dedented: the backstops it shows. */
function accessBlocks(text: string): string[] {
  const lines = text.split('\n');
  const blocks: string[] = [];
  lines.forEach((line, i) => {
    const item = /^(\s*)- \|$/.exec(line);
    if (!item || !lines[i - 1]?.trim().endsWith('access:')) return;
    const indent = `${item[1]}  `;
    const body: string[] = [];
    for (const next of lines.slice(i + 1)) {
      if (!next.startsWith(indent)) break;
      body.push(next.slice(indent.length));
    }
    blocks.push(`${body.join('\n')}\n`);
  });
  return blocks;
}

const PAGES = [
  'README.md',
  ...readdirSync(join(PROJECT_ROOT, 'docs'), { recursive: true, encoding: 'utf8' }).map((f) => join('docs', f)),
].filter((file) => file.endsWith('.md'));

describe('kong/backstop.lua is the one backstop kong.yml and the docs carry', () => {
  test("kong.yml: every gate route sets its headers through the backstop, and its post-function is the file's text", () => {
    const yml = loadKongYml(join(PROJECT_ROOT, 'kong.yml'));
    let gates = 0;
    for (const service of yml.services ?? []) {
      for (const route of service.routes ?? []) {
        const plugins: KongPlugin[] = [...(service.plugins ?? []), ...(route.plugins ?? [])];
        const gate = plugins.find((p) => p.name === 'token-validator' && p.config?.mode === 'gate');
        if (!gate) continue;
        gates++;
        assert.equal(gate.config?.upstream_headers, 'backstop', route.name);
        const backstop = plugins.find((p) => p.name === 'post-function');
        assert.deepEqual(backstop?.config?.access, [BACKSTOP_LUA], `${route.name}: the backstop is kong/backstop.lua, byte for byte`);
      }
    }
    assert.ok(gates > 0, 'kong.yml shows a gate route');
  });

  test('README and docs: every backstop they show is the same text, and the one-line form is gone', () => {
    const shown: string[] = [];
    for (const page of PAGES) {
      const text = readFileSync(join(PROJECT_ROOT, page), 'utf8');
      for (const block of accessBlocks(text)) assert.equal(block, BACKSTOP_LUA, `${page}: a backstop that is not kong/backstop.lua`);
      if (accessBlocks(text).length > 0) shown.push(page);
      assert.doesNotMatch(text, /get_credential\(\) if not/, `${page} still shows the one-line backstop`);
    }
    assert.deepEqual(shown.sort(), ['README.md', 'docs/deploying.md', 'docs/plugins/token-validator.md']);
  });

  test("the Lua clears the gate's identity headers and knows both marks", () => {
    assert.deepEqual(BACKSTOP_IDENTITY_HEADERS, IDENTITY_HEADERS);
    assert.ok(BACKSTOP_LUA.includes(`credential.${HEADERS_MARK}`));
    assert.ok(BACKSTOP_LUA.includes(`credential.${GATE_MARK} or kong.ctx.shared.${GATE_MARK}`));
  });
});
