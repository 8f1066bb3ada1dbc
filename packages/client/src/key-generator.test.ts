import { describe, it, expect } from '@jest/globals';
import { validateIdempotencyKey } from '@unfazed/contract';
import { generateKey } from './key-generator.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('generateKey', () => {
  it('makes valid, distinct UUIDv7 keys that sort by creation, across pool refills', () => {
    const keys = Array.from({ length: 2000 }, () => generateKey());
    for (const key of keys) {
      expect(key).toMatch(UUID_V7);
      expect(validateIdempotencyKey(key)).toBe(key);
    }
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual(keys);
  });

  it('carries the current time in its first 48 bits', () => {
    const before = Date.now();
    const key = generateKey();
    const ms = parseInt(key.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });
});
