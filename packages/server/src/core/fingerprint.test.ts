import { describe, expect, it } from '@jest/globals';
import { recordKey, requestFingerprint } from './fingerprint.js';

const base = { method: 'POST', target: '/charges', scope: '', excludeFields: [] as string[] };
const fp = (body: string, extra: Partial<typeof base> = {}) =>
  requestFingerprint({ ...base, ...extra, body: Buffer.from(body) });

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
