/** The arithmetic of the bench's figures. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export const round2 = (n: number): number => Math.round(n * 100) / 100;

/** Least-squares slope of samples taken once a second, in MB per hour. */
export function slopePerHour(samples: number[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = samples.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  samples.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return Math.round((num / den) * 3600 * 10) / 10;
}

/**
 * The slope of what the process keeps: the lowest RSS of each minute (the floor a garbage collection
 * returns to) from `fromSecond` on, in MB per hour. Raw samples swing ±20 MB with V8's collections, so
 * their least-squares slope over a few minutes says more about where the sawtooth stood than about a leak.
 */
export function retainedSlopePerHour(samples: number[], fromSecond = 60, samplesPerMinute = 60): number {
  const minima: number[] = [];
  for (let start = (fromSecond * samplesPerMinute) / 60; start + samplesPerMinute <= samples.length; start += samplesPerMinute)
    minima.push(Math.min(...samples.slice(start, start + samplesPerMinute)));
  return Math.round((slopePerHour(minima) / 60) * 10) / 10;
}
