import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gcFit, usableCpus } from '../../lib/cpu-budget.js';

describe('CPU budget', () => {
  test('usable CPUs: the affinity, capped by a cgroup v2 cpu.max quota', () => {
    assert.equal(usableCpus(8, undefined), 8, 'no cgroup v2 file');
    assert.equal(usableCpus(8, 'max 100000\n'), 8, 'no limit');
    assert.equal(usableCpus(8, '150000 100000\n'), 1.5);
    assert.equal(usableCpus(8, '25000 100000'), 0.25);
    assert.equal(usableCpus(1, '400000 100000'), 1, 'pinned to one CPU under a 4-CPU limit');
    assert.equal(usableCpus(4, 'garbage'), 4);
    assert.equal(usableCpus(4, '100000 0'), 4);
  });

  test('parallel scavenging stays on two CPUs or more and is turned off below', () => {
    assert.deepEqual(gcFit(2, []), { cpus: 2, parallelScavenge: true, decidedBy: 'cpu-budget' });
    assert.deepEqual(gcFit(1.5, []), { cpus: 1.5, parallelScavenge: false, decidedBy: 'cpu-budget' });
    assert.deepEqual(gcFit(1, ['--max-semi-space-size=4']), { cpus: 1, parallelScavenge: false, decidedBy: 'cpu-budget' });
  });

  test('a scavenge flag on the command line wins, the last one when there are several', () => {
    assert.deepEqual(gcFit(1, ['--parallel-scavenge']), { cpus: 1, parallelScavenge: true, decidedBy: 'command-line' });
    assert.deepEqual(gcFit(8, ['--no-parallel-scavenge']), { cpus: 8, parallelScavenge: false, decidedBy: 'command-line' });
    assert.deepEqual(gcFit(8, ['--single-threaded-gc']), { cpus: 8, parallelScavenge: false, decidedBy: 'command-line' });
    assert.deepEqual(gcFit(8, ['--no-parallel-scavenge', '--parallel_scavenge']), {
      cpus: 8,
      parallelScavenge: true,
      decidedBy: 'command-line',
    });
  });
});
