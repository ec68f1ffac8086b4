import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';

/** V8 flags an operator may have set on the command line; theirs wins over ours. */
const SCAVENGE_FLAGS = /^--(no-)?(parallel[-_]scavenge|single[-_]threaded(-gc|_gc)?)$/;

export interface GcFit {
  /** CPUs this process may use: its affinity, capped by a container CPU limit. */
  cpus: number;
  /** Whether V8's young-generation collections run on helper threads. */
  parallelScavenge: boolean;
  /** Who decided: us from the CPU budget, or a V8 flag on the command line. */
  decidedBy: 'cpu-budget' | 'command-line';
}

/**
 * CPUs this process may use: the CPUs it may run on (taskset/cpuset, what os.availableParallelism
 * reads on Node 20), capped by a cgroup v2 quota (`cpu.max`, a container's CPU limit: "150000 100000"
 * is 1.5 CPUs, "max 100000" none).
 */
export function usableCpus(affinity: number, cpuMax: string | undefined): number {
  const [quota, period] = (cpuMax ?? '').trim().split(/\s+/);
  const limit = quota !== undefined && quota !== 'max' && Number(period) > 0 ? Number(quota) / Number(period) : Number.NaN;
  return Number.isFinite(limit) && limit > 0 ? Math.min(affinity, limit) : affinity;
}

/** The cgroup v2 CPU limit of this process's container, as the file says it; undefined without one. */
export function readCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined; // cgroup v1, no limit, or not Linux
  }
}

/**
 * With less than two CPUs, V8's parallel scavenger only makes its helper threads take turns with the
 * main thread on the same CPU: ~4 % more CPU per event (same-run A/B, issuer and gate on one pinned core,
 * Node 20; Node 22 and 24 take the flag at run time too). It is turned off then; on more CPUs it stays.
 * A scavenge flag on the command line is obeyed.
 */
export function gcFit(cpus: number, execArgv: readonly string[]): GcFit {
  const operatorFlag = execArgv.filter((arg) => SCAVENGE_FLAGS.test(arg)).pop();
  if (operatorFlag !== undefined)
    return { cpus, parallelScavenge: !/^--(no-parallel|single)/.test(operatorFlag), decidedBy: 'command-line' };
  return { cpus, parallelScavenge: cpus >= 2, decidedBy: 'cpu-budget' };
}

/** Decides for this process and applies it, before the heap grows: returns what was decided, for the start-up log. */
export function fitGcToCpus(): GcFit {
  const fit = gcFit(usableCpus(availableParallelism(), readCpuMax()), process.execArgv);
  if (fit.decidedBy === 'cpu-budget' && !fit.parallelScavenge) setFlagsFromString('--no-parallel-scavenge');
  return fit;
}
