import type { ServerKind } from './cli.js';
import { gateServers, issuerServers, type Bench } from './harness.js';

/**
 * Every server at every level, interleaved: at the targets' level `rounds` rounds in alternating order, one
 * round at the others; then the kong-pdk noop, the transport's ceiling. `servers`: these kinds only.
 */
export async function throughput(bench: Bench, servers?: Set<ServerKind>): Promise<void> {
  const S = bench.settings;
  process.stderr.write('throughput (interleaved)\n');
  for (const [group, specs] of [
    ['issuer', issuerServers(bench)],
    ['gate', gateServers(bench)],
  ] as const) {
    for (const level of S.levels) {
      const rounds = level === S.barLevel ? S.rounds : 1;
      for (let round = 0; round < rounds; round++) {
        const picked = specs.filter((spec) => !servers || servers.has(spec.kind));
        const order = round % 2 === 0 ? picked : [...picked].reverse();
        for (const spec of order) await bench.measure(group, spec, level, round, level === S.barLevel ? {} : S.otherLevels);
      }
    }
  }
  if (!servers || servers.has('kong-pdk'))
    await bench.measure('noop', { name: 'kong-pdk noop', kind: 'kong-pdk', plugin: 'noop', request: 'gate' }, S.barLevel, 0);
}
