import { createClient, type Client } from '@unfazed/client';
import {
  createDurable,
  type Durable,
  type DurableOperation,
  type DurableStore,
} from '@unfazed/client/durable';
import type { ServiceUrls, Timing } from './config.js';

/** What a passenger checks in with. */
export interface CheckInInput {
  readonly passengerId: string;
  readonly name: string;
  readonly flight: string;
}

/** What output management needs to send a boarding pass. */
export interface BoardingPassInput extends CheckInInput {
  readonly barcode: string;
}

/** A payment: part paid from customer credit, the rest charged to a card. */
export interface ChargeInput {
  readonly paymentId: string;
  readonly customerId: string;
  readonly card: string;
  readonly creditAmount: number;
  readonly cardAmount: number;
}

/** The check-in service's durable queue and its two operation types. */
export interface CheckInQueue {
  readonly durable: Durable;
  readonly client: Client;
  readonly generateBarcode: DurableOperation<CheckInInput>;
  readonly sendBoardingPass: DurableOperation<BoardingPassInput>;
  /** Passengers whose caller is waiting in this process, with the time it must be answered by. */
  readonly waiting: Map<string, number>;
}

/** The payment service's durable queue. */
export interface PaymentQueue {
  readonly durable: Durable;
  readonly client: Client;
  readonly chargeCard: DurableOperation<ChargeInput>;
  /** Calls of the compensation (no breaker: undoing must not wait for the card service's circuit). */
  readonly compensationClient: Client;
}

/** The boarding pass input once the barcode is known. */
export function boardingPassInput(input: CheckInInput, barcodeBody: string): BoardingPassInput {
  const { barcode } = JSON.parse(barcodeBody) as { barcode: string };
  return { passengerId: input.passengerId, name: input.name, flight: input.flight, barcode };
}

/**
 * Defines the check-in operations on a store. Every process that starts or works them calls
 * this: the main process (the check-in service) and each worker process.
 */
export function checkInQueue(store: DurableStore, urls: ServiceUrls, timing: Timing): CheckInQueue {
  // One breaker per downstream origin: while the barcode generator is down, calls to it fail
  // fast and the durable queue parks its operations until the next probe.
  const client = createClient({
    // Above every operation's attemptTimeout, so that the queue's per-attempt deadline is what
    // ends a hung attempt.
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
  const waiting = new Map<string, number>();
  const sendBoardingPass = durable.operation<BoardingPassInput>('send-boarding-pass', {
    request: (input) => ({ method: 'POST', url: `${urls.output}/boarding-passes`, json: input }),
    attemptTimeout: 500,
    deadline: 60_000,
  });
  const generateBarcode = durable.operation<CheckInInput>('generate-barcode', {
    request: (input) => ({
      method: 'POST',
      url: `${urls.barcode}/barcodes`,
      json: { passengerId: input.passengerId, flight: input.flight },
    }),
    attemptTimeout: 300,
    deadline: 60_000,
    // Runs at least once; starting with the passenger as key makes a repeat find the same send.
    async onSuccess(response, ctx) {
      const answerBy = waiting.get(ctx.input.passengerId);
      // A caller of this process is still waiting: try the send within its budget. Otherwise
      // (a worker) just persist it for the workers.
      const wait = answerBy === undefined ? 0 : Math.max(0, answerBy - Date.now());
      await sendBoardingPass.start(boardingPassInput(ctx.input, response.body), {
        key: ctx.input.passengerId,
        wait,
      });
    },
  });
  return { durable, client, generateBarcode, sendBoardingPass, waiting };
}

/** Defines the payment operation (charge the card; compensate by voiding it and restoring credit). */
export function paymentQueue(store: DurableStore, urls: ServiceUrls, timing: Timing): PaymentQueue {
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
  const compensationClient = createClient({
    timeout: { attempt: 1_000, total: 5_000 },
    retry: { maxRetries: 3, backoff: { initialMs: 50, maxMs: 500 } },
    breaker: false,
  });
  const durable = createDurable({
    client,
    store,
    leaseMs: timing.leaseMs,
    backoff: { initialMs: 150, maxMs: 1_000 },
    probeJitter: 200,
  });
  const post = async (url: string, json: unknown, key: string): Promise<void> => {
    const res = await compensationClient.request({
      method: 'POST',
      url,
      json,
      idempotencyKey: key,
    });
    await res.dump();
    if (res.status >= 300) throw new Error(`POST ${url} answered ${res.status}`);
  };
  const chargeCard = durable.operation<ChargeInput>('charge-card', {
    request: (input) => ({
      method: 'POST',
      url: `${urls.card}/charges`,
      // The card network routes by card; the card service decides its faults before the body.
      headers: { 'x-card': input.card },
      json: { paymentId: input.paymentId, card: input.card, amount: input.cardAmount },
    }),
    attemptTimeout: 400,
    deadline: timing.paymentDeadline,
    // Compensation, at least once (a throw makes the queue run it again): void the charge, so a
    // late one is refunded or refused, then give the customer the credit back. Both calls are
    // keyed by the operation id, so the receiving services apply each exactly once.
    async onGiveUp(_failure, ctx) {
      await post(`${urls.card}/voids`, { paymentId: ctx.input.paymentId }, `void:${ctx.id}`);
      await post(
        `${urls.payment}/credits/restorations`,
        {
          paymentId: ctx.input.paymentId,
          customerId: ctx.input.customerId,
          amount: ctx.input.creditAmount,
        },
        `restore:${ctx.id}`,
      );
    },
  });
  return { durable, client, chargeCard, compensationClient };
}
