import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import { memoryIdempotencyStore, outcomeReply } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import { createClient, type Client } from '@unfazed/client';
import {
  createDurable,
  SagaStepFailedError,
  type Durable,
  type DurableEventMap,
  type DurableStore,
  type DurableWorker,
  type SagaDefinition,
} from '@unfazed/client/durable';
import { isInvalidOptionError } from '@unfazed/contract';
import { seeded, until } from './durable-downstream.js';

/** Makes a fresh, empty store for one test. */
export type SagaStoreFactory = () => Promise<DurableStore>;

/** How the test downstream answers one route: a status (2xx applies the effect) and a delay. */
type Script = (call: number, body: Record<string, unknown>) => { status: number; delay?: number };

/**
 * A real downstream behind the @unfazed/server idempotency middleware (mounted the way its README
 * shows, behind a global `express.json()`): its handlers run at most once per Idempotency-Key,
 * and its ledger records every effect with its key, in order.
 */
interface Downstream {
  readonly url: string;
  /** Effects applied, in order: `<route> <key>`. */
  readonly ledger: string[];
  /** Requests received per route (handler runs and replays alike). */
  readonly received: Map<string, number>;
  /** Keys sent per route, in order (every request, replays included). */
  readonly keys: Map<string, string[]>;
  script(route: string, fn: Script): void;
  close(): Promise<void>;
}

