import { parseIdempotencyKey } from '@unfazed/contract';

/**
 * Wall-clock time in epoch milliseconds with sub-millisecond precision. High resolution keeps
 * the order of events within one process; epoch-based values stay comparable with what a
 * child process on the same machine records to a file.
 * @internal
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
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
