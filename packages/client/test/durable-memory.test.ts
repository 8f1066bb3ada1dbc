import { describe, expect, it } from '@jest/globals';
import { createClient } from '@unfazed/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDurable, memoryDurableStore, type DurableStore } from '@unfazed/client/durable';
import { startDownstream, until } from './durable-downstream.js';
import { describeDurableBehaviour } from './durable-suite.js';

describeDurableBehaviour('memory store', async () => memoryDurableStore());

describe('durable defaults', () => {
  it("takes its backoff from the client's retry policy when none is given", async () => {
    const downstream = await startDownstream((req) =>
      req.n === 1 ? { status: 503 } : { status: 200 },
    );
    const client = createClient({
      baseUrl: downstream.url,
      breaker: false,
      retry: { backoff: { initialMs: 40, maxMs: 40, exponent: 1 } },
    });
    try {
      const durable = createDurable({ client, random: () => 0 });
      const op = durable.operation('defaults', { request: () => ({ method: 'POST', path: '/d' }) });
      const outcome = await op.start({}, { wait: 0 });
      const worker = durable.startWorker({ pollInterval: 5 });
      await until(
        'completed',
        async () => (await durable.status(outcome.id))?.state === 'completed',
      );
      await worker.stop();
      const first = (await durable.deadLetters.get(outcome.id))?.history.find(
        (h) => h.kind === 'attempt',
      );
      expect(first).toMatchObject({ status: 503, delayReason: 'backoff' });
      // `equal` jitter with random() = 0: half of the client's 40 ms.
      expect(first?.delayMs).toBe(20);
    } finally {
      await client.close();
      await downstream.close();
    }
  });
});

describe('give-up outcomes', () => {
  it('a downstream that refuses every connection gives up as known failed: nothing ever reached it', async () => {
    // A port with nothing listening: every attempt is ECONNREFUSED, before a byte is sent.
    const closed = await startDownstream(() => ({ status: 200 }));
    const url = closed.url;
    await closed.close();
    const client = createClient({ baseUrl: url, breaker: false, retry: { maxRetries: 0 } });
    try {
      // A clock that moves only with the attempts (150 ms each): the deadline of 400 ms passes
      // after exactly three, however loaded the machine is.
      const t0 = Date.now();
      let t = t0;
      const durable = createDurable({
        client,
        backoff: { initialMs: 20, maxMs: 40 },
        clock: { now: () => t },
        random: () => 0,
      });
      durable.events.on('attempt', () => {
        t += 150;
      });
      const given: string[] = [];
      const op = durable.operation('refused', {
        request: () => ({ method: 'POST', path: '/r' }),
        deadline: 400,
        onGiveUp: (failure) => {
          given.push(`${failure.code}:${failure.outcome}`);
        },
      });
      const outcome = await op.start({}, { wait: 0 });
      const worker = durable.startWorker({ pollInterval: 5 });
      await until('dead', async () => (await durable.status(outcome.id))?.state === 'dead');
      await worker.stop();
      expect(given).toEqual(['deadline:failed']);
      const details = await durable.deadLetters.get(outcome.id);
      const attempts = details?.history.filter((h) => h.kind === 'attempt') ?? [];
      expect(attempts.map((h) => h.at - t0)).toEqual([0, 150, 300]);
      expect(attempts.map((h) => h.delayMs)).toEqual([10, 20, 20]);
      expect(attempts.every((h) => h.error === 'ECONNREFUSED')).toBe(true);
      expect(details?.record.deadline).toBe(t0 + 400);
    } finally {
      await client.close();
    }
  });

  it('an operation taken over from a holder that died mid-attempt gives up as unknown, even if nothing more reached the downstream', async () => {
    const closed = await startDownstream(() => ({ status: 200 }));
    const url = closed.url;
    await closed.close();
    const client = createClient({ baseUrl: url, breaker: false, retry: { maxRetries: 0 } });
    try {
      const store = memoryDurableStore();
      const durable = createDurable({ client, store, backoff: { initialMs: 20, maxMs: 40 } });
      const given: string[] = [];
      durable.operation('ghosted', {
        request: () => ({ method: 'POST', path: '/g' }),
        onGiveUp: (failure) => {
          given.push(`${failure.code}:${failure.outcome}`);
        },
      });
      // Leased to a holder that died (its lease expires at once): it may have sent an attempt.
      const now = Date.now();
      const { record } = await store.create({
        id: store.newId('ghosted'),
        type: 'ghosted',
        input: '{}',
        now,
        deadline: now + 400,
        dueAt: now,
        owner: 'ghost',
        leaseUntil: now + 20,
      });
      const worker = durable.startWorker({ pollInterval: 5 });
      await until('dead', async () => (await durable.status(record.id))?.state === 'dead');
      await worker.stop();
      expect(given).toEqual(['deadline:unknown']);
      const history = (await durable.deadLetters.get(record.id))?.history ?? [];
      expect(history[0]).toMatchObject({ kind: 'lease-expired' });
    } finally {
      await client.close();
    }
  });
});

describe('durable worker wake-ups for a retry', () => {
  /**
   * A memory store whose settle of a retry runs `runAfter` ms after it was sent (its due time
   * counted from then, as Redis counts it from when the script runs) and answers `replyAfter` ms
   * after that.
   */
  const slowSettle = (runAfter: number, replyAfter: number): DurableStore => {
    const inner = memoryDurableStore();
    const settle: DurableStore['settle'] = async (id, owner, now, s, entries) => {
      if (s.action !== 'retry') return inner.settle(id, owner, now, s, entries);
      await sleep(runAfter);
      const ok = await inner.settle(id, owner, now, { ...s, dueAt: s.dueAt + runAfter }, entries);
      await sleep(replyAfter);
      return ok;
    };
    return new Proxy(inner, {
      get: (target, name) => {
        if (name === 'settle') return settle;
        const value: unknown = Reflect.get(target, name);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  };

  const run = async (store: DurableStore): Promise<number[]> => {
    const downstream = await startDownstream((req) =>
      req.n === 1 ? { status: 503 } : { status: 200 },
    );
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({ client, store });
    const times: number[] = [];
    const op = durable.operation('wake', {
      request: () => {
        times.push(Date.now());
        return { method: 'POST', path: '/w' };
      },
      backoff: { initialMs: 100, exponent: 1, maxMs: 100, jitter: 'none' },
    });
    // Polling alone would find the retry only after a minute.
    const worker = durable.startWorker({ concurrency: 1, pollInterval: 60_000 });
    try {
      const outcome = await op.start({}, { wait: 0 });
      await until(
        'completed',
        async () => (await durable.status(outcome.id))?.state === 'completed',
        5_000,
      );
      return times;
    } finally {
      await worker.stop();
      await client.close();
      await downstream.close();
    }
  };

  it("wakes when the retry is due counted from the settle's send, not a slow reply later", async () => {
    const [first = 0, second = 0] = await run(slowSettle(0, 300));
    expect(second - first).toBeGreaterThanOrEqual(100);
    // Counted from the reply it would be 400 ms or more.
    expect(second - first).toBeLessThan(350);
  });

  it('looks again at the latest due time when the store ran the settle late and the claim found nothing due', async () => {
    const [first = 0, second = 0] = await run(slowSettle(150, 0));
    expect(second - first).toBeGreaterThanOrEqual(250);
  });
});
