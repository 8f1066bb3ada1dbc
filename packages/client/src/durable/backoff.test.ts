import { describe, expect, it } from '@jest/globals';
import { isInvalidOptionError, type InvalidOptionError } from '@unfazed/contract';
import { backoffDelay, resolveBackoff, type DurableBackoffOptions } from './backoff.js';

function rejection(...layers: unknown[]): InvalidOptionError {
  try {
    resolveBackoff(layers as DurableBackoffOptions[]);
  } catch (error) {
    if (isInvalidOptionError(error)) return error;
    throw error;
  }
  throw new Error('expected the backoff to be rejected');
}

describe('durable backoff', () => {
  it('grows exponentially and never passes the cap', () => {
    const b = resolveBackoff([{ initialMs: 100, exponent: 2, maxMs: 1_000, jitter: 'none' }]);
    expect([1, 2, 3, 4, 5, 30].map((n) => backoffDelay(b, n, Math.random))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('jitters within d/2..d (equal) or 0..d (full)', () => {
    const equal = resolveBackoff([{ initialMs: 1_000, maxMs: 1_000 }]);
    expect(backoffDelay(equal, 1, () => 0)).toBe(500);
    expect(backoffDelay(equal, 1, () => 0.999)).toBe(1_000);
    const full = resolveBackoff([{ initialMs: 1_000, maxMs: 1_000, jitter: 'full' }]);
    expect(backoffDelay(full, 1, () => 0)).toBe(0);
  });

  it('fills the defaults and lets later layers win key by key', () => {
    expect(resolveBackoff([])).toEqual({
      initialMs: 1_000,
      exponent: 2,
      maxMs: 300_000,
      jitter: 'equal',
    });
    expect(resolveBackoff([{ initialMs: 10, maxMs: 50 }, { maxMs: 20 }])).toMatchObject({
      initialMs: 10,
      maxMs: 20,
    });
  });

  it.each<[DurableBackoffOptions | Record<string, unknown>, string, RegExp]>([
    [{ maxMs: 10, initialMs: 100 }, 'backoff.maxMs', /at least initialMs \(100\)/],
    [{ exponent: 0.5 }, 'backoff.exponent', />= 1/],
    [{ initialMs: Number.NaN }, 'backoff.initialMs', /finite number of milliseconds >= 0/],
    [{ maxMs: Infinity }, 'backoff.maxMs', /finite/],
    [{ jitter: 'some' }, 'backoff.jitter', /one of "full", "equal", "none"/],
    [{ initialDelay: 5 }, 'backoff.initialDelay', /did you mean "initialMs"/],
    [{ maxDelay: 5 }, 'backoff.maxDelay', /did you mean "maxMs"/],
    [{ factor: 3 }, 'backoff.factor', /did you mean "exponent"/],
  ])('rejects %j naming %s', (layer, option, rule) => {
    const error = rejection(layer);
    expect(error.option).toBe(option);
    expect(error.rule).toMatch(rule);
  });
});
