import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { schemaTable } from '../../lib/kong/schema-table.js';
import { PROJECT_ROOT } from '../../kong/stand-in/plugin-server-process.js';
import { Schema as issuerSchema } from '../../plugins/token-issuer.js';
import { Schema as validatorSchema } from '../../plugins/token-validator.js';

/** The text between `<!-- name:start -->` and `<!-- name:end -->` in a doc. */
export function markedBlock(doc: string, name: string): string | undefined {
  const start = doc.indexOf(`<!-- ${name}:start -->\n`);
  const end = doc.indexOf(`\n<!-- ${name}:end -->`);
  return start === -1 || end === -1 ? undefined : doc.slice(start + `<!-- ${name}:start -->\n`.length, end);
}

test("docs/configuration.md's plugin field tables are the schemas' own (run make docs after changing a field)", () => {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'configuration.md'), 'utf8');
  assert.equal(markedBlock(doc, 'token-issuer-fields'), schemaTable(issuerSchema), 'token-issuer: run make docs');
  assert.equal(markedBlock(doc, 'token-validator-fields'), schemaTable(validatorSchema), 'token-validator: run make docs');
});
