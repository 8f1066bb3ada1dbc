/** Default upper bound for a parsed `Retry-After`: one hour. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 3_600_000;

/** Options of {@link parseRetryAfter}. */
export interface ParseRetryAfterOptions {
  /** Clock used for HTTP-date values, in ms since the epoch. Default `Date.now()`. */
  now?: number;
  /** Larger delays are clamped to this many ms. Default one hour. */
  maxMs?: number;
}

const DELTA_SECONDS = /^\d+$/;
// IMF-fixdate, obsolete RFC 850 and asctime forms (RFC 9110 §5.6.7).
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Parses a `Retry-After` header into a delay in milliseconds from `now`.
 *
 * Accepts delta-seconds and the three HTTP-date forms. A date in the past gives 0; a delay
 * above `maxMs` gives `maxMs`. Anything else (empty, negative, fractional, garbage, several
 * values) gives `undefined`: the caller keeps its own backoff. Never throws, never NaN.
 */
export function parseRetryAfter(
  value: string | readonly string[] | null | undefined,
  options: ParseRetryAfterOptions = {},
): number | undefined {
  if (value == null) return undefined;
  if (typeof value !== 'string') {
    if (value.length !== 1) return undefined;
    value = value[0] as string;
  }
  const maxMs = Math.max(0, options.maxMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
  const text = value.trim();
  if (DELTA_SECONDS.test(text)) {
    // Very long digit strings become Infinity, which the clamp handles.
    return Math.min(Number(text) * 1000, maxMs);
  }
  if (!IMF_FIXDATE.test(text) && !RFC850_DATE.test(text) && !ASCTIME_DATE.test(text)) {
    return undefined;
  }
  const at = Date.parse(ASCTIME_DATE.test(text) ? `${text} GMT` : text);
  if (!Number.isFinite(at)) return undefined;
  const now = options.now ?? Date.now();
  return Math.min(Math.max(0, at - now), maxMs);
}

/** Formats a delay as `Retry-After` delta-seconds, rounded up, at least `minSeconds` (default 1). */
export function formatRetryAfter(delayMs: number, minSeconds = 1): string {
  const seconds = Number.isFinite(delayMs) ? Math.ceil(Math.max(0, delayMs) / 1000) : minSeconds;
  return String(Math.max(minSeconds, seconds));
}
