/**
 * The payment saga of the demo, against the real card service (seeded faults, behind its
 * idempotency plugin) and the in-memory credit ledger: steps, keys, results, and each way it is
 * compensated — including a local step whose outcome is unknown.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { memoryDurableStore, type DurableWorker } from '@unfazed/client/durable';
import { isTerminalOperationState, type OperationStatus } from '@unfazed/contract';
import { memoryIdempotencyStore } from '@unfazed/server';
import { memoryCreditLedger, type CreditLedger } from './credit-ledger.js';
import { observe, type DemoEvent } from './events.js';
import { sleep } from './http.js';
import { paymentQueue, SAGAS, type PaymentInput, type PaymentQueue } from './operations.js';
import { startCardService, type CardKind, type CardService } from './services/card-service.js';

interface Rig {
  readonly queue: PaymentQueue;
  readonly card: CardService;
  readonly credit: CreditLedger;
  readonly worker: DurableWorker;
  readonly said: string[];
  readonly reported: string[];
  /** What `observe` (the timeline's source) reported of the saga. */
  readonly events: DemoEvent[];
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.worker.stop({ timeout: 1_000 });
    await r.queue.client.close();
    await r.card.close();
  }
});

async function rig(
  options: { credit?: CreditLedger; deadline?: number; seed?: number } = {},
): Promise<Rig> {
  const said: string[] = [];
  const reported: string[] = [];
  const card = await startCardService({
    store: memoryIdempotencyStore(),
    seed: options.seed ?? 11,
    say: (text) => said.push(text),
  });
  const credit = options.credit ?? memoryCreditLedger(100);
  const queue = paymentQueue(
    memoryDurableStore(),
    { card: card.url },
    // A long default deadline: a loaded machine must not turn a good card into a compensation.
    { wait: 1_000, paymentDeadline: options.deadline ?? 10_000, leaseMs: 1_500 },
    credit,
    (text) => reported.push(text),
  );
  const events: DemoEvent[] = [];
  observe(queue.durable, queue.client, 'test', {}, (e) => events.push(e));
  const worker = queue.durable.startWorker({ pollInterval: 20 });
  const r = { queue, card, credit, worker, said, reported, events };
  rigs.push(r);
  return r;
}

/** Starts a payment and waits until its saga is completed or compensated. */
async function pay(
  r: Rig,
  cardKind: CardKind,
  amount = 100,
): Promise<{ id: string; status: OperationStatus; input: PaymentInput }> {
  const input: PaymentInput = { paymentId: 'PAY-1', customerId: 'P01', card: cardKind, amount };
  const started = await r.queue.payment.start(input, { key: input.paymentId, wait: 500 });
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(20)) {
    const status = await r.queue.durable.status(started.id);
    if (status && isTerminalOperationState(status.state)) {
      // The holder emits its last events right after the write that made it terminal.
      await sleep(50);
      return { id: started.id, status, input };
    }
  }
  throw new Error(`the payment saga ${started.id} did not end`);
}

/**
 * The saga events `observe` reported, as short strings; failed attempts and retried
 * compensations (a void timing out on a loaded machine) left out.
 */
function sagaEvents(r: Rig): string[] {
  return r.events.flatMap((e) => {
    switch (e.kind) {
      case 'step-completed':
        return [`${e.kind} ${e.step}`];
      case 'compensating':
        return [`${e.kind} ${e.reason} ${e.outcome}`];
      case 'step-compensated':
        return [`${e.kind} ${e.step} ${e.outcome}`];
      case 'compensated':
        return [`${e.kind} ${e.reason}`];
      case 'compensation-stuck':
        return [`${e.kind} ${e.step}`];
      default:
        return [];
    }
  });
}

const stepStates = (s: OperationStatus): [string, string][] =>
  (s.steps ?? []).map((step) => [step.name, step.state]);

