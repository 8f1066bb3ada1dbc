import { afterEach, describe, expect, it } from '@jest/globals';
import { createClient, type Client } from '@unfazed/client';
import {
  createDurable,
  isDurableKeyConflictError,
  isInvalidOperationInputError,
  type Durable,
  type DurableClient,
  type DurableStore,
  type DurableWorker,
} from '@unfazed/client/durable';
import { isInvalidOptionError } from '@unfazed/contract';
import {
  seeded,
  startDownstream,
  until,
  type Answer,
  type Downstream,
} from './durable-downstream.js';

/** True when `p` rejects with an error `guard` accepts. */
export async function rejection(
  p: Promise<unknown>,
  guard: (e: unknown) => boolean,
): Promise<boolean> {
  return p.then(
    () => false,
    (e: unknown) => guard(e),
  );
}

/** Makes a fresh, empty store for one test. */
export type StoreFactory = () => Promise<DurableStore>;

interface Rig {
  downstream: Downstream;
  client: Client;
  durable: Durable;
  workers: DurableWorker[];
}

/**
 * The behavioural suite every durable store must pass: flaky downstream, idempotent start,
 * deadline and compensation, redrive, circuit, Retry-After, leases, hooks, dead-letter view.
 */
export function describeDurableBehaviour(label: string, makeStore: StoreFactory): void {
  describe(`durable queue behaviour (${label})`, () => {
    const rigs: Rig[] = [];
    afterEach(async () => {
      for (const rig of rigs.splice(0)) {
        await Promise.all(rig.workers.map((w) => w.stop({ timeout: 200 })));
        await rig.client.close();
        await rig.downstream.close();
        await rig.durable.store.close();
      }
    });

    async function rig(
      answer: (n: number, key: string | undefined) => Answer,
      options: { wrap?: (c: Client) => DurableClient; leaseMs?: number } = {},
    ): Promise<Rig> {
      const downstream = await startDownstream((req) => answer(req.n, req.key));
      const client = createClient({
        baseUrl: downstream.url,
        breaker: false,
        retry: { maxRetries: 0 },
      });
      const durable = createDurable({
        client: options.wrap ? options.wrap(client) : client,
        store: await makeStore(),
        backoff: { initialMs: 20, maxMs: 100 },
        random: seeded(7),
        probeJitter: 50,
        ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      });
      const r: Rig = { downstream, client, durable, workers: [] };
      rigs.push(r);
      return r;
    }
    const work = (
      r: Rig,
      concurrency = 4,
      extra: { targetConcurrency?: number } = {},
    ): DurableWorker => {
      const w = r.durable.startWorker({ concurrency, pollInterval: 10, ...extra });
      r.workers.push(w);
      return w;
    };

    it('a worker wakes up for a retry it scheduled when it comes due, not at its next poll', async () => {
      const r = await rig((n) => (n === 1 ? { status: 503 } : { status: 201 }));
      const op = r.durable.operation('wake-on-retry', {
        request: () => ({ method: 'POST', path: '/w' }),
        backoff: { initialMs: 100, exponent: 1, maxMs: 100, jitter: 'none' },
      });
      // Polling alone would find the retry only after a minute.
      const w = r.durable.startWorker({ concurrency: 1, pollInterval: 60_000 });
      r.workers.push(w);
      const t0 = Date.now();
      const outcome = await op.start({}, { wait: 0 });
      await until(
        'completed',
        async () => (await r.durable.status(outcome.id))?.state === 'completed',
        5_000,
      );
      expect(r.downstream.requests).toHaveLength(2);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    });

    it('flaky downstream (fails 3 times): start answers accepted, a worker completes it, one key on every attempt, effect once', async () => {
      const r = await rig((n) =>
        n <= 3 ? { status: 503 } : { status: 201, body: { charged: true } },
      );
      const successes: string[] = [];
      const op = r.durable.operation<{ amount: number }>('charge', {
        request: (input) => ({ method: 'POST', path: '/charges', json: input }),
        backoff: { initialMs: 800, exponent: 1, maxMs: 800, jitter: 'none' },
        onSuccess: (res, ctx) => {
          successes.push(`${ctx.id}:${res.status}`);
        },
      });
      const seen: string[] = [];
      for (const name of [
        'started',
        'attempt',
        'scheduled',
        'succeeded',
        'failed',
        'dead',
      ] as const) {
        r.durable.events.on(name, () => seen.push(name));
      }
      const outcome = await op.start({ amount: 42 }, { wait: 800 });
      expect(outcome.status).toBe('accepted');
      expect(r.downstream.requests).toHaveLength(1);
      work(r);
      await until(
        'completed',
        async () => (await r.durable.status(outcome.id))?.state === 'completed',
      );
      expect(r.downstream.requests).toHaveLength(4);
      expect(new Set(r.downstream.requests.map((q) => q.key))).toEqual(new Set([outcome.id]));
      expect(r.downstream.requests.every((q) => q.body === '{"amount":42}')).toBe(true);
      expect([...r.downstream.effects.values()]).toEqual([1]);
      expect(successes).toEqual([`${outcome.id}:201`]);
      expect(seen).toEqual([
        'started',
        ...Array.from({ length: 3 }, () => ['attempt', 'scheduled']).flat(),
        'attempt',
        'succeeded',
      ]);
      const status = await r.durable.status(outcome.id);
      expect(status).toMatchObject({
        state: 'completed',
        attempts: 4,
        resultStatus: 201,
        type: 'charge',
      });
      const details = await r.durable.deadLetters.get(outcome.id);
      const attempts = details?.history.filter((h) => h.kind === 'attempt') ?? [];
      expect(attempts.map((a) => a.status)).toEqual([503, 503, 503, 201]);
      expect(
        attempts.slice(0, 3).every((a) => a.delayReason === 'backoff' && a.delayMs === 800),
      ).toBe(true);
    });

    it('a downstream that works within `wait` answers completed with the response', async () => {
      const r = await rig((n) => (n === 1 ? { status: 503 } : { status: 200, body: { ok: true } }));
      const op = r.durable.operation('ping', {
        request: () => ({ method: 'POST', path: '/ping' }),
      });
      const outcome = await op.start({}, { wait: 2_000 });
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      expect(outcome.response.status).toBe(200);
      expect(JSON.parse(outcome.response.body)).toEqual({ ok: true });
      expect(r.downstream.requests.map((q) => q.key)).toEqual([outcome.id, outcome.id]);
    });

    it('a final 4xx fails the operation after its compensation ran once, and start says failed', async () => {
      const r = await rig(() => ({ status: 404, body: { error: 'no such card' } }));
      const compensations: string[] = [];
      const op = r.durable.operation('charge', {
        request: () => ({ method: 'POST', path: '/charges' }),
        onGiveUp: (failure, ctx) => {
          compensations.push(`${ctx.id}:${failure.code}:${failure.outcome}`);
        },
      });
      const failed: string[] = [];
      r.durable.events.on('failed', (e) => failed.push(e.failure.outcome));
      const outcome = await op.start({ card: 'x' }, { wait: 5_000 });
      // A final answer: the effect is known not to have happened.
      expect(outcome).toMatchObject({
        status: 'failed',
        state: 'failed',
        failure: { code: 'status 404', status: 404, outcome: 'failed' },
      });
      expect(compensations).toEqual([`${outcome.id}:status 404:failed`]);
      expect(failed).toEqual(['failed']);
      expect(r.downstream.requests).toHaveLength(1);
      const page = await r.durable.deadLetters.list({ states: ['failed'] });
      expect(page.items.map((i) => i.id)).toEqual([outcome.id]);
      expect(page.items[0]?.lastError?.outcome).toBe('failed');
      expect((await r.durable.status(outcome.id))?.lastError?.outcome).toBe('failed');
    });

    it('a deadline reached with only unknown outcomes (timeouts, 5xx) gives up as unknown', async () => {
      // Every attempt times out or meets a 503: each may have reached the downstream.
      const r = await rig((n) => (n % 2 === 1 ? { status: 200, delay: 1_000 } : { status: 503 }));
      const given: string[] = [];
      const op = r.durable.operation('maybe-done', {
        request: () => ({ method: 'POST', path: '/maybe' }),
        attemptTimeout: 50,
        deadline: 600,
        onGiveUp: (failure) => {
          given.push(`${failure.code}:${failure.outcome}`);
        },
      });
      const dead: string[] = [];
      r.durable.events.on('dead', (e) => dead.push(e.failure.outcome));
      const outcome = await op.start({}, { wait: 0 });
      work(r);
      await until('dead', () => dead.length === 1);
      expect(given).toEqual(['deadline:unknown']);
      expect(dead).toEqual(['unknown']);
      expect(r.downstream.requests.length).toBeGreaterThanOrEqual(2);
      expect(await r.durable.status(outcome.id)).toMatchObject({
        state: 'dead',
        lastError: { code: 'deadline', outcome: 'unknown' },
      });
      const details = await r.durable.deadLetters.get(outcome.id);
      expect(details?.record.lastError?.outcome).toBe('unknown');
    });

    it('starting the same key twice, and ten times concurrently, gives one operation', async () => {
      const r = await rig(() => ({ status: 200 }));
      const op = r.durable.operation('book', {
        request: () => ({ method: 'POST', path: '/book' }),
      });
      const first = await op.start({ seat: '12A' }, { key: 'k-1', wait: 0 });
      const again = await op.start({ seat: '12A' }, { key: 'k-1', wait: 0 });
      expect(first).toMatchObject({ status: 'accepted', existing: false });
      expect(again).toMatchObject({ status: 'accepted', id: first.id, existing: true });
      const burst = await Promise.all(
        Array.from({ length: 10 }, () => op.start({ seat: '14C' }, { key: 'k-2', wait: 500 })),
      );
      expect(new Set(burst.map((o) => o.id)).size).toBe(1);
      expect(burst.filter((o) => !o.existing)).toHaveLength(1);
      expect((await r.durable.counts())['book']?.pending ?? 0).toBeGreaterThanOrEqual(1);
      expect(
        await rejection(op.start({ seat: '99Z' }, { key: 'k-1' }), isDurableKeyConflictError),
      ).toBe(true);
      work(r);
      await until('both done', async () => (await r.durable.counts())['book']?.completed === 2);
      expect(r.downstream.requests.filter((q) => q.key === burst[0]?.id)).toHaveLength(1);
      // Once completed, the same key answers completed without calling the downstream again.
      const later = await op.start({ seat: '12A' }, { key: 'k-1' });
      expect(later).toMatchObject({ status: 'completed', id: first.id, existing: true });
      expect(r.downstream.requests).toHaveLength(2);
    });

    it('find(key) answers the operation a key started, for that type only', async () => {
      const r = await rig(() => ({ status: 503 }));
      const op = r.durable.operation('find-me', {
        request: () => ({ method: 'POST', path: '/find' }),
      });
      const other = r.durable.operation('find-other', {
        request: () => ({ method: 'POST', path: '/other' }),
      });
      expect(await op.find('order-1')).toBeUndefined();
      const outcome = await op.start({ n: 1 }, { key: 'order-1', wait: 0 });
      expect(await op.find('order-1')).toMatchObject({ id: outcome.id, state: 'pending' });
      expect(await other.find('order-1')).toBeUndefined();
      expect(await op.find('order-2')).toBeUndefined();
      await expect(op.find('')).rejects.toThrow(/"key"/);
    });

    it('deadline passes: compensation runs once, the operation is dead; redrive completes it', async () => {
      let healthy = false;
      const r = await rig(() => (healthy ? { status: 200 } : { status: 503 }));
      const given: string[] = [];
      const succeeded: string[] = [];
      const op = r.durable.operation<{ order: number }>('notify', {
        request: (input) => ({ method: 'POST', path: `/notify/${input.order}` }),
        deadline: 300,
        onGiveUp: (failure, ctx) => {
          given.push(`${ctx.id}:${failure.code}`);
        },
        onSuccess: (_res, ctx) => {
          succeeded.push(ctx.id);
        },
      });
      const dead: string[] = [];
      r.durable.events.on('dead', (e) => dead.push(e.id));
      const outcome = await op.start({ order: 7 }, { wait: 0 });
      work(r);
      await until('dead', () => dead.length === 1);
      expect(given).toEqual([`${outcome.id}:deadline`]);
      expect(await r.durable.status(outcome.id)).toMatchObject({
        state: 'dead',
        lastError: { code: 'deadline' },
      });
      const page = await r.durable.deadLetters.list({
        type: 'notify',
        errorCode: 'deadline',
        text: '"order":7',
      });
      expect(page.items.map((i) => i.id)).toEqual([outcome.id]);
      expect((await r.durable.deadLetters.list({ text: '"order":8' })).items).toHaveLength(0);
      const details = await r.durable.deadLetters.get(outcome.id);
      expect(details?.history.some((h) => h.kind === 'attempt' && h.status === 503)).toBe(true);
      healthy = true;
      expect(await r.durable.deadLetters.redrive(outcome.id)).toBe(true);
      expect(await r.durable.deadLetters.redrive(outcome.id)).toBe(false);
      await until(
        'completed',
        async () => (await r.durable.status(outcome.id))?.state === 'completed',
      );
      expect(given).toHaveLength(1);
      expect(succeeded).toEqual([outcome.id]);
      expect((await r.durable.deadLetters.list()).items).toHaveLength(0);
    });

    it('maxAttempts: the operation dies after that many attempts, with its compensation', async () => {
      const r = await rig(() => ({ status: 503 }));
      const given: string[] = [];
      const op = r.durable.operation('capped', {
        request: () => ({ method: 'POST', path: '/capped' }),
        maxAttempts: 3,
        onGiveUp: (failure) => {
          given.push(failure.code);
        },
      });
      const outcome = await op.start({}, { wait: 0 });
      work(r);
      await until('dead', async () => (await r.durable.status(outcome.id))?.state === 'dead');
      expect(r.downstream.requests).toHaveLength(3);
      expect(given).toEqual(['attempts-exhausted']);
      expect(await r.durable.status(outcome.id)).toMatchObject({
        attempts: 3,
        lastError: { code: 'attempts-exhausted', status: 503 },
      });
    });

    it('an open circuit fires no attempt at the target until its probe time', async () => {
      let nextProbeAt = 0;
      const r = await rig(() => ({ status: 200 }), {
        wrap: (c) => ({
          attempt: (req, o) => c.attempt(req, o),
          circuit: () =>
            Date.now() < nextProbeAt ? { state: 'open', nextProbeAt } : { state: 'closed' },
        }),
      });
      nextProbeAt = Date.now() + 400;
      const op = r.durable.operation('ship', {
        request: () => ({ method: 'POST', path: '/ship' }),
      });
      const outcome = await op.start({}, { wait: 1_000 });
      expect(outcome.status).toBe('accepted');
      if (outcome.status !== 'accepted') return;
      expect(outcome.nextAttemptAt).toBeGreaterThanOrEqual(nextProbeAt);
      work(r);
      await new Promise((res) => setTimeout(res, 200));
      expect(r.downstream.requests).toHaveLength(0);
      await until(
        'completed',
        async () => (await r.durable.status(outcome.id))?.state === 'completed',
      );
      expect(r.downstream.requests[0]?.at).toBeGreaterThanOrEqual(nextProbeAt);
    });

    it('an open circuit whose probe time is past the deadline compensates at once, not after it', async () => {
      const r = await rig(() => ({ status: 200 }), {
        wrap: (c) => ({
          attempt: (req, o) => c.attempt(req, o),
          circuit: () => ({ state: 'open', nextProbeAt: Date.now() + 60_000 }),
        }),
      });
      const given: string[] = [];
      const op = r.durable.operation('late', {
        request: () => ({ method: 'POST', path: '/late' }),
        deadline: 3_000,
        onGiveUp: (failure) => {
          // Nothing was ever sent: the effect is known not to have happened.
          given.push(`${failure.code}:${failure.outcome}`);
        },
      });
      const t0 = Date.now();
      const outcome = await op.start({}, { wait: 0 });
      work(r);
      await until('dead', async () => (await r.durable.status(outcome.id))?.state === 'dead');
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect(given).toEqual(['deadline:failed']);
      expect(r.downstream.requests).toHaveLength(0);
    });

    it("the client's attempt timeout is transient: the operation is retried, not failed", async () => {
      const downstream = await startDownstream((req) =>
        req.n === 1 ? { status: 200, delay: 1_000 } : { status: 200 },
      );
      const client = createClient({
        baseUrl: downstream.url,
        breaker: false,
        retry: { maxRetries: 0 },
        timeout: { attempt: 100, total: 5_000 },
      });
      const durable = createDurable({
        client,
        store: await makeStore(),
        backoff: { initialMs: 20, maxMs: 40 },
      });
      const r: Rig = { downstream, client, durable, workers: [] };
      rigs.push(r);
      const given: string[] = [];
      const op = durable.operation('slow-once', {
        request: () => ({ method: 'POST', path: '/slow' }),
        // Longer than the client's own attempt timeout, which then ends the attempt.
        attemptTimeout: 2_000,
        onGiveUp: (failure) => {
          given.push(failure.code);
        },
      });
      const outcome = await op.start({}, { wait: 0 });
      work(r);
      await until(
        'completed',
        async () => (await durable.status(outcome.id))?.state === 'completed',
        5_000,
      );
      expect(given).toEqual([]);
      expect(downstream.requests.length).toBeGreaterThanOrEqual(2);
      expect(new Set(downstream.requests.map((q) => q.key))).toEqual(new Set([outcome.id]));
    });

    it("the real client's breaker: once it opens, nothing is fired at the origin until its probe time", async () => {
      const downstream = await startDownstream((req) =>
        req.n <= 2 ? { status: 503 } : { status: 200 },
      );
      const client = createClient({
        baseUrl: downstream.url,
        retry: { maxRetries: 0 },
        breaker: { minimumCalls: 2, failureRatio: 0.5, openMs: 800 },
      });
      const durable = createDurable({
        client,
        store: await makeStore(),
        backoff: { initialMs: 20, maxMs: 40 },
        probeJitter: 20,
      });
      rigs.push({ downstream, client, durable, workers: [] });
      const op = durable.operation('probe', {
        request: () => ({ method: 'POST', path: '/probe' }),
      });
      const outcome = await op.start({}, { wait: 0 });
      const reasons: string[] = [];
      durable.events.on('scheduled', (e) => reasons.push(e.reason));
      rigs[rigs.length - 1]?.workers.push(durable.startWorker({ pollInterval: 10 }));
      await until(
        'completed',
        async () => (await durable.status(outcome.id))?.state === 'completed',
        5_000,
      );
      const [, second, third] = downstream.requests;
      expect(downstream.requests).toHaveLength(3);
      expect(client.circuit(downstream.url).state).not.toBe('open');
      expect(reasons).toContain('circuit-open');
      expect((third?.at ?? 0) - (second?.at ?? 0)).toBeGreaterThanOrEqual(700);
    });

    it('Retry-After from the downstream wins over the backoff', async () => {
      const r = await rig((n) =>
        n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 },
      );
      const op = r.durable.operation('slow', {
        request: () => ({ method: 'POST', path: '/slow' }),
      });
      const outcome = await op.start({}, { wait: 0 });
      work(r);
      await until(
        'completed',
        async () => (await r.durable.status(outcome.id))?.state === 'completed',
        4_000,
      );
      const [a, b] = r.downstream.requests;
      expect((b?.at ?? 0) - (a?.at ?? 0)).toBeGreaterThanOrEqual(950);
      const history = (await r.durable.deadLetters.get(outcome.id))?.history ?? [];
      expect(history.find((h) => h.kind === 'attempt')).toMatchObject({
        delayReason: 'retry-after',
        delayMs: 1_000,
      });
    });

    it('a worker whose lease was taken over cannot record an outcome; the new owner can', async () => {
      const store = await makeStore();
      const now = Date.now();
      const { record } = await store.create({
        id: store.newId('t'),
        type: 't',
        input: '{}',
        now,
        deadline: now + 60_000,
        dueAt: now,
        owner: 'A',
        leaseUntil: now + 50,
      });
      const claimAll = async (): Promise<Awaited<ReturnType<DurableStore['claim']>>> => {
        let claimed: Awaited<ReturnType<DurableStore['claim']>> = [];
        for (let p = 0; p < store.partitions && claimed.length === 0; p++) {
          claimed = await store.claim(p, Date.now(), 10, 'B', 1_000);
        }
        return claimed;
      };
      expect(await claimAll()).toHaveLength(0);
      // The lease of A expires by the store's clock.
      await new Promise((r) => setTimeout(r, 80));
      const claimed = await claimAll();
      expect(claimed).toHaveLength(1);
      expect(claimed[0]).toMatchObject({ takeover: true, record: { id: record.id } });
      // B's lease token is fresh for this claim: derived from B, unique to it.
      const token = claimed[0]?.record.owner ?? '';
      expect(token).toMatch(/^B#/);
      expect(await store.renew(record.id, 'A', 5_000)).toBe(false);
      expect(await store.renew(record.id, 'B', 5_000)).toBe(false);
      expect(
        await store.settle(
          record.id,
          'A',
          Date.now(),
          { action: 'finish', state: 'completed' },
          [],
        ),
      ).toBe(false);
      expect(
        await store.settle(
          record.id,
          token,
          Date.now(),
          { action: 'finish', state: 'completed' },
          [],
        ),
      ).toBe(true);
      expect((await store.get(record.id))?.state).toBe('completed');
      expect((await store.history(record.id)).map((h) => h.kind)).toEqual(['lease-expired']);
      await store.close();
    });

    it('a worker that finds its lease taken emits lease-lost, aborts its attempt and records nothing', async () => {
      const r = await rig(() => ({ status: 200, delay: 600 }), { leaseMs: 150 });
      const op = r.durable.operation('stolen', {
        request: () => ({ method: 'POST', path: '/stolen' }),
      });
      const lost: string[] = [];
      r.durable.events.on('lease-lost', (e) => lost.push(e.id));
      const outcome = await op.start({}, { wait: 0 });
      work(r, 1);
      await until('attempt in flight', () => r.downstream.requests.length === 1);
      // Another worker takes the lease over, as if this one had stalled past its expiry: the
      // lease is handed back under its token (read from the store) and claimed by the thief.
      const store = r.durable.store;
      const held = await store.get(outcome.id);
      expect(held?.owner).toMatch(/#/);
      // One reading of the clock: due exactly now (two readings could make it due 1 ms later).
      const t = Date.now();
      expect(
        await store.settle(
          outcome.id,
          held?.owner ?? '',
          t,
          { action: 'release', dueAt: t, attempts: 0 },
          [],
        ),
      ).toBe(true);
      let taken = 0;
      for (let p = 0; p < store.partitions; p++) {
        taken += (await store.claim(p, Date.now(), 10, 'thief', 60_000)).length;
      }
      expect(taken).toBe(1);
      await until('lease-lost', () => lost.length === 1);
      expect(lost).toEqual([outcome.id]);
      await new Promise((res) => setTimeout(res, 700));
      const record = (await r.durable.deadLetters.get(outcome.id))?.record;
      expect(record).toMatchObject({ state: 'running', attempts: 0 });
      expect(record?.owner).toMatch(/^thief#/);
    });

    it('a crash between the attempt and its hook re-runs only the hook, with the operation id', async () => {
      const r = await rig(() => ({ status: 200 }), { leaseMs: 150 });
      const hooks: string[] = [];
      r.durable.operation('mail', {
        request: () => ({ method: 'POST', path: '/mail' }),
        onSuccess: (_res, ctx) => {
          hooks.push(ctx.id);
        },
      });
      const store = r.durable.store;
      const now = Date.now();
      const { record } = await store.create({
        id: store.newId('mail'),
        type: 'mail',
        input: '{}',
        now,
        deadline: now + 60_000,
        dueAt: now,
        owner: 'crashed-worker',
        leaseUntil: now + 150,
      });
      // The crashed worker got its 200 and recorded it, then died before the hook finished.
      await store.settle(
        record.id,
        'crashed-worker',
        now,
        {
          action: 'hook',
          phase: 'success-hook',
          attempts: 1,
          leaseUntil: now + 150,
          response: { status: 200, headers: {}, body: '{}' },
        },
        [],
      );
      work(r);
      await until(
        'completed',
        async () => (await r.durable.status(record.id))?.state === 'completed',
      );
      expect(hooks).toEqual([record.id]);
      expect(r.downstream.requests).toHaveLength(0);
    });

    it('a throwing hook runs again until it succeeds; the call is not repeated', async () => {
      const r = await rig(() => ({ status: 200 }));
      let calls = 0;
      const op = r.durable.operation('flaky-hook', {
        request: () => ({ method: 'POST', path: '/x' }),
        onSuccess: () => {
          calls++;
          if (calls < 3) throw new Error('mail server down');
        },
      });
      const outcome = await op.start({}, { wait: 5_000 });
      expect(outcome.status).toBe('accepted');
      work(r);
      await until(
        'completed',
        async () => (await r.durable.status(outcome.id))?.state === 'completed',
      );
      expect(calls).toBe(3);
      expect(r.downstream.requests).toHaveLength(1);
    });

    it('worker.stop() finishes what it holds, or releases it after its timeout', async () => {
      const r = await rig((n) =>
        n === 1 ? { status: 200, delay: 150 } : { status: 200, delay: 5_000 },
      );
      const op = r.durable.operation('long', {
        request: () => ({ method: 'POST', path: '/long' }),
        attemptTimeout: 10_000,
      });
      const a = await op.start({ n: 1 }, { wait: 0 });
      const w = r.durable.startWorker({ concurrency: 1, pollInterval: 10 });
      await until('first in flight', () => r.downstream.requests.length === 1);
      await w.stop();
      expect((await r.durable.status(a.id))?.state).toBe('completed');
      const b = await op.start({ n: 2 }, { wait: 0 });
      const w2 = r.durable.startWorker({ concurrency: 1, pollInterval: 10 });
      await until('second in flight', () => r.downstream.requests.length === 2);
      const t0 = Date.now();
      await w2.stop({ timeout: 50 });
      expect(Date.now() - t0).toBeLessThan(2_000);
      const released = await r.durable.status(b.id);
      expect(released).toMatchObject({ state: 'pending', attempts: 1 });
      const history = (await r.durable.deadLetters.get(b.id))?.history ?? [];
      expect(history.map((h) => h.kind)).toContain('released');
    });

    it('a worker never has more attempts in flight than its concurrency, while it reuses slots as operations finish', async () => {
      const r = await rig(() => ({ status: 200, delay: 15 }));
      const op = r.durable.operation('bounded', {
        request: () => ({ method: 'POST', path: '/bounded' }),
      });
      await Promise.all(Array.from({ length: 12 }, (_, i) => op.start({ i }, { wait: 0 })));
      work(r, 3);
      await until(
        'all completed',
        async () => (await r.durable.counts())['bounded']?.completed === 12,
      );
      expect(r.downstream.requests).toHaveLength(12);
      expect(r.downstream.maxConcurrent).toBe(3);
    });

    it('the per-target concurrency limit holds attempts to one target', async () => {
      const r = await rig(() => ({ status: 200, delay: 40 }));
      const op = r.durable.operation('limited', {
        request: () => ({ method: 'POST', path: '/limited' }),
      });
      const ids = await Promise.all(
        Array.from({ length: 5 }, (_, i) => op.start({ i }, { wait: 0 })),
      );
      work(r, 5, { targetConcurrency: 1 });
      await until(
        'all completed',
        async () => (await r.durable.counts())['limited']?.completed === 5,
      );
      expect(r.downstream.maxConcurrent).toBe(1);
      expect(ids).toHaveLength(5);
    });

    it('dead-letter view: filters, cursor paging, counts, paced batch redrive, discard', async () => {
      let ok = false;
      const r = await rig((n, key) =>
        ok ? { status: 200 } : { status: key?.length ? 400 : 400, body: { n } },
      );
      const a = r.durable.operation<{ name: string }>('alpha', {
        request: () => ({ method: 'POST', path: '/a' }),
      });
      const b = r.durable.operation<{ name: string }>('beta', {
        request: () => ({ method: 'POST', path: '/b' }),
      });
      const failed: string[] = [];
      for (let i = 0; i < 5; i++)
        failed.push((await a.start({ name: `alpha-${i}` }, { wait: 5_000 })).id);
      for (let i = 0; i < 3; i++)
        failed.push((await b.start({ name: `beta-${i}` }, { wait: 5_000 })).id);
      const counts = await r.durable.counts();
      expect(counts['alpha']).toMatchObject({ failed: 5, pending: 0, running: 0 });
      expect(counts['beta']).toMatchObject({ failed: 3 });
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await r.durable.deadLetters.list({ limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((i) => i.id));
        cursor = page.cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(new Set(seen)).toEqual(new Set(failed));
      expect(seen).toHaveLength(8);
      expect((await r.durable.deadLetters.list({ type: 'beta' })).items).toHaveLength(3);
      expect(
        (await r.durable.deadLetters.list({ text: 'alpha-3' })).items.map((i) => i.id),
      ).toEqual([failed[3]]);
      expect((await r.durable.deadLetters.list({ errorCode: 'status 400' })).items).toHaveLength(8);
      expect((await r.durable.deadLetters.list({ since: Date.now() + 60_000 })).items).toHaveLength(
        0,
      );
      expect(
        await rejection(r.durable.deadLetters.list({ cursor: 'garbage' }), isInvalidOptionError),
      ).toBe(true);
      expect(await r.durable.deadLetters.discard(failed[7] as string)).toBe(true);
      expect(await r.durable.deadLetters.get(failed[7] as string)).toBeUndefined();
      ok = true;
      const t0 = Date.now();
      expect(await r.durable.deadLetters.redriveMany({ type: 'alpha' }, { rate: 20 })).toBe(5);
      const due = (await Promise.all(failed.slice(0, 5).map((id) => r.durable.status(id)))).map(
        (s) => Date.parse(s?.nextAttemptAt ?? ''),
      );
      expect(Math.max(...due) - Math.min(...due)).toBeGreaterThanOrEqual(190);
      expect(Math.max(...due)).toBeGreaterThanOrEqual(t0 + 190);
      work(r);
      await until(
        'alpha completed',
        async () => (await r.durable.counts())['alpha']?.completed === 5,
      );
      expect((await r.durable.counts())['beta']).toMatchObject({ failed: 2 });
    });

    it('gauges show due and in-flight operations per type', async () => {
      const r = await rig(() => ({ status: 200, delay: 1_500 }));
      const op = r.durable.operation('g', { request: () => ({ method: 'POST', path: '/g' }) });
      await op.start({ i: 1 }, { wait: 0 });
      await op.start({ i: 2 }, { wait: 0 });
      expect(await r.durable.gauges()).toEqual({ due: { g: 2 }, inFlight: {} });
      work(r, 1);
      await until('one in flight', () => r.downstream.requests.length === 1);
      expect(await r.durable.gauges()).toEqual({ due: { g: 1 }, inFlight: { g: 1 } });
    });

    it('rejects inputs JSON would change and bad options, naming what was wrong', async () => {
      const r = await rig(() => ({ status: 200 }));
      const op = r.durable.operation<unknown>('strict', {
        request: () => ({ method: 'POST', path: '/s' }),
      });
      await expect(op.start({ when: new Date() })).rejects.toThrow(/input\.when is a Date/);
      expect(await rejection(op.start({ n: NaN }), isInvalidOperationInputError)).toBe(true);
      await expect(op.start({ f: undefined })).rejects.toThrow(/input\.f is undefined/);
      expect(await rejection(op.start({}, { wait: -1 }), isInvalidOptionError)).toBe(true);
      expect(() => r.durable.operation('strict', { request: () => ({ method: 'GET' }) })).toThrow(
        /already defined/,
      );
      expect(() => r.durable.operation('bad name', { request: () => ({ method: 'GET' }) })).toThrow(
        /name/,
      );
      expect(() => r.durable.startWorker({ concurrency: 0 })).toThrow(/concurrency/);
      expect(r.downstream.requests).toHaveLength(0);
    });

    it('refuses holes, symbol keys, deep nesting and inputs over maxInputBytes before writing anything', async () => {
      const r = await rig(() => ({ status: 200 }));
      const op = r.durable.operation<unknown>('checked', {
        request: () => ({ method: 'POST', path: '/c' }),
      });
      const small = r.durable.operation<unknown>('small', {
        request: () => ({ method: 'POST', path: '/c' }),
        maxInputBytes: 100,
      });
      let deep: unknown = 1;
      for (let i = 0; i < 20_000; i++) deep = [deep];
      const refusals: [Promise<unknown>, string, RegExp][] = [
        [
          op.start({
            items: [1, , 3] /* eslint-disable-line no-sparse-arrays -- the hole is the point */,
          }),
          'input.items[1]',
          /is a hole/,
        ],
        [op.start({ [Symbol('s')]: 1 }), 'input', /symbol-keyed member/],
        [op.start(deep), `input${'[0]'.repeat(100)}`, /nests deeper than 100 levels/],
        [op.start({ blob: 'x'.repeat(5_000_000) }), 'input', /more than maxInputBytes \(1048576\)/],
        [small.start({ blob: 'x'.repeat(200) }), 'input', /more than maxInputBytes \(100\)/],
      ];
      for (const [started, path, reason] of refusals) {
        const error = await started.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isInvalidOperationInputError(error)).toBe(true);
        expect(error).toMatchObject({ path, reason: expect.stringMatching(reason) });
      }
      // Nothing was persisted, nothing was sent.
      expect(await r.durable.counts()).toEqual({});
      expect(r.downstream.requests).toHaveLength(0);
      // The instance default applies to every type that sets none.
      const tight = createDurable({
        client: r.client,
        store: await makeStore(),
        maxInputBytes: 10,
      });
      const t = tight.operation('tight', { request: () => ({ method: 'POST', path: '/c' }) });
      await expect(t.start({ s: 'abcdefghij' }, { wait: 0 })).rejects.toThrow(
        /input is .*more than maxInputBytes \(10\)/,
      );
      expect(await tight.counts()).toEqual({});
      expect((await t.start({ s: 'ab' }, { wait: 0 })).status).toBe('accepted');
    });
  });
}
