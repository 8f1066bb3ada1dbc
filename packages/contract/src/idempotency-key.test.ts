import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  generateIdempotencyKey,
  parseIdempotencyKey,
  validateIdempotencyKey,
  formatIdempotencyKey,
  type IdempotencyKeyParseResult,
} from './idempotency-key.js';
import { isInvalidIdempotencyKeyError, type IdempotencyKeyRejection } from './errors.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const REASONS: readonly IdempotencyKeyRejection[] = [
  'missing',
  'not-a-string',
  'multiple',
  'empty',
  'too-long',
  'invalid-character',
  'unterminated-string',
  'invalid-escape',
  'trailing-characters',
];

function accepted(result: IdempotencyKeyParseResult): { key: string; form: string } {
  if (!result.ok) throw new Error(`expected the key to be accepted: ${result.message}`);
  return { key: result.key, form: result.form };
}

function rejected(result: IdempotencyKeyParseResult): { reason: string; message: string } {
  if (result.ok) throw new Error(`expected a rejection, got key ${JSON.stringify(result.key)}`);
  return { reason: result.reason, message: result.message };
}

describe('generateIdempotencyKey', () => {
  it('returns a UUIDv7 that the parser accepts in both forms', () => {
    const key = generateIdempotencyKey();
    expect(key).toMatch(UUID_V7);
    expect(accepted(parseIdempotencyKey(key))).toEqual({ key, form: 'token' });
    expect(accepted(parseIdempotencyKey(formatIdempotencyKey(key)))).toEqual({
      key,
      form: 'sf-string',
    });
  });

  it('returns a new key each time, sortable by creation', () => {
    const keys = Array.from({ length: 50 }, () => generateIdempotencyKey());
    expect(new Set(keys).size).toBe(50);
    expect([...keys].sort()).toEqual(keys);
  });

  it('stays valid, distinct and ordered across refills of its random pool', () => {
    const keys = Array.from({ length: 2000 }, () => generateIdempotencyKey());
    for (const key of keys) expect(key).toMatch(UUID_V7);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual(keys);
  });

  it('carries the current time in its first 48 bits', () => {
    const before = Date.now();
    const key = generateIdempotencyKey();
    const ms = parseInt(key.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });
});

describe('parseIdempotencyKey: accepted forms', () => {
  it.each<[string, string, string, 'sf-string' | 'token']>([
    ['an sf-string', '"abc-123"', 'abc-123', 'sf-string'],
    ['an sf-string with spaces inside', '"order 42 / retry"', 'order 42 / retry', 'sf-string'],
    ['an sf-string with escapes', String.raw`"a\"b\\c"`, 'a"b\\c', 'sf-string'],
    ['an sf-string with a comma inside', '"a, b"', 'a, b', 'sf-string'],
    ['an sf-string with OWS around it', ' \t"abc"\t ', 'abc', 'sf-string'],
    ['an sf-string with a parameter', '"abc";v=1', 'abc', 'sf-string'],
    ['an sf-string with a bare parameter', '"abc";fresh', 'abc', 'sf-string'],
    [
      'an sf-string with several parameters of every kind',
      '"abc";a=-12;b=1.5; c="x\\"y";d=tok/en:1;e=:aGk=:;f=?1;g=?0;*h',
      'abc',
      'sf-string',
    ],
    ['a single printable character', '"!"', '!', 'sf-string'],
    ['a bare UUID (starts with a digit)', '0190f1d8-3b7a-7cc1-9f00-123456789abc', '', 'token'],
    ['a bare token with symbols', 'Ab:/_.-~!#$%&*+^`|', 'Ab:/_.-~!#$%&*+^`|', 'token'],
    ['a bare token with OWS around it', '  abc  ', 'abc', 'token'],
  ])('%s', (_label, header, key, form) => {
    const expected = key === '' ? header : key;
    expect(accepted(parseIdempotencyKey(header))).toEqual({ key: expected, form });
  });

  it('accepts an array with exactly one value (undici and headersDistinct give arrays)', () => {
    expect(accepted(parseIdempotencyKey(['"abc"']))).toEqual({ key: 'abc', form: 'sf-string' });
  });

  it('accepts keys of exactly 255 characters in both forms', () => {
    const key = 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH);
    expect(accepted(parseIdempotencyKey(key)).key).toBe(key);
    expect(accepted(parseIdempotencyKey(`"${key}"`)).key).toBe(key);
  });

  it('counts the decoded length, so escapes do not count twice', () => {
    const key = '"'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH);
    expect(accepted(parseIdempotencyKey(formatIdempotencyKey(key))).key).toBe(key);
  });
});

