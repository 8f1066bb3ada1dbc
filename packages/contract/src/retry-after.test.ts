import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  DEFAULT_MAX_RETRY_AFTER_MS,
  MAX_RETRY_AFTER_SECONDS,
  parseRetryAfter,
  formatRetryAfter,
} from './retry-after.js';
import { isInvalidOptionError } from './errors.js';

// Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 §5.6.7.
const RFC_EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37);
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

function rfc850(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${pad(
    d.getUTCFullYear() % 100,
  )} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

function asctime(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]?.slice(0, 3)} ${MONTHS[d.getUTCMonth()]} ${String(
    d.getUTCDate(),
  ).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(
    d.getUTCSeconds(),
  )} ${d.getUTCFullYear()}`;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseRetryAfter: delta-seconds', () => {
  it.each<[string, string | readonly string[], number]>([
    ['seconds', '120', 120_000],
    ['zero', '0', 0],
    ['leading zeros', '007', 7_000],
    ['OWS around it', ' \t5 ', 5_000],
    ['a one-element array', ['3'], 3_000],
  ])('reads %s', (_label, value, ms) => {
    expect(parseRetryAfter(value)).toBe(ms);
  });

  it('clamps to maxMs, default one hour', () => {
    expect(parseRetryAfter('86400')).toBe(DEFAULT_MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('86400', { maxMs: 30_000 })).toBe(30_000);
    expect(parseRetryAfter('10', { maxMs: 0 })).toBe(0);
  });

  it('clamps digit strings too long for a number instead of returning Infinity', () => {
    expect(parseRetryAfter('9'.repeat(400), { maxMs: 5_000 })).toBe(5_000);
  });

  it('with maxMs Infinity, still caps at 2^31 seconds (RFC 9111 §1.2.2)', () => {
    const maxMs = Number.POSITIVE_INFINITY;
    expect(parseRetryAfter('86400', { maxMs })).toBe(86_400_000);
    expect(parseRetryAfter('9'.repeat(400), { maxMs })).toBe(MAX_RETRY_AFTER_SECONDS * 1000);
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', { now: 0, maxMs })).toBe(
      MAX_RETRY_AFTER_SECONDS * 1000,
    );
  });
});

describe('parseRetryAfter: HTTP-date', () => {
  const now = RFC_EXAMPLE - 30_000;

  it.each([
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT'],
    ['RFC 850', 'Sunday, 06-Nov-94 08:49:37 GMT'],
    ['asctime', 'Sun Nov  6 08:49:37 1994'],
    ['asctime with a 2-digit day', 'Sun Nov 16 08:49:37 1994'],
  ])('reads the %s form', (_label, value) => {
    const expected = value.includes('16') ? 10 * 86_400_000 + 30_000 : 30_000;
    expect(parseRetryAfter(value, { now, maxMs: 30 * 86_400_000 })).toBe(expected);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', { now: RFC_EXAMPLE + 1 })).toBe(0);
  });

  it('clamps a far date to maxMs', () => {
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', { now, maxMs: 1_000 })).toBe(1_000);
  });

  it('uses the real clock when now is not given', () => {
    const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString();
    const ms = parseRetryAfter(inTwoMinutes);
    expect(ms).toBeGreaterThan(110_000);
    expect(ms).toBeLessThanOrEqual(120_000);
  });

  it('reads an RFC 850 date against the real clock when now is not given', () => {
    const inTwoMinutes = rfc850(Date.now() + 120_000);
    const ms = parseRetryAfter(inTwoMinutes);
    expect(ms).toBeGreaterThan(110_000);
    expect(ms).toBeLessThanOrEqual(120_000);
  });

  it('reads a leap second as the first second of the next minute', () => {
    const at = Date.UTC(2016, 11, 31, 23, 59, 60);
    expect(parseRetryAfter('Sat, 31 Dec 2016 23:59:60 GMT', { now: at - 1_000 })).toBe(1_000);
  });

  it('reads an RFC 850 2-digit year as at most 50 years ahead (RFC 9110 §5.6.7)', () => {
    const in2026 = Date.UTC(2026, 0, 1);
    const maxMs = 200 * 365 * 86_400_000;
    // 2030 is ahead by less than 50 years: kept in this century.
    expect(parseRetryAfter('Thursday, 03-Jan-30 00:00:00 GMT', { now: in2026, maxMs })).toBe(
      Date.UTC(2030, 0, 3) - in2026,
    );
    // 2077 would be more than 50 years ahead: read as 1977, so already past.
    expect(parseRetryAfter('Saturday, 01-Jan-77 00:00:00 GMT', { now: in2026, maxMs })).toBe(0);
    // In 1990, "05" means 2005, not 1905.
    const in1990 = Date.UTC(1990, 0, 1);
    expect(parseRetryAfter('Saturday, 01-Jan-05 00:00:00 GMT', { now: in1990, maxMs })).toBe(
      Date.UTC(2005, 0, 1) - in1990,
    );
  });

  it('does not read a 4-digit year below 100 as 19xx', () => {
    expect(parseRetryAfter('Mon, 01 Jan 0099 00:00:00 GMT', { now: 0 })).toBe(0);
  });
});

describe('parseRetryAfter: ignored values give undefined', () => {
  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a number', 5],
    ['an empty array', []],
    ['two values as an array', ['1', '2']],
    ['an array holding a number', [5]],
    ['an empty string', ''],
    ['whitespace', '  '],
    ['a negative number', '-5'],
    ['a plus sign', '+5'],
    ['a fraction', '1.5'],
    ['an exponent', '1e3'],
    ['hex', '0x10'],
    ['two joined values', '5, 10'],
    ['digits with text', '5s'],
    ['Infinity', 'Infinity'],
    ['NaN', 'NaN'],
    ['a lower-case date', 'sun, 06 nov 1994 08:49:37 gmt'],
    ['an ISO date', '1994-11-06T08:49:37Z'],
    ['a date without GMT', 'Sun, 06 Nov 1994 08:49:37'],
    ['a date in another zone', 'Sun, 06 Nov 1994 08:49:37 PST'],
    ['an unknown month', 'Sun, 06 Foo 1994 08:49:37 GMT'],
    ['day 00', 'Sun, 00 Nov 1994 08:49:37 GMT'],
    ['31 February', 'Thu, 31 Feb 1994 08:49:37 GMT'],
    ['hour 24', 'Sun, 06 Nov 1994 24:00:00 GMT'],
    ['minute 60', 'Sun, 06 Nov 1994 08:60:00 GMT'],
    ['second 61', 'Sun, 06 Nov 1994 08:49:61 GMT'],
    ['a 1-digit day in IMF-fixdate', 'Sun, 6 Nov 1994 08:49:37 GMT'],
    ['an abbreviated day in RFC 850', 'Sun, 06-Nov-94 08:49:37 GMT'],
    ['an asctime date with GMT', 'Sun Nov  6 08:49:37 1994 GMT'],
  ])('%s', (_label, value) => {
    expect(parseRetryAfter(value as string, { now: RFC_EXAMPLE })).toBeUndefined();
  });
});

describe('parseRetryAfter: options', () => {
  it.each<[string, object, RegExp]>([
    ['maxMs NaN', { maxMs: Number.NaN }, /"maxMs": must be a number >= 0 \(got NaN\)/],
    ['maxMs negative', { maxMs: -1 }, /"maxMs"/],
    ['maxMs -Infinity', { maxMs: Number.NEGATIVE_INFINITY }, /"maxMs"/],
    ['maxMs a string', { maxMs: '5' }, /"maxMs".*got "5"/],
    ['now NaN', { now: Number.NaN }, /"now": must be a finite number/],
    ['now a Date', { now: new Date(0) }, /"now"/],
  ])('rejects %s with InvalidOptionError', (_label, options, message) => {
    const error = thrown(() => parseRetryAfter('5', options));
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });
});

describe('formatRetryAfter', () => {
  it.each<[number, number | undefined, string]>([
    [1_000, undefined, '1'],
    [1_001, undefined, '2'],
    [30_000, undefined, '30'],
    [0, undefined, '1'],
    [0, 0, '0'],
    [-5_000, undefined, '1'],
    [Number.NaN, undefined, '1'],
    [Number.NaN, 3, '3'],
    [Number.NEGATIVE_INFINITY, 0, '0'],
    [Number.POSITIVE_INFINITY, undefined, String(MAX_RETRY_AFTER_SECONDS)],
    [1e30, undefined, '2147483648'],
    [500, 5, '5'],
  ])('formats %p ms (minSeconds %p) as %p', (ms, min, text) => {
    expect(formatRetryAfter(ms, min)).toBe(text);
  });

  it.each([-1, 1.5, Number.NaN])('rejects minSeconds %p', (min) => {
    const error = thrown(() => formatRetryAfter(1_000, min));
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as Error).message).toMatch(/"minSeconds": must be an integer >= 0/);
  });
});

describe('properties', () => {
  const anyValue = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.stringMatching(/^[ \t]*[+-]?\d{0,30}(\.\d*)?[ \t]*$/),
    fc
      .date({ noInvalidDate: false })
      .map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toUTCString())),
  );
  const options = fc.record(
    {
      now: fc.integer({ min: -8.64e15, max: 8.64e15 }),
      maxMs: fc.oneof(
        fc.double({ min: 0, max: 1e12, noNaN: true }),
        fc.constant(Number.POSITIVE_INFINITY),
      ),
    },
    { requiredKeys: [] },
  );

  it('never throws, never NaN, always within 0..maxMs', () => {
    fc.assert(
      fc.property(
        fc.oneof(anyValue, fc.array(anyValue, { maxLength: 3 })),
        options,
        (value, opts) => {
          const ms = parseRetryAfter(value, opts);
          if (ms !== undefined) {
            expect(Number.isNaN(ms)).toBe(false);
            expect(ms).toBeGreaterThanOrEqual(0);
            expect(ms).toBeLessThanOrEqual(opts.maxMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
            expect(ms).toBeLessThanOrEqual(MAX_RETRY_AFTER_SECONDS * 1000);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('format → parse gives the delay rounded up to a second, clamped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }),
        fc.integer({ min: 0, max: 1e10 }),
        (delayMs, maxMs) => {
          const ms = parseRetryAfter(formatRetryAfter(delayMs), { maxMs });
          expect(ms).toBe(Math.min(Math.max(1, Math.ceil(delayMs / 1000)) * 1000, maxMs));
          expect(ms).toBeGreaterThanOrEqual(Math.min(delayMs, maxMs));
        },
      ),
    );
  });

  it('all three HTTP-date forms of one instant parse to the same delay', () => {
    const seconds = fc.integer({
      min: Date.UTC(1970, 0, 1) / 1000,
      max: Date.UTC(9999, 11, 31) / 1000,
    });
    fc.assert(
      fc.property(seconds, fc.integer({ min: -1e11, max: 1e11 }), (s, offset) => {
        const at = s * 1000;
        const now = at + offset;
        const maxMs = 1e12;
        const expected = Math.min(Math.max(0, at - now), maxMs);
        expect(parseRetryAfter(new Date(at).toUTCString(), { now, maxMs })).toBe(expected);
        expect(parseRetryAfter(asctime(at), { now, maxMs })).toBe(expected);
        // RFC 850 keeps only 2 digits of the year: exact within 50 years of now.
        if (Math.abs(at - now) < 49 * 365 * 86_400_000) {
          expect(parseRetryAfter(rfc850(at), { now, maxMs })).toBe(expected);
        }
      }),
    );
  });
});
