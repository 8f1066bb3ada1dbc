import { describe, it, expect, jest } from '@jest/globals';
import { MAX_TIMER_MS } from '@unfazed/contract';
import { DeadlineQueue } from './deadline-queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DeadlineQueue', () => {
  it('fires each live entry once, after its delay, in order, and never a cancelled one', async () => {
    const queue = new DeadlineQueue(30);
    const fired: string[] = [];
    const started = performance.now();
    const at: number[] = [];
    queue.add(() => {
      fired.push('a');
      at.push(performance.now() - started);
    });
    const b = queue.add(() => fired.push('b'));
    await sleep(10);
    queue.add(() => {
      fired.push('c');
      at.push(performance.now() - started);
    });
    b.cancel();
    expect(fired).toEqual([]);
    await sleep(80);
    expect(fired).toEqual(['a', 'c']);
    expect(at[0]).toBeGreaterThanOrEqual(29);
    expect(at[1]).toBeGreaterThanOrEqual(39);
  });

  it('keeps firing the others when a callback throws, and serves entries added later', async () => {
    const queue = new DeadlineQueue(5);
    const fired: number[] = [];
    queue.add(() => {
      throw new Error('boom');
    });
    queue.add(() => fired.push(1));
    await sleep(30);
    expect(fired).toEqual([1]);
    queue.add(() => fired.push(2));
    await sleep(30);
    expect(fired).toEqual([1, 2]);
  });

  it('serves an entry due before the next delay when a callback re-adds itself', () => {
    // Fake timers (and performance.now): a loaded machine cannot shift the 10 ms margins.
    jest.useFakeTimers();
    try {
      const queue = new DeadlineQueue(30);
      const fired: string[] = [];
      const again = (): void => {
        fired.push('a');
        if (fired.length < 3) queue.add(again);
      };
      queue.add(again);
      jest.advanceTimersByTime(10);
      queue.add(() => fired.push('b'));
      // a at 30, b at 40 (not held back to 60 by the re-added a), a again at 60
      jest.advanceTimersByTime(31);
      expect(fired).toEqual(['a', 'b']);
      jest.advanceTimersByTime(10);
      expect(fired).toEqual(['a', 'b']);
      jest.advanceTimersByTime(10);
      expect(fired).toEqual(['a', 'b', 'a']);
    } finally {
      jest.useRealTimers();
    }
  });

  it('never asks Node for a timer longer than it can keep (which Node would fire after 1 ms)', () => {
    const delays: (number | undefined)[] = [];
    const spy = jest.spyOn(globalThis, 'setTimeout');
    spy.mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms);
      return { unref() {} } as unknown as NodeJS.Timeout;
    }) as unknown as typeof setTimeout);
    try {
      const queue = new DeadlineQueue(2 ** 40);
      queue.add(() => {});
      // Wake the queue as the capped timer would: nothing is due, it re-arms, still capped.
      (queue as unknown as { run(): void }).run();
    } finally {
      spy.mockRestore();
    }
    expect(delays).toEqual([MAX_TIMER_MS, MAX_TIMER_MS]);
  });
});
