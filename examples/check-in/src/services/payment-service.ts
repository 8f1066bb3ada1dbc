import { createServer } from 'node:http';
import express from 'express';
import type { IdempotencyStore } from '@unfazed/server';
import { idempotency, operationStatusRoute, sendOutcome } from '@unfazed/server/express';
import { createLedger, type Ledger } from '@unfazed/testing';
import { closeServer, listen, requireJsonBody } from '../http.js';
import type { PaymentQueue } from '../operations.js';
import type { Tone } from '../timeline.js';
import type { CardKind } from './card-service.js';

/** What the web UI posts to pay. */
export interface PaymentRequest {
  readonly paymentId: string;
  readonly customerId: string;
  readonly card: CardKind;
  readonly amount: number;
}

/** The payment service (Express): customer credit first, the rest charged to the card. */
export interface PaymentService {
  readonly url: string;
  /** Credit movements, by payment id: effects `{ kind: 'deduct' | 'restore', amount }`. */
  readonly ledger: Ledger;
  /** Customer credit now. */
  readonly balances: ReadonlyMap<string, number>;
  /** Answers given to `POST /payments`, by status. */
  answers(): Record<number, number>;
  /** Ids of the durable charge operations. */
  operationIds(): string[];
  close(): Promise<void>;
}

/** Options of {@link startPaymentService}. */
export interface PaymentServiceOptions {
  readonly store: IdempotencyStore;
  /** Defines the durable queue once the service's own URL (for the compensation) is known. */
  readonly queue: (url: string) => PaymentQueue;
  readonly wait: number;
  readonly initialCredit: number;
  readonly say: (text: string, tone?: Tone) => void;
}

/** Starts the payment service on a free port. */
export async function startPaymentService(options: PaymentServiceOptions): Promise<PaymentService> {
  const ledger = createLedger();
  const balances = new Map<string, number>();
  const operations = new Map<string, string>();
  const answers: Record<number, number> = {};
  const app = express();
  const server = createServer(app);
  const url = await listen(server);
  const queue = options.queue(url);

  app.post(
    '/payments',
    idempotency({ store: options.store }),
    express.json(),
    requireJsonBody,
    async (req, res, next) => {
      try {
        const p = req.body as PaymentRequest;
        const balance = balances.get(p.customerId) ?? options.initialCredit;
        const creditAmount = Math.min(balance, Math.round(p.amount * 0.4));
        balances.set(p.customerId, balance - creditAmount);
        ledger.record(p.paymentId, {
          kind: 'deduct',
          amount: creditAmount,
          customer: p.customerId,
        });
        options.say(
          `${p.paymentId}: ${creditAmount} € taken from ${p.customerId}'s credit, charging ${p.amount - creditAmount} € to the card`,
        );
        const outcome = await queue.chargeCard.start(
          {
            paymentId: p.paymentId,
            customerId: p.customerId,
            card: p.card,
            creditAmount,
            cardAmount: p.amount - creditAmount,
          },
          { key: p.paymentId, wait: options.wait },
        );
        operations.set(p.paymentId, outcome.id);
        // 200 paid, 202 + Location of the operation's status resource, or 402 compensated.
        sendOutcome(res, outcome, {
          location: (id) => `/operations/${id}`,
          minRetryAfter: 500,
          completed: () => ({ body: { paymentId: p.paymentId, state: 'paid' } }),
          // The compensation already ran inside start(): the credit is back.
          failed: (failed) => ({
            status: 402,
            body: { paymentId: p.paymentId, state: 'compensated', reason: failed.failure.code },
          }),
        });
        answers[res.statusCode] = (answers[res.statusCode] ?? 0) + 1;
      } catch (error) {
        next(error);
      }
    },
  );

  app.post(
    '/credits/restorations',
    idempotency({ store: options.store }),
    express.json(),
    requireJsonBody,
    (req, res) => {
      const r = req.body as { paymentId: string; customerId: string; amount: number };
      balances.set(r.customerId, (balances.get(r.customerId) ?? options.initialCredit) + r.amount);
      ledger.record(r.paymentId, { kind: 'restore', amount: r.amount });
      options.say(
        `${r.paymentId}: compensation gave ${r.amount} € back to ${r.customerId}'s credit`,
        'warn',
      );
      res.status(201).json({ restored: r.amount });
    },
  );

  // The status link of a payment that is still processing: the durable operation's state
  // (`completed`: paid; `failed` or `dead`: compensated, since onGiveUp ran before either).
  app.get('/operations/:id', operationStatusRoute({ source: queue.durable, pollAfter: 500 }));

  return {
    url,
    ledger,
    balances,
    answers: () => ({ ...answers }),
    operationIds: () => [...operations.values()],
    close: () => closeServer(server),
  };
}
