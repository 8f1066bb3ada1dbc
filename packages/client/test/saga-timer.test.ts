/**
 * A timer step survives a worker restart and fires within its lateness budget: a saga with a
 * `sleep: 1500` step between two local steps is started, its worker goes away while it sleeps
 * (a child process SIGKILLed; an in-process worker stopped), and a new worker of a new durable
 * instance on the same Redis prefix runs the step after the timer: never before the wake-up
 * time, and at most about one poll interval after it.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, type Client } from '@unfazed/client';
import {
  createDurable,
  redisDurableStore,
  type Durable,
  type DurableOperation,
  type DurableWorker,
} from '@unfazed/client/durable';
import { redisTestContext, runChild, type ChildRun, type RedisTestContext } from '@unfazed/testing';
import { until } from './durable-downstream.js';
import { TIMER_SLEEP_MS, defineTimerSaga } from './saga-crash-worker.js';

const WORKER_MODULE = join(__dirname, 'saga-crash-worker.ts');
/** The new worker's poll interval: it did not schedule the timer, so it finds it by polling. */
const POLL_MS = 100;
/**
 * How late the step after the timer may run: one poll interval, plus room for the claim, the
 * step and a loaded machine. Generous on purpose: the exact bound is "not before".
 */
const LATENESS_BUDGET_MS = POLL_MS + 400;

describe('saga timer: survives a worker restart and fires within its lateness budget', () => {
  let ctx: RedisTestContext;
  let client: Client;
  const cleanups: (() => Promise<void>)[] = [];
  const report: string[] = [];
  beforeAll(async () => {
    ctx = await redisTestContext('saga-timer');
    // The timer saga sends no request: any loopback URL will do.
    client = createClient({ baseUrl: 'http://127.0.0.1:9', breaker: false });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    if (report.length > 0) console.log(`saga timer:\n${report.join('\n')}`);
    await client?.close();
    await ctx?.close();
  });

  let instances = 0;
  /** A new durable instance on `prefix` (one process of the queue), closed after the test. */
  function instance(prefix: string): {
    durable: Durable;
    timer: DurableOperation<Record<string, never>>;
    work(): DurableWorker;
  } {
    const store = redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
      prefix,
      partitions: 6,
    });
    const durable = createDurable({ client, store, leaseMs: 1_000 });
    const timer = defineTimerSaga(durable);
    const workers: DurableWorker[] = [];
    const n = ++instances;
    cleanups.push(async () => {
      await Promise.all(workers.map((w) => w.stop({ timeout: 1_000 })));
      await store.close();
    });
    return {
      durable,
      timer,
      work: () => {
        const w = durable.startWorker({ pollInterval: POLL_MS, name: `instance-${n}` });
        workers.push(w);
        return w;
      },
    };
  }

  /** Waits until the saga sleeps in its timer step; answers its wake-up time (the journal's). */
  async function sleeping(durable: Durable, id: string): Promise<number> {
    await until(
      'the saga to sleep in its timer step',
      async () => {
        const steps = (await durable.status(id))?.steps?.map((s) => s.state);
        return steps?.join() === 'completed,sleeping,waiting';
      },
      20_000,
    );
    const record = (await durable.deadLetters.get(id))?.record;
    const wakeAt = record?.saga?.wakeAt;
    expect(record?.state).toBe('pending');
    expect(typeof wakeAt).toBe('number');
    // The store's due time is the wake-up time, on Redis's clock: not before it.
    expect(record?.dueAt).toBeGreaterThanOrEqual(wakeAt as number);
    return wakeAt as number;
  }

  /** Once completed: the timer fired on `workerId`, not before `wakeAt`, within the budget. */
  async function firedInTime(
    durable: Durable,
    id: string,
    wakeAt: number,
    workerId: string,
    label: string,
  ): Promise<void> {
    await until(
      'the saga to complete',
      async () => (await durable.status(id))?.state === 'completed',
      20_000,
    );
    const details = await durable.deadLetters.get(id);
    const results = details?.record.saga?.results ?? {};
    const first = Number(results['first']);
    const after = Number(results['after']);
    // The timer step's result is its wake-up time.
    expect(results['wait']).toBe(wakeAt);
    expect(wakeAt - first).toBeGreaterThanOrEqual(TIMER_SLEEP_MS);
    const fired = details?.history.find((h) => h.kind === 'step' && h.note === 'timer fired');
    expect(fired?.worker).toBe(workerId);
    expect(details?.history.filter((h) => h.step === 'after' && h.kind === 'attempt')).toEqual([
      expect.objectContaining({ worker: workerId, attempt: 1 }),
    ]);
    // Never before the wake-up time...
    expect(fired?.at).toBeGreaterThanOrEqual(wakeAt);
    expect(after).toBeGreaterThanOrEqual(wakeAt);
    // ...and about one poll interval after it at most.
    const lateness = after - wakeAt;
    report.push(
      `  ${label}: wake-up ${wakeAt - first} ms after the first step; the timer fired ${(fired?.at ?? NaN) - wakeAt} ms and the next step ran ${lateness} ms after the wake-up time (poll interval ${POLL_MS} ms, budget ${LATENESS_BUDGET_MS} ms)`,
    );
    expect(lateness).toBeLessThan(LATENESS_BUDGET_MS);
    const steps = (await durable.status(id))?.steps?.map((s) => [s.name, s.state, s.attempts]);
    expect(steps).toEqual([
      ['first', 'completed', 1],
      ['wait', 'completed', 1],
      ['after', 'completed', 1],
    ]);
  }

  it('a child worker SIGKILLed while the saga sleeps: a new worker of a new instance fires the timer', async () => {
    const prefix = `${ctx.prefix}killed:`;
    const parent = instance(prefix);
    const { id } = await parent.timer.start({}, { wait: 0 });
    let child: ChildRun | undefined = await runChild(WORKER_MODULE, {
      env: {
        SAGA_WORKER: '1',
        REDIS_URL: ctx.url,
        PREFIX: prefix,
        LEDGER: `${prefix}ledger:`,
        LEASE_MS: '1000',
        POLL_MS: '20',
      },
      timeoutMs: 60_000,
    });
    cleanups.push(async () => void (await child?.kill()));
    const wakeAt = await sleeping(parent.durable, id);
    const exit = await child.kill('SIGKILL');
    child = undefined;
    expect(exit.signal).toBe('SIGKILL');
    // Killed while it slept (the precondition of this test).
    expect(Date.now()).toBeLessThan(wakeAt);
    const next = instance(prefix);
    const worker = next.work();
    await firedInTime(next.durable, id, wakeAt, worker.id, 'SIGKILLed child, new instance');
  }, 30_000);

  it('an in-process worker stopped while the saga sleeps: a new instance fires the timer', async () => {
    const prefix = `${ctx.prefix}stopped:`;
    const first = instance(prefix);
    const { id } = await first.timer.start({}, { wait: 0 });
    const worker = first.work();
    const wakeAt = await sleeping(first.durable, id);
    await worker.stop({ timeout: 1_000 });
    await first.durable.store.close();
    expect(Date.now()).toBeLessThan(wakeAt);
    const next = instance(prefix);
    const nextWorker = next.work();
    await firedInTime(next.durable, id, wakeAt, nextWorker.id, 'stopped worker, new instance');
  }, 30_000);
});
