import { describe, expect, it } from '@jest/globals';
import { ParsedBody, compileExclusions, recordKey, requestFingerprint } from './fingerprint.js';

const base = { method: 'POST', target: '/charges', scope: '', excludeFields: [] as string[] };
const fpOf = (body: Uint8Array | ParsedBody, extra: Partial<typeof base> = {}) => {
  const { excludeFields, ...rest } = { ...base, ...extra };
  return requestFingerprint({ ...rest, body, exclusions: compileExclusions(excludeFields) });
};
const fp = (body: string, extra: Partial<typeof base> = {}) => fpOf(Buffer.from(body), extra);
const parsed = (value: unknown, extra: Partial<typeof base> = {}) =>
  fpOf(new ParsedBody(value), extra);

describe('requestFingerprint', () => {
  it('hashes the raw bytes: reordered or re-spaced JSON is another request', () => {
    expect(fp('{"a":1,"b":2}')).toBe(fp('{"a":1,"b":2}'));
    expect(fp('{"a":1,"b":2}')).not.toBe(fp('{"b":2,"a":1}'));
    expect(fp('{"a":1}')).not.toBe(fp('{"a": 1}'));
  });

  it('includes method, target and scope', () => {
    expect(fp('{}')).not.toBe(fp('{}', { method: 'PATCH' }));
    expect(fp('{}')).not.toBe(fp('{}', { target: '/charges?x=1' }));
    expect(fp('{}')).not.toBe(fp('{}', { scope: 'alice' }));
  });

  it('leaves excluded fields out of a JSON body, canonically', () => {
    const ex = { excludeFields: ['sentAt', 'meta.trace'] };
    expect(fp('{"amount":1,"sentAt":1,"meta":{"trace":"a"}}', ex)).toBe(
      fp('{"meta":{"trace":"b"},"sentAt":2, "amount":1}', ex),
    );
    expect(fp('{"amount":1,"sentAt":1}', ex)).not.toBe(fp('{"amount":2,"sentAt":1}', ex));
  });

  it('hashes a parsed object canonically: the same JSON in any key order is the same request', () => {
    expect(parsed({ a: 1, b: { c: [1, { d: 2, e: 3 }] } })).toBe(
      parsed(JSON.parse('{"b":{"c":[1,{"e":3,"d":2}]},"a":1}')),
    );
    expect(parsed({ a: 1 })).not.toBe(parsed({ a: 2 }));
    expect(parsed({ a: 1 })).not.toBe(parsed({ a: '1' }));
    expect(parsed({ a: [1, 2] })).not.toBe(parsed({ a: [2, 1] }));
    // A urlencoded body parses to an object too.
    expect(parsed({ amount: '42', note: 'x' })).toBe(parsed({ note: 'x', amount: '42' }));
  });

  it('hashes a parsed string or Buffer like its raw bytes, and no body like an empty one', () => {
    expect(parsed('{"b":2,"a":1}')).toBe(fp('{"b":2,"a":1}'));
    expect(parsed(Buffer.from('raw bytes'))).toBe(fp('raw bytes'));
    expect(parsed('é')).toBe(fp('é'));
    expect(parsed(undefined)).toBe(fp(''));
    expect(parsed(null)).toBe(fp(''));
  });

  it('leaves excluded fields out of a parsed body without touching it, as for raw JSON', () => {
    const ex = { excludeFields: ['sentAt', 'meta.trace'] };
    const body = { amount: 1, sentAt: 5, meta: { trace: 'a', kept: true } };
    expect(parsed(body, ex)).toBe(
      fp('{"meta":{"kept":true,"trace":"z"},"amount":1,"sentAt":9}', ex),
    );
    expect(body).toEqual({ amount: 1, sentAt: 5, meta: { trace: 'a', kept: true } });
    expect(parsed(body, ex)).not.toBe(parsed({ ...body, amount: 2 }, ex));
    expect(parsed('{"amount":1,"sentAt":3}', ex)).toBe(parsed({ amount: 1 }, ex));
  });

  it('separates parts so that moving bytes between them changes the hash', () => {
    expect(recordKey('ab', 'c')).not.toBe(recordKey('a', 'bc'));
    expect(recordKey('', 'k')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps the hashes of stored records stable (length-prefixed parts, utf8)', () => {
    expect(recordKey('alice', 'k-é1')).toBe(
      'ae0fed684fd1e963f454e152e913bbd344164172c3dd8663ff9bc462e13497d2',
    );
    expect(fp('{"amount":42}', { target: '/charges?x=1', scope: 'alice' })).toBe(
      'f4bf904ba2cb25a97287e7f2023cd4977243ba4b9619595885379a2ac1b41a28',
    );
  });
});

describe('a parsed object body and its media type', () => {
  it('fingerprints a form and the same fields as JSON differently', () => {
    const form = fpOf(new ParsedBody({ a: '1' }, 'application/x-www-form-urlencoded'));
    const json = fpOf(new ParsedBody({ a: '1' }, 'application/json; charset=utf-8'));
    expect(form).not.toBe(json);
  });

  it('treats every JSON media type (and none) alike', () => {
    const plain = fpOf(new ParsedBody({ a: 1 }, 'application/json'));
    expect(fpOf(new ParsedBody({ a: 1 }, 'Application/JSON; charset=utf-8'))).toBe(plain);
    expect(fpOf(new ParsedBody({ a: 1 }, 'application/problem+json'))).toBe(plain);
    expect(fpOf(new ParsedBody({ a: 1 }))).toBe(plain);
  });
});
