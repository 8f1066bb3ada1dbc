import { describe, expect, it } from '@jest/globals';
import { createLedger } from '@unfazed/testing';
import type { CreditMovement } from './credit-ledger.js';
import type { UiOutcome } from './driver.js';
import { summarize, type SummaryInput } from './summary.js';

const move = (
  paymentId: string,
  customerId: string,
  kind: 'deduct' | 'restore',
  amount: number,
): CreditMovement => ({
  paymentId,
  customerId,
  kind,
  amount,
  key: `saga-${paymentId}:deduct-credit${kind === 'restore' ? ':compensate' : ''}`,
  at: Date.now(),
});

/** Two passengers and two payments that went right: pass sent once each, one paid, one compensated. */
function input(): SummaryInput & { credit: { movements: CreditMovement[] } } {
  const passes = createLedger();
  const card = createLedger();
  passes.record('P01', {});
  passes.record('P02', {});
  card.record('PAY-1', { kind: 'charge', amount: 60 });
  const movements = [
    move('PAY-1', 'P01', 'deduct', 40),
    move('PAY-2', 'P02', 'deduct', 20),
    move('PAY-2', 'P02', 'restore', 20),
  ];
  const done = (state: string, amount?: number): UiOutcome => ({
    answer: 200,
    state,
    finalAt: 1,
    ...(amount !== undefined ? { amount } : {}),
  });
  return {
    mode: 'memory',
    seed: 1,
    workers: { started: 0, killed: 0, takeovers: 0 },
    passengerIds: ['P01', 'P02'],
    paymentIds: ['PAY-1', 'PAY-2'],
    checkInAnswers: new Map([
      ['P01', 200],
      ['P02', 202],
    ]),
    paymentAnswers: { 200: 1, 402: 1 },
    ui: {
      checkIns: new Map([
        ['P01', done('done')],
        ['P02', done('done')],
      ]),
      payments: new Map([
        ['PAY-1', done('paid', 100)],
        ['PAY-2', done('compensated', 50)],
      ]),
    },
    passes,
    credit: {
      movements,
      balances: new Map([
        ['P01', 60],
        ['P02', 100],
      ]),
    },
    card,
    initialCredit: 100,
    sagas: { stepsCompleted: {}, stepsCompensated: {}, compensationErrors: 0, stuck: 0 },
    output: { retries: 0, replayed: 0, conflicts: 0, lostResponses: 0 },
    barcodeRetries: 0,
    cardRetries: 0,
    breaker: { opened: 0, callsNotMade: 0 },
    storyStart: Date.now(),
    runStart: Date.now(),
  };
}

describe('summarize', () => {
  it('counts what the ledgers hold and finds every invariant holding', () => {
    const s = summarize(input());
    expect(s.invariants).toEqual({ ok: true, violations: [] });
    expect(s.answered).toEqual({ ok200: 1, accepted202: 1, other: 0 });
    expect(s.boardingPasses.sent).toBe(2);
    expect(s.payments).toMatchObject({
      total: 2,
      completed: 1,
      compensated: 1,
      refunded: 0,
      creditRestored: 20,
    });
  });

  it('names a duplicate boarding pass and a lost check-in', () => {
    const i = input();
    i.passes.clear();
    i.passes.record('P01', {});
    i.passes.record('P01', {});
    const s = summarize(i);
    expect(s.invariants.ok).toBe(false);
    expect(s.invariants.violations).toEqual(
      expect.arrayContaining([
        'duplicate boarding pass: P01 got 2',
        'lost check-in: P02 got no boarding pass',
      ]),
    );
  });

  it('names a payment that was neither completed nor compensated, and a credit that does not add up', () => {
    const i = input();
    i.credit.movements.splice(2);
    const s = summarize(i);
    expect(s.invariants.violations).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^payment PAY-2 neither completed nor compensated \(credit taken 1× \(20 €\), restored 0× \(0 €\), card charged 0×/,
        ),
        'credit of P02 is 100 €, expected 80 €',
      ]),
    );
  });

  it('names a compensation that gave back another amount than was taken, or gave it twice', () => {
    const short = input();
    short.credit.movements[2] = move('PAY-2', 'P02', 'restore', 15);
    expect(summarize(short).invariants.violations).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^payment PAY-2 neither completed nor compensated/),
      ]),
    );
    const twice = input();
    twice.credit.movements.push(move('PAY-2', 'P02', 'restore', 20));
    expect(summarize(twice).invariants.violations).toEqual(
      expect.arrayContaining([expect.stringMatching(/^credit restored twice: PAY-2/)]),
    );
  });

  it('accepts a compensated payment whose credit was never taken (the step outcome was unknown)', () => {
    const i = input();
    i.credit.movements.splice(1);
    const s = summarize(i);
    expect(s.invariants).toEqual({ ok: true, violations: [] });
    expect(s.payments).toMatchObject({ compensated: 1, creditRestored: 0 });
  });

  it('checks that credit and card add up to the payment', () => {
    const i = input();
    const paid = i.ui.payments.get('PAY-1');
    if (paid) paid.amount = 110;
    expect(summarize(i).invariants.violations).toEqual([
      'PAY-1 paid 40 € of credit + 60 € by card, but the payment was 110 €',
    ]);
  });

  it('accepts a late charge that the compensation refunded', () => {
    const i = input();
    i.card.record('PAY-2', { kind: 'charge', amount: 30 });
    i.card.record('PAY-2', { kind: 'refund' });
    const s = summarize(i);
    expect(s.invariants.ok).toBe(true);
    expect(s.payments.refunded).toBe(1);
  });

  it('flags a charge made twice', () => {
    const i = input();
    i.card.record('PAY-1', { kind: 'charge', amount: 60 });
    expect(summarize(i).invariants.violations).toEqual(
      expect.arrayContaining([expect.stringMatching(/^duplicate charge: PAY-1/)]),
    );
  });
});
