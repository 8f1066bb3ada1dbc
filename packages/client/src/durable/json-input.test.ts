import { describe, expect, it } from '@jest/globals';
import { isInvalidOperationInputError, type InvalidOperationInputError } from './errors.js';
import { DEFAULT_MAX_INPUT_BYTES, MAX_INPUT_DEPTH, serialiseInput } from './json-input.js';

const MIB = DEFAULT_MAX_INPUT_BYTES;

/** The InvalidOperationInputError serialising `input` throws (anything else fails the test). */
function refusal(input: unknown, maxBytes = MIB): InvalidOperationInputError {
  try {
    serialiseInput('t', input, maxBytes);
  } catch (error) {
    if (isInvalidOperationInputError(error)) return error as InvalidOperationInputError;
    throw error;
  }
  throw new Error('expected an InvalidOperationInputError');
}

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

describe('operation input', () => {
  it('serialises plain JSON unchanged', () => {
    const input = {
      a: [1, 'two', null, { b: true }],
      c: -0.5,
      'd e': { '': [] },
      n: Object.assign(Object.create(null) as object, { x: 1 }),
    };
    expect(JSON.parse(serialiseInput('t', input, MIB))).toEqual(input);
    // -0 is the one change accepted: JSON has no -0, and -0 === 0.
    expect(serialiseInput('t', { z: -0 }, MIB)).toBe('{"z":0}');
  });

  it.each<[string, () => unknown, string, RegExp]>([
    ['a Map', () => ({ a: [{ when: new Map() }] }), 'input.a[0].when', /is a Map, not a plain/],
    ['a Date (its toJSON is not applied)', () => ({ when: new Date() }), 'input.when', /a Date/],
    ['a Buffer', () => ({ b: Buffer.from('x') }), 'input.b', /a Buffer/],
    ['an array subclass', () => ({ l: new (class List extends Array {})() }), 'input.l', /List/],
    ['Infinity', () => ({ n: Infinity }), 'input.n', /is Infinity, not a finite number/],
    ['NaN', () => [1, NaN], 'input[1]', /is NaN/],
    ['a function', () => ({ f: () => 1 }), 'input.f', /is a function, not JSON/],
    ['a toJSON member', () => ({ toJSON: () => 'x' }), 'input.toJSON', /is a function/],
    ['a bigint', () => ({ big: 1n }), 'input.big', /is a bigint/],
    ['undefined', () => ({ u: undefined }), 'input.u', /is undefined, not JSON/],
    ['undefined at the top', () => undefined, 'input', /is undefined/],
    ['a symbol value', () => ({ s: Symbol('s') }), 'input.s', /is a symbol/],
    [
      'a hole',
      () => ({
        items: [0, 1, 2, , 4] /* eslint-disable-line no-sparse-arrays -- the hole is the point */,
      }),
      'input.items[3]',
      /is a hole \(a sparse array\)/,
    ],
    ['a hole in a long array', () => new Array(10_000_000), 'input[0]', /is a hole/],
    [
      'a symbol-keyed member',
      () => ({ a: { [Symbol('secret')]: 1, b: 2 } }),
      'input.a',
      /has a symbol-keyed member \(Symbol\(secret\)\)/,
    ],
    [
      'a non-enumerable member',
      () => Object.defineProperty({}, 'hidden', { value: 1, enumerable: false }),
      'input.hidden',
      /is not enumerable/,
    ],
    [
      'a getter',
      () => Object.defineProperty({}, 'now', { get: () => Date.now(), enumerable: true }),
      'input.now',
      /is an accessor/,
    ],
    ['an extra array member', () => Object.assign([1], { note: 'x' }), 'input.note', /array/],
    [
      'a member name that is no identifier',
      () => ({ 'a b': [undefined] }),
      'input["a b"][0]',
      /undefined/,
    ],
  ])('refuses %s, naming the path', (_what, make, path, reason) => {
    const error = refusal(make());
    expect(error.path).toBe(path);
    expect(error.reason).toMatch(reason);
    expect(error.message).toBe(`Invalid input for "t": ${path} ${error.reason}`);
    expect(error.code).toBe('UNFAZED_ERR_DURABLE_INVALID_INPUT');
  });

  it('refuses cycles, and accepts an object seen twice without a cycle', () => {
    const cycle: Record<string, unknown> = {};
    cycle['self'] = { back: cycle };
    expect(refusal(cycle)).toMatchObject({
      path: 'input.self.back',
      reason: 'is a circular reference',
    });
    const shared = { x: 1 };
    expect(serialiseInput('t', { a: shared, b: shared }, MIB)).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it(`accepts ${MAX_INPUT_DEPTH} levels of nesting, and refuses 20 000 with a clear error, not a RangeError`, () => {
    expect(() => serialiseInput('t', nested(MAX_INPUT_DEPTH), MIB)).not.toThrow();
    const error = refusal(nested(20_000));
    expect(error.reason).toBe(`nests deeper than ${MAX_INPUT_DEPTH} levels of objects and arrays`);
    expect(error.path).toMatch(/^input(\.a|\[0\]){100}$/);
  });

  it('refuses an input larger than maxBytes: 5 MB and 50 MB against the 1 MiB default, fast', () => {
    const five = { blob: 'x'.repeat(5_000_000) };
    expect(refusal(five)).toMatchObject({
      path: 'input',
      reason: /more than maxInputBytes \(1048576\)/,
    });
    // 50 MB as many members (one shared string), and as one string.
    const text = 'y'.repeat(90);
    const fifty = { rows: Array.from({ length: 500_000 }, (_, i) => ({ i, text })) };
    const error = refusal(fifty);
    expect(error.reason).toMatch(
      /more than maxInputBytes \(1048576\) serialised \(over the limit at input\.rows\[\d+\]/,
    );
    expect(refusal({ blob: 'z'.repeat(50_000_000) })).toMatchObject({ path: 'input' });
    // Exactly at the limit passes; one byte more does not (multi-byte characters counted as UTF-8).
    const exact = JSON.stringify({ s: 'é'.repeat(10) }).length + 10; // 'é' is 2 bytes
    expect(() => serialiseInput('t', { s: 'é'.repeat(10) }, exact)).not.toThrow();
    expect(refusal({ s: 'é'.repeat(10) }, exact - 1)).toMatchObject({
      path: 'input',
      reason: `is ${exact} bytes serialised, more than maxInputBytes (${exact - 1})`,
    });
  });
});
