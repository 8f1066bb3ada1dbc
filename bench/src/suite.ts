import type { ModeSettings } from './modes.js';
import type { BenchMode, Measure } from './results.js';

/** What every suite receives. */
export interface SuiteEnv {
  readonly mode: BenchMode;
  readonly settings: ModeSettings;
  /** Progress lines (stderr), so that stdout keeps only the table. */
  readonly log: (line: string) => void;
}

/** What a suite returns (the runner adds its name, title and duration). */
export interface SuiteOutput {
  readonly measures: Measure[];
  readonly notes: string[];
  /** Redis version and where it came from, when the suite used Redis. */
  readonly redis?: { source: string; version: string };
}

/** Throws when a load run saw errors: a benchmark of failing requests measures nothing. */
export function assertNoErrors(
  what: string,
  result: { errors: number; firstError: unknown; ops: number },
): void {
  if (result.errors > 0) {
    const first =
      result.firstError instanceof Error ? result.firstError.message : String(result.firstError);
    throw new Error(`${what}: ${result.errors} failed operations (first: ${first})`);
  }
  if (result.ops === 0) throw new Error(`${what}: no operation finished in the window`);
}
