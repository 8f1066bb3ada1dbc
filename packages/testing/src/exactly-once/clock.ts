import { parseIdempotencyKey } from '@unfazed/contract';

/** Largest gap allowed between {@link preciseNow} and the wall clock before re-anchoring, ms. */
const MAX_DRIFT_MS = 1;

let anchorWall = Date.now();
let anchorMono = performance.now();
let last = 0;

/**
 * Wall-clock time in epoch milliseconds with sub-millisecond precision, never going backwards
 * within a process. The fraction comes from the monotonic clock, but the value is re-anchored
 * to `Date.now()` whenever the two drift apart by more than a millisecond: the monotonic clock
 * of a long-lived process can fall behind the wall clock (a virtual machine that was paused
 * stops it; `performance.timeOrigin + performance.now()` lagged 600 ms in a jest worker after
 * a few minutes), and times recorded here are compared with those a fresh child process on the
 * same machine writes to a file. Histories and ledgers stamp their events with it; use it for
 * any time you compare across processes (e.g. the lateness of a retry against its due time).
 */
export function preciseNow(): number {
  const mono = performance.now();
  const wall = Date.now();
  let at = anchorWall + (mono - anchorMono);
  if (Math.abs(at - wall) > MAX_DRIFT_MS) {
    anchorWall = wall;
    anchorMono = mono;
    at = wall;
  }
  if (at < last) at = last;
  last = at;
  return at;
}

/**
 * The idempotency key in a raw key or an `Idempotency-Key` header value: a quoted sf-string
 * (what the client sends) is unquoted, anything else is kept as it is. `undefined` for a
 * missing or malformed header.
 * @internal
 */
export function normalizeKey(
  value: string | readonly string[] | undefined | null,
): string | undefined {
  if (value == null) return undefined;
  const parsed = parseIdempotencyKey(value);
  if (parsed.ok) return parsed.key;
  return typeof value === 'string' && value !== '' ? value : undefined;
}
