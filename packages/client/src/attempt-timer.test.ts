import { describe, it, expect } from '@jest/globals';
import { AttemptTimer, AttemptTimers } from './attempt-timer.js';

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

const timeouts = (): number =>
  process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;

describe('AttemptTimers', () => {
  it('fires the timers of one list at their own deadlines, skipping cleared ones', async () => {
    const timers = new AttemptTimers();
    const fired: string[] = [];
    const start = (name: string, ms: number): AttemptTimer => {
      const t = new AttemptTimer(ms, undefined, timers);
      t.on('abort', () => fired.push(name));
      return t;
    };
    const a = start('a', 10);
    const b = start('b', 20);
    const c = start('c', 30);
    const d = start('d', 300);
    b.clear();
    await sleep(50);
    expect(fired).toEqual(['a', 'c']);
    expect([a.aborted, b.aborted, c.aborted, d.aborted]).toEqual([true, false, true, false]);
    await sleep(300);
    expect(fired).toEqual(['a', 'c', 'd']);
  });

  it('gives a shorter deadline than the last one its own timer, which still fires first', async () => {
    const timers = new AttemptTimers();
    const fired: string[] = [];
    const long = new AttemptTimer(300, undefined, timers);
    long.on('abort', () => fired.push('long'));
    const short = new AttemptTimer(10, undefined, timers);
    short.on('abort', () => fired.push('short'));
    expect(short.list).toBeUndefined();
    expect(long.list).toBe(timers);
    await sleep(30);
    expect(fired).toEqual(['short']);
    await sleep(300);
    expect(fired).toEqual(['short', 'long']);
  });

  it('holds the process only while an attempt runs, so an idle client lets it exit', () => {
    const before = timeouts();
    const timers = new AttemptTimers();
    const running = Array.from({ length: 5 }, () => new AttemptTimer(10_000, undefined, timers));
    expect(timeouts()).toBe(before + 1);
    expect(timers.holdsProcess).toBe(true);
    running[2]?.clear();
    running[0]?.clear();
    for (const t of running) t.clear();
    expect(timeouts()).toBe(before);
    expect(timers.holdsProcess).toBe(false);
    const next = new AttemptTimer(10_000, undefined, timers);
    expect(timers.holdsProcess).toBe(true);
    next.clear();
    expect(timers.holdsProcess).toBe(false);
    expect(timeouts()).toBe(before);
  });

  it('fires a short attempt in time after an idle period that began with a long one', async () => {
    const timers = new AttemptTimers();
    new AttemptTimer(10_000, undefined, timers).clear();
    const short = new AttemptTimer(20, undefined, timers);
    expect(short.list).toBe(timers);
    await sleep(60);
    expect(short.aborted).toBe(true);
    expect(timers.holdsProcess).toBe(false);
  });

  it("unlinks a timer that the caller's abort fired", async () => {
    const timers = new AttemptTimers();
    const controller = new AbortController();
    const fired: string[] = [];
    const a = new AttemptTimer(10_000, controller.signal, timers);
    a.on('abort', () => fired.push('a'));
    const b = new AttemptTimer(20, undefined, timers);
    b.on('abort', () => fired.push('b'));
    expect(b.list).toBeUndefined();
    controller.abort();
    expect(a.list).toBeUndefined();
    await sleep(40);
    expect(fired).toEqual(['a', 'b']);
    const before = timeouts();
    const c = new AttemptTimer(10_000, undefined, timers);
    expect(c.list).toBe(timers);
    c.clear();
    expect(timeouts()).toBe(before);
  });
});
