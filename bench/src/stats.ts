import type { Spread } from './results.js';

/** The `q` quantile (0..1) of ascending `sorted` values, by linear interpolation. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** Median, quartiles and extremes of per-round values. */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
    n: sorted.length,
  };
}

/** Per-round ratios `subject[i] / baseline[i]`. */
export function ratios(subject: readonly number[], baseline: readonly number[]): number[] {
  if (subject.length !== baseline.length) {
    throw new Error(`ratio of ${subject.length} rounds against ${baseline.length}`);
  }
  return subject.map((s, i) => s / (baseline[i] as number));
}

/** p50 and p99 of latency samples (ms); sorts a copy. */
export function percentiles(samples: readonly number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(samples).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}
