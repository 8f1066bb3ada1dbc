import { validateOptions, type OptionsOf } from '@unfazed/contract';
import { resolvedBackoffRule } from './options.js';

/**
 * How long to wait between attempts of a durable operation: the client's vocabulary
 * (`retry.backoff` of `createClient`), plus `jitter`.
 */
export interface DurableBackoffOptions {
  /** Delay before the second attempt, ms. Default 1 000. */
  readonly initialMs?: number;
  /** Growth per attempt. Default 2. */
  readonly exponent?: number;
  /** Cap on any computed delay, ms. Default 300 000 (5 min). `Retry-After` may exceed it. */
  readonly maxMs?: number;
  /**
   * `full` (0..d), `equal` (d/2..d, the default) or `none`. Jitter spreads retries of many
   * operations that failed together so they do not return as a herd.
   */
  readonly jitter?: 'full' | 'equal' | 'none';
}

/** Backoff settings with every default filled in. */
export type ResolvedBackoff = OptionsOf<typeof resolvedBackoffRule>;

/**
 * Merges backoff layers (later ones win key by key), fills defaults and checks the result.
 * `name` and `path` say where an error came from (`createDurable`, `backoff`).
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function resolveBackoff(
  layers: readonly (DurableBackoffOptions | undefined)[],
  context: { name: string; path: string } = { name: 'backoff', path: 'backoff' },
): ResolvedBackoff {
  return validateOptions(resolvedBackoffRule, Object.assign({}, ...layers), context);
}

/** The delay after failed attempt number `attempt` (1-based), capped and jittered. */
export function backoffDelay(b: ResolvedBackoff, attempt: number, random: () => number): number {
  const exp = b.initialMs * Math.pow(b.exponent, Math.max(0, attempt - 1));
  const d = Math.min(b.maxMs, exp);
  if (b.jitter === 'none') return Math.round(d);
  if (b.jitter === 'full') return Math.round(d * random());
  return Math.round(d / 2 + (d / 2) * random());
}