async function startDownstream(): Promise<Downstream> {
  const ledger: string[] = [];
  const received = new Map<string, number>();
  const keys = new Map<string, string[]>();
  const scripts = new Map<string, Script>();
  const app = express();
  app.use(express.json());
  app.use((req, _res, next) => {
    received.set(req.path, (received.get(req.path) ?? 0) + 1);
    const key = String(req.get('idempotency-key') ?? '').replace(/^"|"$/g, '');
    keys.set(req.path, [...(keys.get(req.path) ?? []), key]);
    next();
  });
  app.use(idempotency({ store: memoryIdempotencyStore(), leaseMs: 2_000 }));
  const handled = new Map<string, number>();
  app.post('/:route', async (req, res) => {
    const route = `/${req.params.route}`;
    const call = (handled.get(route) ?? 0) + 1;
    handled.set(route, call);
    const fallback: Script = () => ({ status: 201 });
    const answer = (scripts.get(route) ?? fallback)(
      call,
      (req.body ?? {}) as Record<string, unknown>,
    );
    if (answer.delay) await new Promise((r) => setTimeout(r, answer.delay));
    if (answer.status < 300) ledger.push(`${route} ${req.idempotencyKey ?? ''}`);
    res.status(answer.status).json({ route, call, body: req.body as unknown });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ledger,
    received,
    keys,
    script: (route, fn) => scripts.set(route, fn),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Rig {
  downstream: Downstream;
  client: Client;
  durable: Durable;
  workers: DurableWorker[];
  /** Effects of local steps and compensations, in order. */
  local: string[];
  events: string[];
  work(): DurableWorker;
  settled(id: string, timeout?: number): Promise<string>;
}

interface PaymentInput {
  readonly customer: string;
  readonly amount: number;
}

/**
 * The behavioural suite of sagas every durable store must pass: order, journaled results,
 * per-step keys, compensation in reverse (known and unknown outcomes), the deadline, stuck
 * compensations, timers, validation, status and the dead-letter view.
 */
export function describeSagaBehaviour(label: string, makeStore: SagaStoreFactory): void {
  describe(`durable sagas (${label})`, () => {
    const rigs: Rig[] = [];
    afterEach(async () => {
      for (const rig of rigs.splice(0)) {
        await Promise.all(rig.workers.map((w) => w.stop({ timeout: 500 })));
        await rig.client.close();
        await rig.downstream.close();
        await rig.durable.store.close();
      }
    });

    async function rig(): Promise<Rig> {
      const downstream = await startDownstream();
      const client = createClient({
        baseUrl: downstream.url,
        breaker: false,
        retry: { maxRetries: 0 },
      });
      const durable = createDurable({
        client,
        store: await makeStore(),
        backoff: { initialMs: 20, maxMs: 80 },
        random: seeded(11),
        attemptTimeout: 1_000,
      });
      const events: string[] = [];
      const names: (keyof DurableEventMap)[] = [
        'step-completed',
        'compensating',
        'step-compensated',
        'compensated',
        'compensation-stuck',
      ];
      for (const name of names) {
        durable.events.on(name, (e) => {
          const step = (e as { step?: string }).step;
          events.push(step === undefined ? name : `${name} ${step}`);
        });
      }
      const r: Rig = {
        downstream,
        client,
        durable,
        workers: [],
        local: [],
        events,
        work: () => {
          const w = durable.startWorker({ pollInterval: 10, concurrency: 4 });
          r.workers.push(w);
          return w;
        },
        settled: async (id, timeout = 8_000) => {
          let state = '';
          await until(
            `saga ${id} to finish`,
            async () => {
              state = (await durable.status(id))?.state ?? '';
              return state === 'completed' || state === 'compensated';
            },
            timeout,
          );
          return state;
        },
      };
      rigs.push(r);
      return r;
    }

    /** deduct-credit (local) → charge-card (request) → ship (request), each compensated. */
    function payment(r: Rig, extra: Partial<SagaDefinition<PaymentInput>> = {}) {
      return r.durable.saga<PaymentInput>('payment', {
        deadline: 10_000,
        steps: [
          {
            name: 'deduct-credit',
            run: (input, ctx) => {
              r.local.push(`take ${ctx.stepKey}`);
              return { taken: Math.min(10, input.amount) };
            },
            compensate: (_input, ctx) => {
              r.local.push(`restore ${ctx.stepKey} ${ctx.outcome}`);
            },
          },
          {
            name: 'charge-card',
            request: (input, ctx) => ({
              method: 'POST',
              path: '/charges',
              json: {
                amount: input.amount - (ctx.results['deduct-credit'] as { taken: number }).taken,
              },
            }),
            compensate: {
              request: (_input, ctx) => ({
                method: 'POST',
                path: '/voids',
                json: { charge: ctx.stepKey, outcome: ctx.outcome },
              }),
            },
          },
          {
            name: 'ship',
            request: (input) => ({ method: 'POST', path: '/shipments', json: input }),
            compensate: { request: () => ({ method: 'POST', path: '/recalls', json: {} }) },
          },
        ],
        ...extra,
      });
    }

    it('runs the steps in order, each result journaled and passed on, and completes', async () => {
      const r = await rig();
      const saga = payment(r);
      const outcome = await saga.start({ customer: 'c1', amount: 42 }, { wait: 3_000 });
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      const id = outcome.id;
      expect(r.local).toEqual([`take ${id}:deduct-credit`]);
      expect(r.downstream.ledger).toEqual([`/charges ${id}:charge-card`, `/shipments ${id}:ship`]);
      // The request step's result is its answer, the JSON body parsed.
      expect(outcome.results?.['deduct-credit']).toEqual({ taken: 10 });
      expect(outcome.results?.['charge-card']).toMatchObject({
        status: 201,
        body: { route: '/charges', body: { amount: 32 } },
      });
      expect(outcome.response.status).toBe(201);
      const status = await r.durable.status(id);
      expect(status?.state).toBe('completed');
      expect(status?.steps?.map((s) => [s.name, s.state, s.attempts])).toEqual([
        ['deduct-credit', 'completed', 1],
        ['charge-card', 'completed', 1],
        ['ship', 'completed', 1],
      ]);
      expect(r.events).toEqual([
        'step-completed deduct-credit',
        'step-completed charge-card',
        'step-completed ship',
      ]);
    });

    it('a 3rd step that fails finally: steps 2 and 1 are compensated once each, in that order', async () => {
      const r = await rig();
      r.downstream.script('/shipments', () => ({ status: 422 })); // final
      const saga = payment(r);
      const outcome = await saga.start({ customer: 'c1', amount: 42 }, { wait: 0 });
      r.work();
      expect(await r.settled(outcome.id)).toBe('compensated');
      const id = outcome.id;
      // The void carries its own key; the charge it undoes is named by the step's key.
      expect(r.downstream.ledger).toEqual([
        `/charges ${id}:charge-card`,
        `/voids ${id}:charge-card:compensate`,
      ]);
      expect(r.local).toEqual([
        `take ${id}:deduct-credit`,
        `restore ${id}:deduct-credit completed`,
      ]);
      expect(r.events).toEqual([
        'step-completed deduct-credit',
        'step-completed charge-card',
        'compensating',
        'step-compensated charge-card',
        'step-compensated deduct-credit',
        'compensated',
      ]);
      expect(r.downstream.received.get('/recalls')).toBeUndefined(); // ship failed: nothing to undo
      const status = await r.durable.status(id);
      expect(status?.lastError).toMatchObject({
        code: 'status 422',
        status: 422,
        outcome: 'failed',
      });
      expect(status?.steps?.map((s) => [s.name, s.state])).toEqual([
        ['deduct-credit', 'compensated'],
        ['charge-card', 'compensated'],
        ['ship', 'failed'],
      ]);
      const details = await r.durable.deadLetters.get(id);
      const kinds = details?.history.map((h) => `${h.kind} ${h.step ?? ''}`.trim());
      expect(kinds).toEqual([
        'attempt deduct-credit',
        'attempt charge-card',
        'attempt ship',
        'compensation charge-card',
        'compensation deduct-credit',
      ]);
      // The dead-letter view lists it; the 202 helper speaks its state.
      const page = await r.durable.deadLetters.list({ states: ['compensated'] });
      expect(page.items.map((i) => i.id)).toContain(id);
      // A type is defined once per durable instance.
      expect(() => payment(r)).toThrow(/already defined/);
    });

    it('the deadline passes while step 2 is retried: step 2 is compensated as unknown, then step 1', async () => {
      const r = await rig();
      r.downstream.script('/charges', () => ({ status: 503 }));
      const saga = payment(r, { deadline: 700 });
      const outcome = await saga.start({ customer: 'c1', amount: 42 }, { wait: 0 });
      r.work();
      expect(await r.settled(outcome.id)).toBe('compensated');
      const id = outcome.id;
      // Every attempt of the charge carried the same key; the void is keyed on its own.
      const chargeKeys = new Set(r.downstream.keys.get('/charges'));
      expect([...chargeKeys]).toEqual([`${id}:charge-card`]);
      expect((r.downstream.keys.get('/charges') ?? []).length).toBeGreaterThan(1);
      expect(r.downstream.ledger).toEqual([`/voids ${id}:charge-card:compensate`]);
      expect(r.local).toEqual([
        `take ${id}:deduct-credit`,
        `restore ${id}:deduct-credit completed`,
      ]);
      const status = await r.durable.status(id);
      expect(status?.lastError).toMatchObject({ code: 'deadline', outcome: 'unknown' });
      expect(status?.steps?.map((s) => [s.name, s.state])).toEqual([
        ['deduct-credit', 'compensated'],
        ['charge-card', 'compensated'],
        ['ship', 'waiting'],
      ]);
      expect(r.events.filter((e) => e.startsWith('step-compensated'))).toEqual([
        'step-compensated charge-card',
        'step-compensated deduct-credit',
      ]);
    });

    it('the void of an unknown charge is told so: ctx.outcome is unknown', async () => {
      const r = await rig();
      r.downstream.script('/charges', () => ({ status: 503 }));
      const outcomes: string[] = [];
      const saga = r.durable.saga<PaymentInput>('unknown-charge', {
        deadline: 500,
        steps: [
          {
            name: 'charge',
            request: () => ({ method: 'POST', path: '/charges', json: {} }),
            compensate: (_input, ctx) => {
              outcomes.push(`${ctx.step} ${ctx.outcome} ${ctx.compensationKey}`);
            },
          },
        ],
      });
      const outcome = await saga.start({ customer: 'c', amount: 1 }, { wait: 0 });
      r.work();
      expect(await r.settled(outcome.id)).toBe('compensated');
      expect(outcomes).toEqual([`charge unknown ${outcome.id}:charge:compensate`]);
    });

    it('a local step that throws is retried with the backoff under the same step key; SagaStepFailedError fails it at once, uncompensated', async () => {
      const r = await rig();
      let runs = 0;
      const keys: string[] = [];
      const saga = r.durable.saga<{ fail: boolean }>('local-retry', {
        steps: [
          {
            name: 'reserve',
            run: (_input, ctx) => {
              keys.push(ctx.stepKey);
              runs++;
              if (runs < 3) throw new Error(`busy ${runs}`);
              return { reserved: ctx.attempts };
            },
            compensate: (_input, ctx) => {
              r.local.push(`release ${ctx.stepKey}`);
            },
          },
          {
            name: 'validate',
            run: (input) => {
              if (input.fail)
                throw new SagaStepFailedError('invalid seat', { code: 'seat-invalid' });
              return 'ok';
            },
            compensate: () => {
              r.local.push('never: validate failed, its effect did not happen');
            },
          },
        ],
      });
      const outcome = await saga.start({ fail: true }, { wait: 0 });
      r.work();
      expect(await r.settled(outcome.id)).toBe('compensated');
      expect(runs).toBe(3);
      expect(new Set(keys)).toEqual(new Set([`${outcome.id}:reserve`]));
      expect(r.local).toEqual([`release ${outcome.id}:reserve`]);
      const status = await r.durable.status(outcome.id);
      expect(status?.lastError).toMatchObject({ code: 'seat-invalid', outcome: 'failed' });
      expect(status?.steps?.map((s) => [s.name, s.state, s.attempts])).toEqual([
        ['reserve', 'compensated', 3],
        ['validate', 'failed', 1],
      ]);
      const history = (await r.durable.deadLetters.get(outcome.id))?.history ?? [];
      expect(history.filter((h) => h.step === 'reserve' && h.kind === 'attempt')).toHaveLength(3);
      expect(
        history.find((h) => h.step === 'reserve' && h.error === 'step-error')?.delayReason,
      ).toBe('backoff');
    });

    it('a step that runs out of its own maxAttempts gives the saga up', async () => {
      const r = await rig();
      r.downstream.script('/charges', () => ({ status: 503 }));
      // Override on the request step only.
      const capped = r.durable.saga<PaymentInput>('capped', {
        steps: [
          { name: 'charge', request: () => ({ method: 'POST', path: '/charges' }), maxAttempts: 2 },
        ],
      });
      const outcome = await capped.start({ customer: 'c', amount: 1 }, { wait: 0 });
      r.work();
      expect(await r.settled(outcome.id)).toBe('compensated');
      expect(r.downstream.received.get('/charges')).toBe(2);
      const status = await r.durable.status(outcome.id);
      expect(status?.lastError?.code).toBe('attempts-exhausted');
      expect(status?.lastError?.message).toMatch(/step "charge"/);
    });

    it('a compensation that keeps failing is retried, shown stuck after stuckAfter failures, then finishes when it succeeds', async () => {
      const r = await rig();
      r.downstream.script('/shipments', () => ({ status: 422 }));
      r.downstream.script('/voids', (call) => ({ status: call <= 3 ? 500 : 201 }));
      const saga = payment(r, { stuckAfter: 2 });
      const outcome = await saga.start({ customer: 'c1', amount: 42 }, { wait: 0 });
      r.work();
      await until('stuck', async () => (await r.durable.status(outcome.id))?.stuck === true);
      const stuck = await r.durable.status(outcome.id);
      expect(stuck?.state).toBe('compensating');
      const page = await r.durable.deadLetters.list({ states: ['compensating'] });
      expect(page.items.map((i) => i.id)).toEqual([outcome.id]);
      expect(await r.settled(outcome.id)).toBe('compensated');
      expect(r.events.filter((e) => e.startsWith('compensation-stuck'))).toEqual([
        'compensation-stuck charge-card',
      ]);
      const done = await r.durable.status(outcome.id);
      expect(done?.stuck).toBeUndefined();
      expect(done?.steps?.[1]).toMatchObject({ state: 'compensated', compensationAttempts: 4 });
      // One void effect although four requests were sent: the handler ran once per key, and
      // the three failures were not stored.
      expect(r.downstream.ledger.filter((e) => e.startsWith('/voids'))).toHaveLength(1);
      expect(r.local).toEqual([
        `take ${outcome.id}:deduct-credit`,
        `restore ${outcome.id}:deduct-credit completed`,
      ]);
    });

    it('a timer step waits durably (the saga is pending until it fires), then the next step runs', async () => {
      const r = await rig();
      const saga = r.durable.saga<Record<string, never>>('timer', {
        steps: [
          { name: 'first', run: () => Date.now() },
          { name: 'wait', sleep: 300 },
          { name: 'after', run: () => Date.now() },
        ],
      });
      const outcome = await saga.start({}, { wait: 1_000 });
      // The sleep ends the synchronous run: the caller is answered while the timer runs.
      expect(outcome).toMatchObject({ status: 'accepted', state: 'pending' });
      const pending = await r.durable.status(outcome.id);
      expect(pending?.steps?.map((s) => s.state)).toEqual(['completed', 'sleeping', 'waiting']);
      r.work();
      expect(await r.settled(outcome.id)).toBe('completed');
      const details = await r.durable.deadLetters.get(outcome.id);
      const results = details?.record.saga?.results ?? {};
      expect(Number(results['after']) - Number(results['first'])).toBeGreaterThanOrEqual(300);
      expect(Number(results['wait'])).toBeLessThanOrEqual(Number(results['after']));
    });

    it('a timer that would wake after the deadline gives up at once and compensates', async () => {
      const r = await rig();
      const saga = r.durable.saga<Record<string, never>>('late-timer', {
        deadline: 1_000,
        steps: [
          { name: 'hold', run: () => 'held', compensate: () => void r.local.push('unhold') },
          { name: 'wait', sleep: 60_000 },
          { name: 'never', run: () => r.local.push('never') },
        ],
      });
      const outcome = await saga.start({}, { wait: 1_000 });
      expect(outcome).toMatchObject({ status: 'failed', state: 'compensated' });
      expect(r.local).toEqual(['unhold']);
      if (outcome.status === 'failed') expect(outcome.failure.code).toBe('deadline');
    });

    it('start with a key gives the same saga; status lists the steps before the first finished', async () => {
      const r = await rig();
      const saga = payment(r);
      const first = await saga.start({ customer: 'c9', amount: 5 }, { key: 'k-1', wait: 0 });
      const status = await r.durable.status(first.id);
      expect(status?.state).toBe('pending');
      expect(status?.steps?.map((s) => [s.name, s.state])).toEqual([
        ['deduct-credit', 'running'],
        ['charge-card', 'waiting'],
        ['ship', 'waiting'],
      ]);
      const second = await saga.start({ customer: 'c9', amount: 5 }, { key: 'k-1', wait: 0 });
      expect(second).toMatchObject({ id: first.id, existing: true });
      expect((await saga.find('k-1'))?.id).toBe(first.id);
      r.work();
      expect(await r.settled(first.id)).toBe('completed');
      expect(r.local).toHaveLength(1);
    });

    it('the 202 helper answers a compensated saga as a problem naming its state', async () => {
      const r = await rig();
      r.downstream.script('/charges', () => ({ status: 402 }));
      const outcome = await payment(r).start({ customer: 'c', amount: 20 }, { wait: 3_000 });
      expect(outcome).toMatchObject({ status: 'failed', state: 'compensated' });
      const reply = outcomeReply(outcome, { location: (id) => `/operations/${id}` });
      expect(reply.status).toBe(422);
      expect(JSON.parse(reply.body)).toMatchObject({
        title: 'Operation gave up and was compensated',
        state: 'compensated',
        errorCode: 'status 402',
      });
    });

    it('a compensated saga can be discarded, not redriven', async () => {
      const r = await rig();
      r.downstream.script('/charges', () => ({ status: 402 }));
      const outcome = await payment(r).start({ customer: 'c', amount: 20 }, { wait: 3_000 });
      expect(await r.durable.deadLetters.redrive(outcome.id)).toBe(false);
      expect(await r.durable.deadLetters.discard(outcome.id)).toBe(true);
      expect(await r.durable.status(outcome.id)).toBeUndefined();
    });

    it('a slow downstream (attempt timed out, the retry meets the first still running): one charge, the step completes with its answer', async () => {
      const r = await rig();
      r.downstream.script('/charges', () => ({ status: 201, delay: 600 }));
      const saga = r.durable.saga<PaymentInput>('slow-charge', {
        attemptTimeout: 150,
        steps: [
          { name: 'charge', request: () => ({ method: 'POST', path: '/charges', json: {} }) },
          {
            name: 'after',
            run: (_input, ctx) => (ctx.results['charge'] as { status: number }).status,
          },
        ],
      });
      const outcome = await saga.start({ customer: 'c', amount: 1 }, { wait: 0 });
      r.work();
      expect(await r.settled(outcome.id)).toBe('completed');
      expect(r.downstream.ledger).toEqual([`/charges ${outcome.id}:charge`]);
      expect(r.downstream.received.get('/charges')).toBeGreaterThan(1);
      const details = await r.durable.deadLetters.get(outcome.id);
      expect(details?.record.saga?.results['after']).toBe(201);
      const errors = details?.history.filter((h) => h.step === 'charge').map((h) => h.error);
      expect(errors).toContain('timeout');
    });

    it('a holder that stalls past its lease in a local step: the step runs again elsewhere, and the stale result is never journaled', async () => {
      const r = await rig();
      const store = r.durable.store;
      // Instance A's renewals never come back (its Redis stalled); B works normally.
      const stalled = new Proxy(store, {
        get(target, prop) {
          if (prop === 'renew') return () => new Promise<boolean>(() => undefined);
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function'
            ? (value as (...a: unknown[]) => unknown).bind(target)
            : value;
        },
      });
      const runs: string[] = [];
      let secondRun: () => void = () => undefined;
      const secondRan = new Promise<void>((resolve) => (secondRun = resolve));
      const define = (durable: Durable, who: string) =>
        durable.saga<Record<string, never>>('stall', {
          steps: [
            {
              name: 'reserve',
              run: async () => {
                runs.push(who);
                if (who === 'A')
                  await secondRan; // stalls until B has run the step
                else secondRun();
                return who;
              },
            },
            {
              name: 'confirm',
              run: (_input, ctx) => runs.push(`confirm after ${String(ctx.results['reserve'])}`),
            },
          ],
        });
      const a = createDurable({
        client: r.client,
        store: stalled,
        leaseMs: 300,
        random: seeded(3),
      });
      const b = createDurable({ client: r.client, store, leaseMs: 300, random: seeded(4) });
      let lostA = false;
      a.events.on('lease-lost', () => (lostA = true));
      const sagaA = define(a, 'A');
      define(b, 'B');
      const outcome = await sagaA.start({}, { wait: 0 });
      const workerA = a.startWorker({ pollInterval: 10, concurrency: 1 });
      await until('A to start the step', () => runs.includes('A'));
      const workerB = b.startWorker({ pollInterval: 10, concurrency: 1 });
      r.workers.push(workerA, workerB);
      expect(await r.settled(outcome.id)).toBe('completed');
      // A's step returns once B has run it; its write is refused (the lease is B's now).
      await until('A to find its lease lost', () => lostA);
      const details = await b.deadLetters.get(outcome.id);
      expect(details?.record.saga?.results['reserve']).toBe('B');
      expect(runs.filter((x) => x.startsWith('confirm'))).toEqual(['confirm after B']);
      expect(details?.history.some((h) => h.kind === 'lease-expired')).toBe(true);
    });

    it('saga events announce only what was journaled: a refused write (lease lost) announces nothing, the next holder announces it once', async () => {
      const r = await rig();
      const store = r.durable.store;
      let refused = 0;
      // The first step transition is written too late: another holder has the lease by then.
      const late = new Proxy(store, {
        get(target, prop) {
          if (prop === 'settle') {
            return async (...args: Parameters<DurableStore['settle']>) => {
              if (refused === 0 && args[3].action === 'hook') {
                refused++;
                return false;
              }
              return target.settle(...args);
            };
          }
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function'
            ? (value as (...a: unknown[]) => unknown).bind(target)
            : value;
        },
      });
      const durable = createDurable({
        client: r.client,
        store: late,
        leaseMs: 300,
        random: seeded(5),
      });
      const seen: string[] = [];
      durable.events.on('step-completed', (e) => seen.push(e.step));
      durable.events.on('lease-lost', () => seen.push('lease-lost'));
      const saga = durable.saga<Record<string, never>>('announce', {
        steps: [
          { name: 'a', run: () => 'a' },
          { name: 'b', run: () => 'b' },
        ],
      });
      const outcome = await saga.start({}, { wait: 0 });
      r.workers.push(durable.startWorker({ pollInterval: 10 }));
      expect(await r.settled(outcome.id)).toBe('completed');
      expect(seen).toEqual(['lease-lost', 'a', 'b']);
    });

    it('a local step run emits an attempt event (with its step), failed runs included', async () => {
      const r = await rig();
      let runs = 0;
      const attempts: string[] = [];
      r.durable.events.on('attempt', (e) =>
        attempts.push(`${e.step ?? ''} ${e.attempt} ${e.error ?? 'ok'}`),
      );
      const saga = r.durable.saga<Record<string, never>>('local-events', {
        steps: [
          {
            name: 'flaky',
            run: () => {
              if (++runs === 1) throw new Error('once');
              return runs;
            },
          },
        ],
      });
      const outcome = await saga.start({}, { wait: 2_000 });
      expect(outcome.status).toBe('completed');
      expect(attempts).toEqual(['flaky 1 step-error', 'flaky 2 ok']);
    });

    it('refuses a definition with a clear error naming the step', async () => {
      const r = await rig();
      const bad = (steps: unknown[], name = 'bad'): unknown => {
        try {
          r.durable.saga(name, { steps } as unknown as SagaDefinition<unknown>);
        } catch (error) {
          expect(isInvalidOptionError(error)).toBe(true);
          return (error as Error).message;
        }
        return 'accepted';
      };
      const run = (): unknown => 1;
      expect(bad([])).toMatch(/steps.*at least one step/);
      expect(
        bad([
          { name: 'a', run },
          { name: 'a', run },
        ]),
      ).toMatch(/two steps named "a"/);
      expect(bad([{ name: 'a' }])).toMatch(
        /step "a" must have exactly one of run, request, sleep or until/,
      );
      expect(bad([{ name: 'a', run, sleep: 5 }])).toMatch(/\(it has run and sleep\)/);
      expect(bad([{ name: 'a', sleep: 5, compensate: run }])).toMatch(
        /steps\[0\]\.compensate.*not for a timer step \("a"\)/,
      );
      expect(bad([{ name: 'has space', run }])).toMatch(/steps\[0\]\.name/);
      expect(bad([{ name: 'a', run, compensate: 'undo' }])).toMatch(/steps\[0\]\.compensate/);
      expect(bad([{ name: 'a', run, retries: 3 }])).toMatch(/retries/);
    });
  });
}
