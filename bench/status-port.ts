import { oursIssuer, type Bench } from './harness.js';
import { scrapeUnderLoad, type ScrapeResult } from './scrape.js';

/** 100 concurrent scrapers on /health, then on /metrics, while ours issues 1,000 tokens/s. */
export async function statusPort(bench: Bench): Promise<ScrapeResult[]> {
  const seconds = bench.settings.scrapeSeconds;
  process.stderr.write('status port, 100 concurrent scrapers while issuing at 1,000 events/s\n');
  const spec = oursIssuer(bench);
  const running = await bench.start(spec);
  try {
    const load = bench.drive(running, spec, { concurrency: 8, rate: 1_000, seconds: 2 * seconds + 1, warmupSeconds: 0 });
    const results: ScrapeResult[] = [];
    for (const path of ['/health', '/metrics']) results.push(await scrapeUnderLoad(`${running.statusUrl}${path}`, 100, seconds));
    await load;
    return results;
  } finally {
    await running.stop();
  }
}
