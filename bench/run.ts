import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { argv } from 'node:process';
import { startFakeAdminApi } from '../kong/stand-in/fake-admin-api.js';
import { createKongStore } from '../kong/stand-in/kong-store.js';
import { PROJECT_ROOT } from '../kong/stand-in/plugin-server-process.js';
import { OtlpReceiver } from '../spec/support/otlp-receiver.js';
import { parseBenchArgs, USAGE, UsageError, type BenchArgs, type Section } from './cli.js';
import { BENCH_CONSUMER, BENCH_CREDENTIAL, coldConsumer, SCOPED_BENCH_CONSUMER } from './driver.js';
import { Bench, runPinnedJson } from './harness.js';
import { e2e } from './e2e.js';
import { fixedRate } from './latency.js';
import { memory } from './memory.js';
import type { MicroRow } from './micro.js';
import { profile } from './profile.js';
import { report } from './report.js';
import { keySetCosts, scenarios } from './scenarios.js';
import { soak } from './soak.js';
import { statusPort } from './status-port.js';
import { theBar } from './targets.js';
import { throughput } from './throughput.js';
import { compareVariants } from './variants.js';

/**
 * `make bench`: our plugins against the bare kong-pdk 0.6.0 plugins and the floor (a minimal protocol
 * server), interleaved in one run, server pinned to core 0 and driver to core 1; then the scenarios,
 * the fixed-rate latency, the status port under scrapers, memory after 1 M tokens, and the targets with
 * every ratio. Writes bench/results/<date>.json. `--smoke`: tiny sizes, to check the machinery in
 * `make test`. `--soak`, `--profile`, `--variants`: that job only (bench/cli.ts has every flag).
 */
const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');

async function rawCosts(seconds: number): Promise<MicroRow[]> {
  process.stderr.write('raw costs\n');
  return runPinnedJson<MicroRow[]>(1, 'micro', [String(seconds), '--json']);
}

/** Every section (or those of `--only`), the targets, the report, and the results file. */
async function benchmark(bench: Bench, args: BenchArgs, date: string): Promise<void> {
  const S = bench.settings;
  const wanted = (section: Section) => !args.only || args.only.has(section);
  const micro = wanted('micro') ? await rawCosts(S.microSeconds) : [];
  if (wanted('throughput')) await throughput(bench, args.servers);
  if (wanted('scenarios')) await scenarios(bench);
  if (wanted('key-set')) await keySetCosts(bench);
  if (wanted('fixed-rate')) await fixedRate(bench);
  const scrapes = wanted('status') ? await statusPort(bench) : [];
  if (wanted('memory')) process.stderr.write(`memory: ${S.memoryTokens.toLocaleString('en-US')} tokens\n`);
  const mem = wanted('memory') ? await memory(bench, S.memoryTokens) : undefined;
  const endToEnd = wanted('e2e') ? await e2e(bench, S.e2e) : undefined;
  const results = {
    micro,
    rows: bench.rows,
    scrapes,
    memory: mem,
    e2e: endToEnd,
    bar: theBar(bench.rows, bench.featureCosts, mem, S.barLevel, RESULTS_DIR, endToEnd),
    featureCosts: bench.featureCosts,
  };
  process.stdout.write(report(results, { barLevel: S.barLevel, smoke: args.smoke }));
  const file = join(RESULTS_DIR, `${date}${args.smoke ? '.smoke' : args.only ? '.partial' : ''}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        node: process.version,
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        smoke: args.smoke,
        settings: S,
        ...results,
        rows: bench.rows.map(({ rssSamplesMb: _, ...r }) => r),
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`results: ${file}\n`);
}

async function main(args: BenchArgs): Promise<void> {
  const store = createKongStore();
  const consumer = store.addConsumer(BENCH_CONSUMER);
  store.addJwtCredential(consumer.id, BENCH_CREDENTIAL);
  store.addJwtCredential(store.addConsumer(SCOPED_BENCH_CONSUMER).id, { ...BENCH_CREDENTIAL, key: 'bench-scoped-key' });
  for (let n = 0; n < args.settings.coldConsumers; n++) store.addConsumer(coldConsumer(n));
  const admin = await startFakeAdminApi({ store, adminToken: 'bench-admin-token-0123456789' });
  const otlp = await OtlpReceiver.start();
  const bench = new Bench(admin, otlp, args.settings);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  try {
    await bench.loadConfigs();
    if (args.job === 'profile') await profile(bench, args.servers);
    else if (args.job === 'variants') await compareVariants(bench, args.variants ?? {}, args.rate);
    else if (args.job === 'soak') await soak(bench, RESULTS_DIR, date);
    else await benchmark(bench, args, date);
  } finally {
    await bench.close();
    await otlp.close();
    await admin.close();
  }
}

let args: BenchArgs | undefined;
try {
  args = parseBenchArgs(argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
  process.exitCode = 2;
}
if (args) await main(args);
