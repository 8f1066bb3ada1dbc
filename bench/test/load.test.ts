import { describe, expect, it } from '@jest/globals';
import { closedLoop } from '../src/load.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('closedLoop', () => {
  it('extends a starved window until an operation finished in it, and rates over its real length', async () => {
    // Each operation outlasts warm-up and window together: without the extension the window
    // would count none and the rate would be 0.
    const r = await closedLoop(() => sleep(120), { concurrency: 1, durationMs: 20, warmupMs: 10 });
    expect(r.ops).toBe(1);
    expect(r.elapsedMs).toBeGreaterThan(20);
    expect(r.perSecond).toBeGreaterThan(0);
    expect(r.perSecond).toBeCloseTo(1000 / r.elapsedMs, 6);
  });

  it('keeps the window as set when operations finish in it', async () => {
    const r = await closedLoop(() => sleep(1), { concurrency: 2, durationMs: 60, warmupMs: 10 });
    expect(r.ops).toBeGreaterThan(1);
    expect(r.elapsedMs).toBe(60);
  });

  it('does not extend a window whose operations fail', async () => {
    const t0 = performance.now();
    const r = await closedLoop(
      async () => {
        await sleep(50);
        throw new Error('down');
      },
      { concurrency: 1, durationMs: 10, warmupMs: 0 },
    );
    expect(r.ops).toBe(0);
    expect(r.errors).toBe(1);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
