import { InvalidOptionError } from './errors.js';
import { trimOws } from './ows.js';

/** Default upper bound for a parsed `Retry-After`: one hour. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Largest delta-seconds {@link formatRetryAfter} writes: 2^31, the value RFC 9111 §1.2.2 tells
 * recipients to use for any larger delta-seconds.
 */
export const MAX_RETRY_AFTER_SECONDS = 2_147_483_648;

/** Options of {@link parseRetryAfter}. */
export interface ParseRetryAfterOptions {
  /** Clock used for HTTP-date values, in ms since the epoch. Default `Date.now()`. */
  now?: number;
  /**
   * Larger delays are clamped to this many ms: a number >= 0, default one hour. `Infinity`
   * lifts the clamp except for the 2^31 seconds of {@link MAX_RETRY_AFTER_SECONDS}.
   */
  maxMs?: number;
}

const DELTA_SECONDS = /^\d+$/;
// The three HTTP-date forms of RFC 9110 §5.6.7. Matched exactly, then built with Date.UTC,
// because Date.parse accepts far more than HTTP allows and reads 2-digit years its own way.
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Parses a `Retry-After` header into a delay in milliseconds from `now`.
 *
 * Accepts delta-seconds (`120`) and the three HTTP-date forms: IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`, a 2-digit year
 * read per RFC 9110) and asctime (`Sun Nov  6 08:49:37 1994`). A date in the past gives 0; a
 * delay above `maxMs` gives `maxMs` (and none exceeds 2^31 seconds, so the result is always a
 * finite number). Anything else (empty, negative, fractional, garbage, an
 * impossible date, several values) gives `undefined`: the caller keeps its own backoff.
 * Never throws on the header value and never returns NaN.
 * @throws {InvalidOptionError} when `now` or `maxMs` is not a usable number.
 */
export function parseRetryAfter(
  value: string | readonly string[] | null | undefined,
  options: ParseRetryAfterOptions = {},
): number | undefined {
  const maxOption = options.maxMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  if (typeof maxOption !== 'number' || Number.isNaN(maxOption) || maxOption < 0) {
    throw new InvalidOptionError('maxMs', 'must be a number >= 0', maxOption);
  }
  const maxMs = Math.min(maxOption, MAX_RETRY_AFTER_SECONDS * 1000);
  if (
    options.now !== undefined &&
    (typeof options.now !== 'number' || !Number.isFinite(options.now))
  ) {
    throw new InvalidOptionError(
      'now',
      'must be a finite number of ms since the epoch',
      options.now,
    );
  }
  let single: unknown = value;
  if (Array.isArray(single)) {
    if (single.length !== 1) return undefined;
    single = single[0];
  }
  if (typeof single !== 'string') return undefined;
  const text = trimOws(single);
  if (DELTA_SECONDS.test(text)) {
    // Very long digit strings become Infinity, which the clamp handles.
    return Math.min(Number(text) * 1000, maxMs);
  }
  const at = parseHttpDate(text, options.now);
  if (at === undefined) return undefined;
  const now = options.now ?? Date.now();
  return Math.min(Math.max(0, at - now), maxMs);
}

/**
 * Formats a delay as `Retry-After` delta-seconds: rounded up to whole seconds, at least
 * `minSeconds` (default 1, so a client never reads "retry now" while a lease still runs), at
 * most {@link MAX_RETRY_AFTER_SECONDS}. A NaN or negative delay gives `minSeconds`, so a
 * server answering a 409 or 503 never fails on a bad clock reading.
 * @throws {InvalidOptionError} when `minSeconds` is not an integer >= 0.
 */
export function formatRetryAfter(delayMs: number, minSeconds = 1): string {
  if (!Number.isSafeInteger(minSeconds) || minSeconds < 0) {
    throw new InvalidOptionError('minSeconds', 'must be an integer >= 0', minSeconds);
  }
  const seconds = Number.isNaN(delayMs) ? minSeconds : Math.ceil(Math.max(0, delayMs) / 1000);
  return String(Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(minSeconds, seconds)));
}

/** Epoch ms of an HTTP-date, or undefined when `text` is not one or names an impossible time. */
function parseHttpDate(text: string, now: number | undefined): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(m[3], m[2], m[1], m[4], m[5], m[6]);
  m = RFC850_DATE.exec(text);
  if (m) return utc(fullYear(Number(m[3]), now ?? Date.now()), m[2], m[1], m[4], m[5], m[6]);
  m = ASCTIME_DATE.exec(text);
  if (m) return utc(m[6], m[1], m[2], m[3], m[4], m[5]);
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a 2-digit year that would be more than 50 years in the future is the most
 * recent past year with the same last two digits. So the year lands within 50 years of now.
 */
function fullYear(twoDigits: number, now: number): number {
  const currentYear = new Date(now).getUTCFullYear();
  let year = currentYear - (currentYear % 100) + twoDigits;
  if (year > currentYear + 50) year -= 100;
  else if (year <= currentYear - 50) year += 100;
  return year;
}

function utc(
  year: string | number | undefined,
  monthName: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  const d = Number(day?.trim());
  const h = Number(hour);
  const min = Number(minute);
  const s = Number(second);
  // Seconds may be 60 (a leap second, RFC 5322 §3.3): counted as the first second after.
  if (month < 0 || d < 1 || h > 23 || min > 59 || s > 60) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  date.setUTCFullYear(Number(year), month, d);
  // Reject 31 Feb and the like instead of rolling them into the next month.
  if (date.getUTCDate() !== d) return undefined;
  date.setUTCHours(h, min, 0, 0);
  return date.getTime() + s * 1000;
}
