import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, normalize, relative } from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';

/**
 * The layers of docs/architecture.md, read from the import statements of the sources (type-only
 * imports included, since a cycle of types is still a cycle for a reader). Arrows point down.
 */
const LAYERS = {
  process: ['plugins', 'access', 'tokens', 'credentials', 'kong', 'ops', 'shared'],
  plugins: ['access', 'tokens', 'credentials', 'kong', 'ops', 'shared'],
  access: ['tokens', 'credentials', 'kong', 'ops', 'shared'],
  credentials: ['tokens', 'ops', 'shared'],
  tokens: ['ops', 'shared'],
  // Kong's protocol knows nothing of our error model: the process hands it its last-resort answer.
  kong: ['ops'],
  ops: ['shared'],
  shared: [],
} as const;
type Layer = keyof typeof LAYERS;

/** The leaves every layer may use: the error model and the version. */
const SHARED = new Set(['lib/errors.ts', 'lib/version.ts']);

function layerOf(file: string): Layer {
  if (SHARED.has(file)) return 'shared';
  if (file.startsWith('plugins/')) return 'plugins';
  const folder = /^lib\/([^/]+)\//.exec(file)?.[1];
  if (folder === undefined) return 'process';
  if (!(folder in LAYERS) || folder === 'process' || folder === 'plugins' || folder === 'shared')
    throw new Error(`${file}: lib/${folder}/ is not a layer of docs/architecture.md`);
  return folder as Layer;
}

function sources(dir: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(PROJECT_ROOT, path)).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/** Each product source file → the product source files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of [...sources('lib'), ...sources('plugins')]) {
    const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => normalize(join(dirname(file), (m[1] ?? m[2]) as string)).replace(/\.js$/, '.ts'));
    graph.set(file, targets);
  }
  return graph;
}

describe('the layers of lib/ and plugins/', () => {
  const graph = importGraph();

  test('every import points down a layer or within one; only the process layer imports plugins/', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      for (const target of targets) {
        if (!graph.has(target)) {
          wrong.push(`${file} imports ${target}, which is outside lib/ and plugins/`);
          continue;
        }
        const to = layerOf(target);
        if (to !== from && !(LAYERS[from] as readonly string[]).includes(to)) wrong.push(`${file} (${from}) imports ${target} (${to})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('no import cycle, type-only imports included', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });

  test('docs/architecture.md names every module of lib/ and plugins/', () => {
    const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'architecture.md'), 'utf8');
    const unnamed = [...graph.keys()].filter((file) => !new RegExp(`\\b${basename(file, '.ts')}\\b`).test(doc));
    assert.deepEqual(unnamed, []);
  });

  test('nothing in lib/ or plugins/ imports the Kong stand-in, the tests or the benchmarks', () => {
    const outside = [...graph].flatMap(([file, targets]) =>
      targets.filter((t) => !/^(lib|plugins)\//.test(relative('.', t))).map((t) => `${file} → ${t}`),
    );
    assert.deepEqual(outside, []);
  });
});