describe('parseIdempotencyKey: rejections name the rule', () => {
  it.each<[string, unknown, IdempotencyKeyRejection, RegExp]>([
    ['undefined', undefined, 'missing', /missing/],
    ['null', null, 'missing', /missing/],
    ['an empty array', [], 'missing', /missing/],
    ['a number', 42, 'not-a-string', /number/],
    ['an array holding a number', [42], 'not-a-string', /number/],
    ['two header lines as an array', ['"a"', '"b"'], 'multiple', /2 times/],
    ["two sf-strings in Node's join", '"a", "b"', 'multiple', /several/],
    ['two sf-strings joined without space', '"a","b"', 'multiple', /several/],
    ['two sf-strings with parameters joined', '"a";v=1, "b"', 'multiple', /several/],
    ["two tokens in Node's join", 'abc, def', 'multiple', /several/],
    ['a token and an empty line joined', 'abc, ', 'multiple', /several/],
    [
      "two UUIDs in Node's join",
      `${generateIdempotencyKey()}, ${generateIdempotencyKey()}`,
      'multiple',
      /several/,
    ],
    ['an empty string', '', 'empty', /empty/],
    ['only whitespace', ' \t ', 'empty', /empty/],
    ['an empty sf-string', '""', 'empty', /empty/],
    [
      'an sf-string of 256 characters',
      `"${'k'.repeat(256)}"`,
      'too-long',
      /256 characters long; the limit is 255/,
    ],
    ['a token of 256 characters', 'k'.repeat(256), 'too-long', /256/],
    [
      'a control character in an sf-string',
      '"a\u0001b"',
      'invalid-character',
      /control character \(0x01\) at index 2/,
    ],
    ['a tab inside an sf-string', '"a\tb"', 'invalid-character', /0x09/],
    ['DEL inside an sf-string', '"a\u007fb"', 'invalid-character', /control character \(0x7F\)/],
    [
      'a non-ASCII character in an sf-string',
      '"café"',
      'invalid-character',
      /non-ASCII character \(0xE9\)/,
    ],
    ['a newline in a token', 'ab\ncd', 'invalid-character', /0x0A/],
    ['a space inside a token', 'ab cd', 'invalid-character', /" " \(0x20\).*quoted string/],
    ['a non-ASCII character in a token', 'ключ', 'invalid-character', /non-ASCII/],
    [
      'a quote inside a token',
      'ab"cd',
      'invalid-character',
      /has "\\"" \(0x22\) at index 2, which a bare key cannot contain; send the key as a quoted string/,
    ],
    ['a backslash inside a token', 'ab\\cd', 'invalid-character', /0x5C/],
    [
      'a semicolon after a token',
      'abc;v=1',
      'invalid-character',
      /parameters are allowed only after a quoted key/,
    ],
    ['an unterminated sf-string', '"abc', 'unterminated-string', /never closes/],
    ['a lone quote', '"', 'unterminated-string', /never closes/],
    ['an sf-string ending in a backslash', '"abc\\', 'unterminated-string', /escape/],
    ['an invalid escape', String.raw`"a\nb"`, 'invalid-escape', /index 2/],
    ['text after the closing quote', '"abc"def', 'trailing-characters', /index 5/],
    ['a space before a parameter', '"abc" ;v=1', 'trailing-characters', /after its quoted string/],
    ['an upper-case parameter key', '"abc";V=1', 'trailing-characters', /after its quoted string/],
    [
      'a parameter with an invalid value',
      '"abc";v=@',
      'trailing-characters',
      /after its quoted string/,
    ],
    [
      'an integer parameter of 16 digits',
      '"abc";v=1234567890123456',
      'trailing-characters',
      /after/,
    ],
    ['a second sf-string without comma', '"a" "b"', 'trailing-characters', /after/],
  ])('%s', (_label, header, reason, message) => {
    const result = rejected(parseIdempotencyKey(header as string));
    expect(result.reason).toBe(reason);
    expect(result.message).toMatch(message);
    expect(result.message).toMatch(/Idempotency-Key/);
  });
});

