import { describe, expect, it } from '@jest/globals';
import { serialiseInput } from './json-input.js';

describe('operation input', () => {
  it('serialises plain JSON unchanged', () => {
    const input = { a: [1, 'two', null, { b: true }], c: -0.5 };
    expect(JSON.parse(serialiseInput('t', input))).toEqual(input);
  });

  it('names the path of anything JSON would change', () => {
    expect(() => serialiseInput('t', { a: [{ when: new Map() }] })).toThrow('$.a[0].when is a Map');
    expect(() => serialiseInput('t', { n: Infinity })).toThrow('$.n is Infinity');
    expect(() => serialiseInput('t', { f: () => 1 })).toThrow('$.f is a function');
    expect(() => serialiseInput('t', { big: 1n })).toThrow('$.big is a bigint');
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(() => serialiseInput('t', cycle)).toThrow('$.self is a circular reference');
  });
});
