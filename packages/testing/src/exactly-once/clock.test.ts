import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { preciseNow } from './clock.js';

describe('preciseNow', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('stays on the wall clock when the monotonic clock falls behind (a paused VM)', () => {
    let wall = 1_800_000_000_000;
    let mono = 5_000;
    jest.spyOn(Date, 'now').mockImplementation(() => wall);
    jest.spyOn(performance, 'now').mockImplementation(() => mono);
    const first = preciseNow();
    expect(Math.abs(first - wall)).toBeLessThanOrEqual(1);
    // The process was frozen for 600 ms: the wall clock moved on, the monotonic one did not.
    wall += 600;
    mono += 0.25;
    expect(Math.abs(preciseNow() - wall)).toBeLessThanOrEqual(1);
  });

  it('keeps sub-millisecond order and never goes backwards', () => {
    let wall = 1_900_000_000_000;
    let mono = 10_000;
    jest.spyOn(Date, 'now').mockImplementation(() => wall);
    jest.spyOn(performance, 'now').mockImplementation(() => mono);
    const a = preciseNow();
    mono += 0.3;
    const b = preciseNow();
    expect(b).toBeGreaterThan(a);
    // The wall clock stepped back (NTP): values stay where they were instead of going back.
    wall -= 50;
    mono += 0.1;
    expect(preciseNow()).toBeGreaterThanOrEqual(b);
  });
});
