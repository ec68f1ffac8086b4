import { Agent, get } from 'node:http';

/** Status-port latency with `concurrency` scrapers in a loop for `seconds`, keep-alive, as many Prometheus/kubelet clients would. */
export interface ScrapeResult {
  path: string;
  requests: number;
  failures: number;
  requestsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

function fetchOnce(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve) => {
    // Prometheus asks for text/plain; kubelet probes send no Accept.
    const req = get(url, { agent, headers: { accept: 'text/plain;version=0.0.4' } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', () => resolve(0));
  });
}

export async function scrapeUnderLoad(url: string, concurrency: number, seconds: number): Promise<ScrapeResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  const endAt = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < endAt) {
        const at = performance.now();
        const status = await fetchOnce(url, agent);
        latencies.push(performance.now() - at);
        if (status !== 200) failures++;
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2));
  return {
    path: new URL(url).pathname,
    requests: latencies.length,
    failures,
    requestsPerSecond: Math.round(latencies.length / ((performance.now() - started) / 1000)),
    p50Ms: q(0.5),
    p95Ms: q(0.95),
    p99Ms: q(0.99),
  };
}
