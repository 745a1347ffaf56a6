// What both ingest sections of the bench compute from batch latencies, so their figures mean the same.

/** The value below which a share `q` of `values` falls (nearest rank); NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
}

/**
 * Interactions in each of the two windows a p95 ratio compares, one from `earlyMark` and one up to `total`: 50,000
 * (100 batches; over 20 the early p95 moved by half between runs), a twentieth of larger runs, and never so many
 * that the two overlap.
 */
export const latencyWindow = (total: number, earlyMark: number) =>
  Math.min(Math.max(50_000, Math.round(total / 20)), Math.floor((total - earlyMark) / 2));
