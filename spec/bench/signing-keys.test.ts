import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSigningKeys } from '../../bench/signing-keys.js';

test('bench/signing-keys.ts measures six rows per algorithm, each with a rate', async () => {
  const rows = await runSigningKeys({ seconds: 0.03 });
  assert.equal(rows.length, 18);
  assert.deepEqual([...new Set(rows.map((row) => row.operation.split(' ')[0]))], ['ES256', 'EdDSA', 'RS256']);
  assert.ok(rows.every((row) => row.opsPerSecond > 0 && row.cpuMicrosPerOp > 0));
});
