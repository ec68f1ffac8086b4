import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerKind } from './cli.js';
import { topCosts } from './cpu-profile.js';
import { gateServers, issuerServers, type Bench } from './harness.js';
import { table } from './report.js';

/** `make profile`: ours (or the `servers` kinds) under the targets' load with --cpu-prof; the top costs by function and by module. */
export async function profile(bench: Bench, servers?: Set<ServerKind>): Promise<void> {
  const kinds: Set<ServerKind> = servers ?? new Set(['ours']);
  for (const spec of [...issuerServers(bench), ...gateServers(bench)].filter((s) => kinds.has(s.kind))) {
    const dir = mkdtempSync(join(tmpdir(), 'kas-profile-'));
    const running = await bench.start({ ...spec, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
    const result = await bench.drive(running, spec, { seconds: 2 * bench.settings.window });
    await running.stopGracefully();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no CPU profile was written');
    const top = topCosts(join(dir, file), 12);
    process.stdout.write(
      `## ${spec.name}: ${result.eventsPerSecond} events/s under the profiler, c=${bench.settings.barLevel}, ${top.busyMs} ms busy (profile: ${join(dir, file)})\n\n`,
    );
    process.stdout.write(
      `${table(
        ['function (self time)', '% of busy'],
        top.functions.map((f) => [f.name, f.share]),
      )}\n\n`,
    );
    process.stdout.write(
      `${table(
        ['module (self time)', '% of busy'],
        top.modules.map((m) => [m.name, m.share]),
      )}\n\n`,
    );
  }
}
