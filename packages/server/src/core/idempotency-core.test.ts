import { describe, expect, it } from '@jest/globals';
import type { IdempotencyEvent } from './events.js';
import { IdempotencyCore, type CoreTimers } from './idempotency-core.js';
import type { IdempotencyStore } from './store.js';
import { memoryIdempotencyStore } from '../stores/memory-store.js';

interface Req {
  user?: string;
  nonce?: string;
}
const input = (body: string, req: Req = {}) => ({
  req,
  key: 'k-1',
  method: 'POST',
  target: '/charges',
  body: Buffer.from(body),
});

describe('IdempotencyCore', () => {
  it('uses a custom fingerprint instead of the raw bytes', async () => {
    const core = new IdempotencyCore<Req>({
      store: memoryIdempotencyStore(),
      fingerprint: (_req, raw) => String((JSON.parse(raw.toString()) as { amount: number }).amount),
    });
    const first = await core.begin(input('{"amount":1,"at":1}'));
    expect(first.action).toBe('run');
    const same = await core.begin(input('{"at":2,"amount":1}'));
    expect(same).toMatchObject({ action: 'respond', response: { status: 409 } });
    const other = await core.begin(input('{"amount":2}'));
    expect(other).toMatchObject({ action: 'respond', response: { status: 422 } });
  });

  it('rejects when the scope function throws (an application bug, not a 5xx to store)', async () => {
    const core = new IdempotencyCore<Req>({
      store: memoryIdempotencyStore(),
      scope: () => {
        throw new Error('no session');
      },
    });
    await expect(core.begin(input('{}'))).rejects.toThrow('no session');
  });

  it('answers 503 when the store is slower than storeTimeoutMs, and undoes a claim that lands late', async () => {
    const inner = memoryIdempotencyStore();
    const released: string[] = [];
    const slow: IdempotencyStore = {
      claim: (i) => new Promise((r) => setTimeout(() => r(inner.claim(i)), 150)),
      complete: (i) => inner.complete(i),
      release: (i) => {
        released.push(i.owner);
        return inner.release(i);
      },
      renew: (i) => inner.renew(i),
    };
    const errors: IdempotencyEvent[] = [];
    const core = new IdempotencyCore<Req>({
      store: slow,
      storeTimeoutMs: 50,
      unavailableRetryAfterMs: 2_500,
      on: { storeError: (e) => errors.push(e) },
    });
    const started = Date.now();
    const answer = await core.begin(input('{}'));
    expect(Date.now() - started).toBeLessThan(140);
    expect(answer).toMatchObject({
      action: 'respond',
      response: { status: 503, headers: { 'retry-after': '3' } },
    });
    expect(errors).toEqual([expect.objectContaining({ type: 'storeError', operation: 'claim' })]);
    await new Promise((r) => setTimeout(r, 200));
    expect(released).toHaveLength(1);
    // The late claim was undone: the key is free again.
    const fresh = new IdempotencyCore<Req>({ store: inner });
    expect((await fresh.begin(input('{}'))).action).toBe('run');
  });

  it('ignores a listener that throws', async () => {
    const core = new IdempotencyCore<Req>({
      store: memoryIdempotencyStore(),
      on: {
        claimed: () => {
          throw new Error('listener bug');
        },
      },
    });
    expect((await core.begin(input('{}'))).action).toBe('run');
  });

  it('sends Retry-After 1 on the in-flight 409 by default, never more than the lease left', async () => {
    const store = memoryIdempotencyStore();
    const core = new IdempotencyCore<Req>({ store, leaseMs: 60_000 });
    expect((await core.begin(input('{}'))).action).toBe('run');
    const busy = await core.begin(input('{}'));
    expect(busy).toMatchObject({ response: { status: 409, headers: { 'retry-after': '1' } } });
    const slowPoll = new IdempotencyCore<Req>({ store, inFlightRetryAfterMs: 5_000 });
    expect(await slowPoll.begin(input('{}'))).toMatchObject({
      response: { headers: { 'retry-after': '5' } },
    });
    // The hint never outlasts the lease: 3 s left on it, a 10 s hint gives 3.
    const shortLease = memoryIdempotencyStore();
    const leased = new IdempotencyCore<Req>({ store: shortLease, leaseMs: 2_500 });
    expect((await leased.begin(input('{}'))).action).toBe('run');
    const bounded = new IdempotencyCore<Req>({ store: shortLease, inFlightRetryAfterMs: 10_000 });
    expect(await bounded.begin(input('{}'))).toMatchObject({
      response: { headers: { 'retry-after': '3' } },
    });
  });

  it('retries a failed completion with a growing, bounded delay until stored; meanwhile the key answers 409', async () => {
    const inner = memoryIdempotencyStore();
    let failures = 7;
    const blip: IdempotencyStore = {
      claim: (i) => inner.claim(i),
      complete: (i) =>
        failures-- > 0 ? Promise.reject(new Error('Connection is closed.')) : inner.complete(i),
      release: (i) => inner.release(i),
      renew: (i) => inner.renew(i),
    };
    const timers = new ManualTimers();
    const events: IdempotencyEvent[] = [];
    const core = new IdempotencyCore<Req>(
      {
        store: blip,
        on: { storeError: (e) => events.push(e), completed: (e) => events.push(e) },
      },
      timers,
    );
    const begun = await core.begin(input('{"amount":1}'));
    if (begun.action !== 'run' || !begun.execution) throw new Error('not claimed');
    begun.execution.capture.write('{"id":1}');
    const finished = begun.execution.finish(201, { 'content-type': 'application/json' });
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const timer = await timers.next();
      delays.push(timer.ms);
      // While the completion is pending the key is in flight: a retry waits, it never runs.
      expect(await core.begin(input('{"amount":1}'))).toMatchObject({
        action: 'respond',
        response: { status: 409 },
      });
      timer.fire();
    }
    await finished;
    expect(delays).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    expect(events.map((e) => [e.type, e.operation, e.attempt, e.retryInMs])).toEqual([
      ...delays.map((ms, i) => ['storeError', 'complete', i + 1, ms]),
      ['completed', undefined, 8, undefined],
    ]);
    const replay = await core.begin(input('{"amount":1}'));
    expect(replay).toMatchObject({
      action: 'respond',
      response: { status: 201, headers: { 'idempotent-replayed': 'true' } },
    });
  });

  it('keeps renewing the lease while the completion is pending, so the key stays in flight', async () => {
    let now = 0;
    const inner = memoryIdempotencyStore({ now: () => now });
    let storeUp = false;
    let renewals = 0;
    let onRenew: (() => void) | undefined;
    const down: IdempotencyStore = {
      claim: (i) => inner.claim(i),
      complete: (i) =>
        storeUp ? inner.complete(i) : Promise.reject(new Error('Connection is closed.')),
      release: (i) => inner.release(i),
      renew: (i) => {
        renewals++;
        onRenew?.();
        return inner.renew(i);
      },
    };
    const timers = new ManualTimers();
    // Renewals run on real timers (every 100 ms); the store's clock is the test's.
    const core = new IdempotencyCore<Req>({ store: down, leaseMs: 300 }, timers);
    const begun = await core.begin(input('{}'));
    if (begun.action !== 'run' || !begun.execution) throw new Error('not claimed');
    const finished = begun.execution.finish(201, {});
    const retry = await timers.next();
    // Four renewals, the store's clock moving half a lease after each: two leases pass.
    for (const target of [1, 2, 3, 4]) {
      if (renewals < target) await new Promise<void>((resolve) => (onRenew = resolve));
      now += 150;
    }
    expect(await core.begin(input('{}'))).toMatchObject({ response: { status: 409 } });
    storeUp = true;
    retry.fire();
    await finished;
    expect(await core.begin(input('{}'))).toMatchObject({
      response: { status: 201, headers: { 'idempotent-replayed': 'true' } },
    });
  });

  it('repeats a completion whose answer was lost without reporting a lost lease', async () => {
    const inner = memoryIdempotencyStore();
    let first = true;
    const lostAnswer: IdempotencyStore = {
      ...inner,
      claim: (i) => inner.claim(i),
      release: (i) => inner.release(i),
      renew: (i) => inner.renew(i),
      // The write lands, but its answer never arrives (a connection cut after the command).
      complete: async (i) => {
        const stored = await inner.complete(i);
        if (first) {
          first = false;
          throw new Error('Connection is closed.');
        }
        return stored;
      },
    };
    const timers = new ManualTimers();
    const events: string[] = [];
    const core = new IdempotencyCore<Req>(
      {
        store: lostAnswer,
        on: {
          storeError: (e) => events.push(e.type),
          completed: (e) => events.push(e.type),
          leaseExpired: (e) => events.push(e.type),
        },
      },
      timers,
    );
    const begun = await core.begin(input('{}'));
    if (begun.action !== 'run' || !begun.execution) throw new Error('not claimed');
    const finished = begun.execution.finish(200, {});
    (await timers.next()).fire();
    await finished;
    expect(events).toEqual(['storeError', 'completed']);
  });
});

/** Timers a test fires by hand, one at a time. */
class ManualTimers implements CoreTimers {
  private readonly scheduled: { ms: number; fire: () => void }[] = [];
  private waiter: (() => void) | undefined;

  setTimeout(callback: () => void, ms: number): unknown {
    this.scheduled.push({ ms, fire: callback });
    this.waiter?.();
    return undefined;
  }

  /** The next timer scheduled (waits for it). */
  async next(): Promise<{ ms: number; fire: () => void }> {
    while (this.scheduled.length === 0) {
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return this.scheduled.shift() as { ms: number; fire: () => void };
  }
}
