import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { leaseClock } from './lease-clock.js';

describe('leaseClock', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('sees the time a paused process lost, which the monotonic clock does not', () => {
    const mono = performance.now();
    const wall = Date.now();
    const before = leaseClock();
    // Frozen 10 s: the wall clock moved on, the monotonic clock barely did.
    jest.spyOn(performance, 'now').mockReturnValue(mono + 1);
    jest.spyOn(Date, 'now').mockReturnValue(wall + 10_000);
    expect(leaseClock() - before).toBeGreaterThanOrEqual(9_999);
  });

  it('never goes back when the wall clock steps back', () => {
    const mono = performance.now();
    const wall = Date.now();
    const before = leaseClock();
    jest.spyOn(performance, 'now').mockReturnValue(mono + 5);
    jest.spyOn(Date, 'now').mockReturnValue(wall - 60_000);
    expect(leaseClock()).toBeGreaterThanOrEqual(before);
  });
});
