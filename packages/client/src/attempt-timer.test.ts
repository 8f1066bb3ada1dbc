import { describe, it, expect } from '@jest/globals';
import { AttemptTimer } from './attempt-timer.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('AttemptTimer', () => {
  it('fires its listeners once when the time is up', async () => {
    const timer = new AttemptTimer(10, undefined);
    const calls: string[] = [];
    timer.once('abort', () => calls.push('a'));
    timer.on('abort', () => calls.push('b'));
    expect(timer.aborted).toBe(false);
    await sleep(40);
    expect(timer.aborted).toBe(true);
    expect(calls).toEqual(['a', 'b']);
    timer.fire();
    expect(calls).toEqual(['a', 'b']);
  });

  it('never fires after clear(), so a body read after the attempt is not aborted', async () => {
    const timer = new AttemptTimer(10, undefined);
    let fired = false;
    timer.on('abort', () => (fired = true));
    timer.clear();
    await sleep(40);
    expect(fired).toBe(false);
    expect(timer.aborted).toBe(false);
  });

  it('does not call a listener that was removed', async () => {
    const timer = new AttemptTimer(10, undefined);
    const calls: string[] = [];
    const a = (): number => calls.push('a');
    const b = (): number => calls.push('b');
    timer.on('abort', a);
    timer.on('abort', b);
    timer.removeListener('abort', a);
    timer.off('abort', b);
    await sleep(40);
    expect(timer.aborted).toBe(true);
    expect(calls).toEqual([]);
  });

  it("fires when the caller's signal aborts, and stops following it after clear()", () => {
    const controller = new AbortController();
    const timer = new AttemptTimer(10_000, controller.signal);
    let fired = 0;
    timer.on('abort', () => fired++);
    controller.abort();
    expect(timer.aborted).toBe(true);
    expect(fired).toBe(1);
    timer.clear();

    const later = new AbortController();
    const cleared = new AttemptTimer(10_000, later.signal);
    cleared.on('abort', () => fired++);
    cleared.clear();
    later.abort();
    expect(cleared.aborted).toBe(false);
    expect(fired).toBe(1);
  });

  it("starts aborted when the caller's signal already is", () => {
    const controller = new AbortController();
    controller.abort();
    const timer = new AttemptTimer(10_000, controller.signal);
    expect(timer.aborted).toBe(true);
    timer.clear();
  });
});
