import type { Measure, SuiteName, Target } from './results.js';
import { ratios, spread } from './stats.js';

/** One side of an A/B comparison: runs one round and returns its figures by name. */
export interface Variant {
  readonly name: string;
  run(round: number): Promise<Record<string, number>>;
}

/** Figures of every variant, round by round: `result.get(variant)[round][figure]`. */
export type RoundResults = Map<string, Record<string, number>[]>;

/**
 * Runs the variants in turn, A, B, A, B …, `rounds` times, so that drift of a shared, noisy
 * machine hits every variant alike; `between` runs after every round of every variant.
 */
export async function alternate(
  variants: readonly Variant[],
  rounds: number,
  between?: () => Promise<void>,
): Promise<RoundResults> {
  const results: RoundResults = new Map(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      results.get(variant.name)?.push(await variant.run(round));
      await between?.();
    }
  }
  return results;
}

/** The values of `figure` of `variant` over the rounds. */
export function series(results: RoundResults, variant: string, figure: string): number[] {
  const rounds = results.get(variant);
  if (!rounds) throw new Error(`no variant "${variant}" in these results`);
  return rounds.map((r) => {
    const v = r[figure];
    if (v === undefined) throw new Error(`variant "${variant}" has no figure "${figure}"`);
    return v;
  });
}

/** A row comparing subject with baseline, with the per-round ratio subject / baseline. */
export function compare(row: {
  suite: SuiteName;
  scenario: string;
  metric: string;
  unit: string;
  baseline: { name: string; values: readonly number[] };
  subject: { name: string; values: readonly number[] };
  target?: (ratioMedian: number) => Target;
}): Measure {
  const ratio = spread(ratios(row.subject.values, row.baseline.values));
  return {
    suite: row.suite,
    scenario: row.scenario,
    metric: row.metric,
    unit: row.unit,
    baseline: { name: row.baseline.name, value: spread(row.baseline.values) },
    subject: { name: row.subject.name, value: spread(row.subject.values) },
    ratio,
    ...(row.target ? { target: row.target(ratio.median) } : {}),
  };
}

/** A row with one measured side only (a count or a size), its spread over the rounds. */
export function single(row: {
  suite: SuiteName;
  scenario: string;
  metric: string;
  unit: string;
  subject: { name: string; values: readonly number[] };
  target?: (median: number) => Target;
}): Measure {
  const value = spread(row.subject.values);
  return {
    suite: row.suite,
    scenario: row.scenario,
    metric: row.metric,
    unit: row.unit,
    subject: { name: row.subject.name, value },
    ...(row.target ? { target: row.target(value.median) } : {}),
  };
}

/** `≥ x` target. */
export function atLeast(x: number, what = 'ratio'): (v: number) => Target {
  return (v) => ({ text: `${what} ≥ ${x}`, met: v >= x });
}

/** `> x` target (a peer comparison: Unfazed must be faster). */
export function above(x: number, what = 'ratio'): (v: number) => Target {
  return (v) => ({ text: `${what} > ${x}`, met: v > x });
}

/** `≤ x` target. */
export function atMost(x: number, what = 'ratio'): (v: number) => Target {
  return (v) => ({ text: `${what} ≤ ${x}`, met: v <= x });
}

/** `= x` target (within rounding of a per-request average). */
export function exactly(x: number, what: string): (v: number) => Target {
  return (v) => ({ text: `${what} = ${x}`, met: Math.abs(v - x) < 0.005 });
}
