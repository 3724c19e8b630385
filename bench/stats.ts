/** Small statistics for benchmark samples: median, percentiles (nearest rank), summaries. */

/**
 * The p-th percentile (0–100) by nearest rank; NaN for no samples.
 *
 * @example
 * percentile([1, 2, 3, 4], 50); // 2
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/**
 * The median (mean of the two middle values for an even count); NaN for no samples.
 *
 * @example
 * median([3, 1, 2, 10]); // 2.5
 */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

/** p50 / p99 / max / count of latency samples, in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * @example
 * summarize([0.1, 0.2, 5]); // { count: 3, p50: 0.2, p99: 5, max: 5 }
 */
export function summarize(samples: readonly number[]): LatencySummary {
  return {
    count: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max:
      samples.length === 0 ? Number.NaN : samples.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY),
  };
}

/**
 * The run whose `key` is the median of all runs (the lower middle one for an even count), so a
 * reported row is one real run, not a mix of several.
 *
 * @example
 * const typical = medianRun(runs, (r) => r.wallMs);
 */
export function medianRun<T>(runs: readonly T[], key: (run: T) => number): T {
  if (runs.length === 0) throw new Error('medianRun: no runs');
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as T;
}

/** Rounds for display: 2 significant decimals under 10, 1 under 100, none above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const abs = Math.abs(value);
  const digits = abs < 10 ? 2 : abs < 100 ? 1 : 0;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
