import { describe, expect, it } from '@jest/globals';
import { isInvalidOptionError } from '@unfazed/contract';
import { backoffDelay, resolveBackoff } from './backoff.js';

describe('durable backoff', () => {
  it('grows exponentially and never passes the cap', () => {
    const b = resolveBackoff({ initialDelay: 100, factor: 2, maxDelay: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 30].map((n) => backoffDelay(b, n, Math.random))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('jitters within d/2..d (equal) or 0..d (full)', () => {
    const equal = resolveBackoff({ initialDelay: 1_000, maxDelay: 1_000 });
    expect(backoffDelay(equal, 1, () => 0)).toBe(500);
    expect(backoffDelay(equal, 1, () => 0.999)).toBe(1_000);
    const full = resolveBackoff({ initialDelay: 1_000, maxDelay: 1_000, jitter: 'full' });
    expect(backoffDelay(full, 1, () => 0)).toBe(0);
  });

  it('rejects bad settings, naming the option', () => {
    expect(() => resolveBackoff({ maxDelay: 10, initialDelay: 100 })).toThrow(/backoff\.maxDelay/);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(/backoff\.factor/);
    let error: unknown;
    try {
      resolveBackoff({ jitter: 'some' as 'full' });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionError(error)).toBe(true);
  });
});
