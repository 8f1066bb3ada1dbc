import { describe, expect, it } from '@jest/globals';
import { faults } from './fault.js';

describe('faults.status retryAfterMs', () => {
  it.each([
    [0, '0'],
    [499, '0'],
    [500, '1'],
    [1000, '1'],
    [1500, '2'],
    [120_000, '120'],
  ])('%d ms sends Retry-After: %s (nearest second, 0 allowed)', (ms, header) => {
    expect(faults.status(503, { retryAfterMs: ms }).headers['retry-after']).toBe(header);
  });

  it('rejects a negative delay', () => {
    expect(() => faults.status(503, { retryAfterMs: -1 })).toThrow(/retryAfterMs/);
  });
});