describe('the payment saga', () => {
  it('takes credit, then charges the rest with the step key, the amount from the journal', async () => {
    const r = await rig();
    const { id, status } = await pay(r, 'ok', 100);
    expect(status.state).toBe('completed');
    expect(stepStates(status)).toEqual([
      ['deduct-credit', 'completed'],
      ['charge-card', 'completed'],
    ]);
    expect(sagaEvents(r)).toEqual(['step-completed deduct-credit', 'step-completed charge-card']);
    expect(r.events.every((e) => !('subject' in e) || e.subject === 'PAY-1')).toBe(true);
    expect(stepStates(status).map(([name]) => name)).toEqual([...SAGAS.payment]);
    const { movements } = await r.credit.snapshot();
    expect(movements).toEqual([
      expect.objectContaining({ kind: 'deduct', amount: 40, key: `${id}:deduct-credit` }),
    ]);
    // Charged once (whatever the seeded faults made it retry), 100 - 40 €, keyed by the step.
    expect(r.card.ledger.effects('PAY-1').map((e) => e.effect)).toEqual([
      { kind: 'charge', amount: 60, key: `${id}:charge-card` },
    ]);
  });

  it('a declined card: the charge step failed (not compensated), the credit comes back', async () => {
    const r = await rig();
    const { id, status } = await pay(r, 'declined', 90);
    expect(status.state).toBe('compensated');
    expect(status.lastError).toMatchObject({ code: 'status 402', outcome: 'failed' });
    expect(stepStates(status)).toEqual([
      ['deduct-credit', 'compensated'],
      ['charge-card', 'failed'],
    ]);
    const snap = await r.credit.snapshot();
    expect(snap.movements.map((m) => [m.kind, m.amount, m.key])).toEqual([
      ['deduct', 36, `${id}:deduct-credit`],
      ['restore', 36, `${id}:deduct-credit:compensate`],
    ]);
    expect(snap.balances.get('P01')).toBe(100);
    expect(r.card.ledger.effects()).toEqual([]);
    expect(sagaEvents(r)).toEqual([
      'step-completed deduct-credit',
      'compensating status 402 failed',
      'step-compensated deduct-credit completed',
      'compensated status 402',
    ]);
    // No void was sent: the charge is known not to have happened.
    expect(r.said.filter((s) => s.startsWith('void'))).toEqual([]);
  });

  it('past the deadline with the charge unknown: voids it (refusing a late one), then restores', async () => {
    const r = await rig({ deadline: 1_500 });
    const { status } = await pay(r, 'issuer-down', 100);
    expect(status.state).toBe('compensated');
    expect(status.lastError).toMatchObject({ code: 'deadline', outcome: 'unknown' });
    expect(stepStates(status)).toEqual([
      ['deduct-credit', 'compensated'],
      ['charge-card', 'compensated'],
    ]);
    expect(r.said).toContain('void of PAY-1: nothing was charged; a late charge will be refused');
    // The timeline's events: the step, the give-up, each undo newest first, the end.
    expect(sagaEvents(r)).toEqual([
      'step-completed deduct-credit',
      'compensating deadline unknown',
      'step-compensated charge-card unknown',
      'step-compensated deduct-credit completed',
      'compensated deadline',
    ]);
    expect((await r.credit.snapshot()).balances.get('P01')).toBe(100);
    // A charge of this payment arriving now (a stalled worker's) is refused. The card service's
    // seeded faults (500s, hangs) still apply to it: try until the handler answers.
    let late: number | undefined;
    for (let i = 0; i < 20 && (late === undefined || late === 500); i++) {
      late = await fetch(`${r.card.url}/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `"stalled-${i}"` },
        body: JSON.stringify({ paymentId: 'PAY-1', card: 'ok', amount: 60 }),
        signal: AbortSignal.timeout(1_000),
      }).then(
        (res) => res.status,
        () => undefined,
      );
    }
    expect(late).toBe(410);
  });

  it('a deduct that ran but did not return (a crash after the effect) is run again and takes once', async () => {
    const ledger = memoryCreditLedger(100);
    let calls = 0;
    const flaky: CreditLedger = {
      ...ledger,
      async deduct(key, d) {
        const result = await ledger.deduct(key, d);
        if (++calls === 1) throw new Error('worker lost after the write');
        return result;
      },
    };
    const r = await rig({ credit: flaky });
    const { status } = await pay(r, 'ok', 100);
    expect(status.state).toBe('completed');
    expect(status.steps?.[0]).toMatchObject({ name: 'deduct-credit', attempts: 2 });
    const snap = await ledger.snapshot();
    expect(snap.movements.filter((m) => m.kind === 'deduct')).toHaveLength(1);
    expect(snap.balances.get('P01')).toBe(60);
    expect(r.reported).toContain('PAY-1: deduct ran again, the ledger answered 40 € (once)');
    expect(r.card.ledger.effects('PAY-1')).toHaveLength(1);
  });

  it.each([
    ['after', 40, 'gave 40 € back'],
    ['before', 0, 'no credit had been taken (outcome unknown)'],
  ])(
    'a deduct that keeps throwing %s its write: compensated with outcome unknown, credit exact',
    async (when, taken, said) => {
      const ledger = memoryCreditLedger(100);
      const broken: CreditLedger = {
        ...ledger,
        async deduct(key, d) {
          if (when === 'after') await ledger.deduct(key, d);
          throw new Error('credit database timeout');
        },
      };
      const r = await rig({ credit: broken, deadline: 800 });
      const { id, status } = await pay(r, 'ok', 100);
      expect(status.state).toBe('compensated');
      expect(stepStates(status)).toEqual([
        ['deduct-credit', 'compensated'],
        ['charge-card', 'waiting'],
      ]);
      const rec = await r.queue.durable.store.get(id);
      expect(rec?.saga?.steps[0]).toMatchObject({ state: 'compensated', outcome: 'unknown' });
      const snap = await ledger.snapshot();
      const restored = snap.movements.filter((m) => m.kind === 'restore');
      expect(restored.reduce((n, m) => n + m.amount, 0)).toBe(taken);
      expect(snap.balances.get('P01') ?? 100).toBe(100);
      expect(r.reported.some((t) => t.includes(said))).toBe(true);
      // Nothing reached the card service.
      expect(r.card.stats().calls).toBe(0);
    },
  );
});
