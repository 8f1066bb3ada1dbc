import { createClient, type Client } from '@unfazed/client';
import {
  createDurable,
  type Durable,
  type DurableOperation,
  type DurableStore,
} from '@unfazed/client/durable';
import type { ServiceUrls, Timing } from './config.js';
import type { CreditLedger } from './credit-ledger.js';
import type { CardKind } from './services/card-service.js';

/** What a passenger checks in with (the check-in saga's input). */
export interface CheckInInput {
  readonly passengerId: string;
  readonly name: string;
  readonly flight: string;
}

/** A payment (the payment saga's input): part paid from customer credit, the rest by card. */
export interface PaymentInput {
  readonly paymentId: string;
  readonly customerId: string;
  readonly card: CardKind;
  /** The whole amount, €. */
  readonly amount: number;
}

/** The saga types, their steps in order (for the timeline and the tests). */
export const SAGAS = {
  'check-in': ['generate-barcode', 'send-boarding-pass'],
  payment: ['deduct-credit', 'charge-card'],
} as const satisfies Record<string, readonly string[]>;

/** What the deduct-credit step journals (`ctx.results['deduct-credit']`). */
export interface DeductedCredit {
  readonly taken: number;
}

/** The share of a payment taken from customer credit, at most (the rest goes to the card). */
export const CREDIT_SHARE = 0.4;

/** What a local step of the payment saga did to the credit ledger, for the timeline. */
export type CreditReport = (text: string, tone?: 'plain' | 'warn' | 'bad') => void;

/** The check-in service's durable queue and its saga. */
export interface CheckInQueue {
  readonly durable: Durable;
  readonly client: Client;
  /** generate-barcode → send-boarding-pass; started with the passenger as key. */
  readonly checkIn: DurableOperation<CheckInInput>;
}

/** The payment service's durable queue and its saga. */
export interface PaymentQueue {
  readonly durable: Durable;
  readonly client: Client;
  /** deduct-credit → charge-card; started with the payment id as key. */
  readonly payment: DurableOperation<PaymentInput>;
}

/**
 * Defines the check-in saga on a store. Every process that starts or works it calls this: the
 * main process (the check-in service) and each worker process.
 */
export function checkInQueue(
  store: DurableStore,
  urls: Pick<ServiceUrls, 'barcode' | 'output'>,
  timing: Timing,
): CheckInQueue {
  // One breaker per downstream origin: while the barcode generator is down, calls to it fail
  // fast and the durable queue parks its sagas until the next probe.
  const client = createClient({
    // Above every step's attemptTimeout, so that the queue's per-attempt deadline is what ends
    // a hung attempt.
    timeout: { attempt: 700, total: 10_000 },
    breaker: {
      failureRatio: 0.5,
      minimumCalls: 4,
      windowMs: 1_500,
      openMs: 1_000,
      openGrowth: 1,
    },
  });
  const durable = createDurable({
    client,
    store,
    leaseMs: timing.leaseMs,
    backoff: { initialMs: 100, maxMs: 1_000 },
    probeJitter: 200,
  });
  // Neither step needs undoing: a barcode is pure, and a boarding pass, once sent, stays sent.
  const checkIn = durable.saga<CheckInInput>('check-in', {
    deadline: 60_000,
    steps: [
      {
        name: 'generate-barcode',
        attemptTimeout: 300,
        request: (input) => ({
          method: 'POST',
          url: `${urls.barcode}/barcodes`,
          json: { passengerId: input.passengerId, flight: input.flight },
        }),
      },
      {
        // Sent with Idempotency-Key `<saga id>:send-boarding-pass`: output management sends the
        // pass once however often the answer is lost and the step retried.
        name: 'send-boarding-pass',
        attemptTimeout: 500,
        request: (input, ctx) => ({
          method: 'POST',
          url: `${urls.output}/boarding-passes`,
          json: {
            ...input,
            barcode: (ctx.results['generate-barcode'] as { body: { barcode: string } }).body
              .barcode,
          },
        }),
      },
    ],
  });
  return { durable, client, checkIn };
}

/**
 * Defines the payment saga: take customer credit (a local step on the payment service's own
 * ledger), then charge the rest to the card (a request to the card service). When the charge
 * fails finally or the deadline passes, the saga voids the charge (if it may have happened) and
 * gives the credit back, in that order.
 */
export function paymentQueue(
  store: DurableStore,
  urls: Pick<ServiceUrls, 'card'>,
  timing: Timing,
  credit: CreditLedger,
  report: CreditReport,
): PaymentQueue {
  const client = createClient({
    timeout: { attempt: 600, total: 10_000 },
    breaker: {
      failureRatio: 0.6,
      minimumCalls: 10,
      windowMs: 2_000,
      openMs: 1_000,
      openGrowth: 1,
    },
  });
  const durable = createDurable({
    client,
    store,
    leaseMs: timing.leaseMs,
    backoff: { initialMs: 150, maxMs: 1_000 },
    probeJitter: 200,
  });
  const payment = durable.saga<PaymentInput>('payment', {
    deadline: timing.paymentDeadline,
    attemptTimeout: 400,
    steps: [
      {
        // Local: runs in whichever process holds the saga, at least once. The ledger applies a
        // step key once, so a rerun (after a crash, or a stalled holder) takes the credit once.
        name: 'deduct-credit',
        async run(input, ctx): Promise<DeductedCredit> {
          const wanted = Math.round(input.amount * CREDIT_SHARE);
          const d = await credit.deduct(ctx.stepKey, {
            paymentId: input.paymentId,
            customerId: input.customerId,
            wanted,
          });
          if (d.refused)
            report(`${input.paymentId}: late deduct refused, the payment was compensated`, 'bad');
          else if (d.replayed)
            report(`${input.paymentId}: deduct ran again, the ledger answered ${d.taken} € (once)`);
          else
            report(
              `${input.paymentId}: took ${d.taken} € of ${input.customerId}'s credit (left: ${d.balance} €)`,
            );
          return { taken: d.taken } satisfies DeductedCredit;
        },
        // Also local and idempotent, by the compensation key. With outcome 'unknown' the deduct
        // may not have happened: the ledger gives back what that step key took, if anything.
        async compensate(input, ctx) {
          const r = await credit.restore(ctx.compensationKey, ctx.stepKey, {
            paymentId: input.paymentId,
            customerId: input.customerId,
          });
          if (r.replayed) return;
          report(
            r.restored > 0
              ? `${input.paymentId}: gave ${r.restored} € back to ${input.customerId}'s credit (now ${r.balance} €)`
              : `${input.paymentId}: no credit had been taken (outcome ${ctx.outcome}), nothing to give back`,
            'warn',
          );
        },
      },
      {
        // Idempotency-Key `<saga id>:charge-card` on every attempt: one charge however often
        // it is retried, by whichever worker.
        name: 'charge-card',
        request: (input, ctx) => ({
          method: 'POST',
          url: `${urls.card}/charges`,
          // The card network routes by card; the card service decides its faults before the body.
          headers: { 'x-card': input.card },
          json: {
            paymentId: input.paymentId,
            card: input.card,
            amount: input.amount - (ctx.results['deduct-credit'] as DeductedCredit).taken,
          },
        }),
        // Sent with `<saga id>:charge-card:compensate`: refunds a charge that was made (a slow
        // answer the saga gave up on), and refuses one that arrives later.
        compensate: {
          request: (input) => ({
            method: 'POST',
            url: `${urls.card}/voids`,
            json: { paymentId: input.paymentId },
          }),
        },
      },
    ],
  });
  return { durable, client, payment };
}
