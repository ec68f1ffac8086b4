import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The package names the product's sources import (bare specifiers, not node: built-ins). */
function importedPackages(dir: string): Set<string> {
  const names = new Set<string>();
  for (const name of readdirSync(join(PROJECT_ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(PROJECT_ROOT, path)).isDirectory()) {
      for (const found of importedPackages(path)) names.add(found);
      continue;
    }
    if (!path.endsWith('.ts')) continue;
    for (const [, specifier] of readFileSync(join(PROJECT_ROOT, path), 'utf8').matchAll(/from '([^.'][^']*)'/g)) {
      if (specifier!.startsWith('node:')) continue;
      const parts = specifier!.split('/');
      names.add(specifier!.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string));
    }
  }
  return names;
}

describe('the production install (npm ci --omit=dev, as the image runs it)', () => {
  test('holds no compiler, no test codec and no kong-pdk: only what lib/ and plugins/ import', async () => {
    const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 });
    const installed = stdout
      .split('\n')
      .filter(Boolean)
      .map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    for (const unwanted of ['typescript', 'ts-node', 'kong-pdk', '@msgpack/msgpack', '@types/node', 'yaml', 'kubernetes-models']) {
      assert.ok(!installed.includes(unwanted), `${unwanted} is in the production install`);
    }
  });

  test('every package the product imports is a production dependency, and every production dependency is imported', () => {
    const imported = new Set([...importedPackages('lib'), ...importedPackages('plugins')]);
    assert.deepEqual([...imported].filter((name) => !(name in pkg.dependencies)).sort(), []);
    assert.deepEqual(
      Object.keys(pkg.dependencies)
        .filter((name) => !imported.has(name))
        .sort(),
      [],
    );
  });
});
