import type { PackagesForm } from './packages-form.js';
/** Names of the suites, in the order `pnpm bench` runs them. */
export const SUITE_NAMES = [
  'client',
  'server',
  'queue',
  'scale',
  'memory',
  'saga',
  'features',
  'ops',
] as const;

/** A suite name. */
export type SuiteName = (typeof SUITE_NAMES)[number];

/** How long and how often a run measures. */
export type BenchMode = 'full' | 'quick' | 'test';

/** The middle and the spread of one figure over the rounds of a run. */
export interface Spread {
  /** Median over the rounds. */
  readonly median: number;
  /** Smallest round. */
  readonly min: number;
  /** Largest round. */
  readonly max: number;
  /** First quartile (linear interpolation). */
  readonly q1: number;
  /** Third quartile (linear interpolation). */
  readonly q3: number;
  /** Rounds the figure was measured in. */
  readonly n: number;
}

/** One named side of a comparison and its value over the rounds. */
export interface Side {
  readonly name: string;
  readonly value: Spread;
}

/** A target from issue 8 or 13 and whether this run reached it. */
export interface Target {
  /** e.g. `ratio ≥ 0.95`. */
  readonly text: string;
  readonly met: boolean;
}

/** One row of the results table. */
export interface Measure {
  readonly suite: SuiteName;
  /** What was run, e.g. `c=64` or `Fastify, new key per request`. */
  readonly scenario: string;
  /** What was measured, e.g. `requests/s`. */
  readonly metric: string;
  /** Unit of `baseline` and `subject`: `req/s`, `ms`, `ops/s`, `B`, `commands`. */
  readonly unit: string;
  /**
   * What the subject is compared with, measured in the same rounds: the bare stack, a floor, a
   * peer (BullMQ, cockatiel, a peer middleware) or the same queue without a backlog.
   */
  readonly baseline?: Side;
  /** The Unfazed layer being measured. */
  readonly subject: Side;
  /** subject / baseline, computed per round (round i of one against round i of the other). */
  readonly ratio?: Spread;
  readonly target?: Target;
}

/** What one suite produced. */
export interface SuiteResult {
  readonly name: SuiteName;
  readonly title: string;
  /** Wall time of the suite, ms. */
  readonly durationMs: number;
  readonly measures: readonly Measure[];
  /** How to read this suite's figures, and anything unusual seen in this run. */
  readonly notes: readonly string[];
}

/** The whole run, as written to `results.json`. */
export interface BenchResults {
  readonly mode: BenchMode;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly environment: {
    readonly node: string;
    readonly platform: string;
    /** The form of the Unfazed packages measured: built `dist` or TypeScript sources. */
    readonly packages: PackagesForm;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly redis: { readonly source: string; readonly version: string };
    /** 1-minute load average when the run started and ended: how busy the machine was. */
    readonly loadAverage: { readonly start: number; readonly end: number };
  };
  readonly suites: readonly SuiteResult[];
}
