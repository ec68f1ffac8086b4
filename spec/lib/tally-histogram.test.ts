import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { TallyHistogram } from '../../lib/ops/tally-histogram.js';

const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1];
// On a bound, between bounds, above every bound, zero, tiny: each lands where prom-client puts it.
const OBSERVED: Array<[string, string, number]> = [
  ['token-issuer', 'access', 0.0005],
  ['token-issuer', 'access', 0.00051],
  ['token-issuer', 'access', 0.0003],
  ['token-issuer', 'access', 2.5],
  ['token-issuer', 'access', 0],
  ['token-validator', 'access', 0.01],
  ['token-validator', 'access', 1e-7],
  ['odd "plugin"\\name', 'acc\nss', 0.07],
  ['token-issuer', 'access', 1],
];

function both(): { ours: Registry; theirs: Registry; tally: TallyHistogram; histogram: Histogram<string> } {
  const ours = new Registry();
  const theirs = new Registry();
  const tally = new TallyHistogram('kong_auth_event_duration_seconds', 'Time per event.', ['plugin', 'phase'], BOUNDS, ours);
  const histogram = new Histogram({
    name: 'kong_auth_event_duration_seconds',
    help: 'Time per event.',
    labelNames: ['plugin', 'phase'],
    buckets: BOUNDS,
    registers: [theirs],
  });
  return { ours, theirs, tally, histogram };
}

describe('tally histogram', () => {
  test("its exposition text and JSON are prom-client's Histogram's for the same observations", async () => {
    const { ours, theirs, tally, histogram } = both();
    for (const [plugin, phase, seconds] of OBSERVED) {
      tally.series(plugin, phase).observe(seconds);
      histogram.observe({ plugin, phase }, seconds);
    }
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(text, /^kong_auth_event_duration_seconds_bucket\{le="0.0005",plugin="token-issuer",phase="access"\} 3$/m);
    assert.match(text, /^kong_auth_event_duration_seconds_count\{plugin="token-issuer",phase="access"\} 6$/m);
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  });

  test('a label set keeps one series, and reset forgets them all', async () => {
    const { ours, tally } = both();
    assert.equal(tally.series('a', 'access'), tally.series('a', 'access'));
    assert.notEqual(tally.series('a', 'access'), tally.series('a', 'log'));
    tally.series('a', 'access').observe(0.002);
    assert.match(await ours.metrics(), /_count\{plugin="a",phase="access"\} 1$/m);
    ours.resetMetrics();
    assert.doesNotMatch(await ours.metrics(), /_count/);
  });
});
