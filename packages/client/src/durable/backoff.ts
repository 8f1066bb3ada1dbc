import { InvalidOptionError } from '@unfazed/contract';

/** How long to wait between attempts of a durable operation. */
export interface DurableBackoffOptions {
  /** Delay before the second attempt, ms. Default 1 000. */
  readonly initialDelay?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Cap on any computed delay, ms. Default 300 000 (5 min). `Retry-After` may exceed it. */
  readonly maxDelay?: number;
  /**
   * `full` (0..d), `equal` (d/2..d, the default) or `none`. Jitter spreads retries of many
   * operations that failed together so they do not return as a herd.
   */
  readonly jitter?: 'full' | 'equal' | 'none';
}

/** Backoff settings with every default filled in. */
export type ResolvedBackoff = Required<DurableBackoffOptions>;

/** Validates backoff options and fills defaults. `path` names the option in errors. */
export function resolveBackoff(
  options: DurableBackoffOptions = {},
  path = 'backoff',
): ResolvedBackoff {
  const r: ResolvedBackoff = {
    initialDelay: options.initialDelay ?? 1_000,
    factor: options.factor ?? 2,
    maxDelay: options.maxDelay ?? 300_000,
    jitter: options.jitter ?? 'equal',
  };
  if (!Number.isFinite(r.initialDelay) || r.initialDelay < 0)
    throw new InvalidOptionError(
      `${path}.initialDelay`,
      'must be a finite number >= 0',
      r.initialDelay,
    );
  if (!Number.isFinite(r.factor) || r.factor < 1)
    throw new InvalidOptionError(`${path}.factor`, 'must be a finite number >= 1', r.factor);
  if (!Number.isFinite(r.maxDelay) || r.maxDelay < r.initialDelay)
    throw new InvalidOptionError(
      `${path}.maxDelay`,
      'must be finite and >= initialDelay',
      r.maxDelay,
    );
  if (!['full', 'equal', 'none'].includes(r.jitter))
    throw new InvalidOptionError(`${path}.jitter`, "must be 'full', 'equal' or 'none'", r.jitter);
  return r;
}

/** The delay after failed attempt number `attempt` (1-based), capped and jittered. */
export function backoffDelay(b: ResolvedBackoff, attempt: number, random: () => number): number {
  const exp = b.initialDelay * Math.pow(b.factor, Math.max(0, attempt - 1));
  const d = Math.min(b.maxDelay, exp);
  if (b.jitter === 'none') return Math.round(d);
  if (b.jitter === 'full') return Math.round(d * random());
  return Math.round(d / 2 + (d / 2) * random());
}