describe('validateIdempotencyKey', () => {
  it('returns a valid key unchanged', () => {
    expect(validateIdempotencyKey('order 42 "retry"')).toBe('order 42 "retry"');
  });

  it.each<[string, unknown, IdempotencyKeyRejection, RegExp]>([
    ['a number', 42, 'not-a-string', /must be a string, got number/],
    ['null', null, 'not-a-string', /got null/],
    ['an empty string', '', 'empty', /empty/],
    ['256 characters', 'x'.repeat(256), 'too-long', /limit is 255/],
    ['a newline', 'a\nb', 'invalid-character', /0x0A\) at index 1/],
    ['a non-ASCII character', 'a\u00a0b', 'invalid-character', /non-ASCII/],
  ])('rejects %s with a typed error', (_label, key, reason, message) => {
    let thrown: unknown;
    try {
      validateIdempotencyKey(key as string);
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidIdempotencyKeyError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: 'UNFAZED_ERR_INVALID_IDEMPOTENCY_KEY', reason });
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('formatIdempotencyKey', () => {
  it('quotes and escapes', () => {
    expect(formatIdempotencyKey('abc')).toBe('"abc"');
    expect(formatIdempotencyKey('a"b\\c')).toBe(String.raw`"a\"b\\c"`);
  });

  it('refuses a key that the server would reject', () => {
    expect(() => formatIdempotencyKey('')).toThrow(/empty/);
    expect(() => formatIdempotencyKey('a\r\nX-Injected: 1')).toThrow(/control character/);
  });
});

// Printable ASCII (0x20-0x7E): what a key may contain.
const keyChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const validKey = fc.string({ unit: keyChar, minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH });
// What a bare token may contain: visible ASCII without `"`, `\`, `,` and `;`.
const tokenChar = keyChar.filter((c) => !' ",;\\'.includes(c));
const validToken = fc.string({
  unit: tokenChar,
  minLength: 1,
  maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
});
const anyHeader = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('"', '\\', ',', ';', ' ', '\t', '=', 'a', '1', '?', ':') }),
);

describe('properties', () => {
  it('format → parse gives the key back, for every valid key', () => {
    fc.assert(
      fc.property(validKey, (key) => {
        expect(parseIdempotencyKey(formatIdempotencyKey(key))).toEqual({
          ok: true,
          key,
          form: 'sf-string',
        });
      }),
    );
  });

  it('a valid token is accepted as it is', () => {
    fc.assert(
      fc.property(validToken, (key) => {
        expect(parseIdempotencyKey(key)).toEqual({ ok: true, key, form: 'token' });
      }),
    );
  });

  it("Node's join of two header lines is always rejected as multiple", () => {
    const oneLine = fc.oneof(validToken, validKey.map(formatIdempotencyKey));
    fc.assert(
      fc.property(oneLine, oneLine, (a, b) => {
        expect(parseIdempotencyKey(`${a}, ${b}`)).toMatchObject({ ok: false, reason: 'multiple' });
        expect(parseIdempotencyKey([a, b])).toMatchObject({ ok: false, reason: 'multiple' });
      }),
    );
  });

  it('keys longer than 255 are rejected in both forms', () => {
    const longKey = fc.string({ unit: tokenChar, minLength: 256, maxLength: 600 });
    fc.assert(
      fc.property(longKey, (key) => {
        expect(parseIdempotencyKey(key)).toMatchObject({ ok: false, reason: 'too-long' });
        expect(parseIdempotencyKey(`"${key}"`)).toMatchObject({ ok: false, reason: 'too-long' });
      }),
    );
  });

  it('never throws on arbitrary input, and every accepted key is valid', () => {
    fc.assert(
      fc.property(fc.oneof(anyHeader, fc.array(anyHeader, { maxLength: 3 })), (header) => {
        const result = parseIdempotencyKey(header);
        if (result.ok) {
          expect(validateIdempotencyKey(result.key)).toBe(result.key);
        } else {
          expect(REASONS).toContain(result.reason);
          expect(result.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('validate either returns the key or throws the typed error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), validKey), (key) => {
        try {
          expect(validateIdempotencyKey(key)).toBe(key);
          expect(parseIdempotencyKey(formatIdempotencyKey(key))).toMatchObject({ ok: true, key });
        } catch (error) {
          expect(isInvalidIdempotencyKeyError(error)).toBe(true);
        }
      }),
    );
  });
});
