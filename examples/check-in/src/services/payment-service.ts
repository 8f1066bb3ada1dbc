import { createServer } from 'node:http';
import express, { type Response } from 'express';
import { formatRetryAfter, isTerminalOperationState } from '@unfazed/contract';
import type { IdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import { createLedger, type Ledger } from '@unfazed/testing';
import { closeServer, listen } from '../http.js';
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

/** The state of a payment, as `GET /payments/:id` shows it. */
export type PaymentState = 'processing' | 'paid' | 'compensated';

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

  const answer = (
    res: Response,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    answers[status] = (answers[status] ?? 0) + 1;
    res.status(status).set(headers).json(body);
  };

  app.post(
    '/payments',
    idempotency({ store: options.store }),
    express.json(),
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
        const location = `/payments/${encodeURIComponent(p.paymentId)}`;
        if (outcome.status === 'completed')
          return answer(res, 200, { paymentId: p.paymentId, state: 'paid' });
        if (outcome.status === 'failed') {
          // The compensation already ran inside start(): the credit is back.
          return answer(res, 402, {
            paymentId: p.paymentId,
            state: 'compensated',
            reason: outcome.failure.code,
          });
        }
        return answer(
          res,
          202,
          { paymentId: p.paymentId, state: 'processing', location },
          { location, 'retry-after': formatRetryAfter(500) },
        );
      } catch (error) {
        next(error);
      }
    },
  );

  app.post(
    '/credits/restorations',
    idempotency({ store: options.store }),
    express.json(),
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

  app.get('/payments/:id', async (req, res, next) => {
    try {
      const opId = operations.get(req.params.id);
      const status = opId === undefined ? undefined : await queue.durable.status(opId);
      if (!status) return void res.status(404).json({ error: 'unknown payment' });
      const state: PaymentState =
        status.state === 'completed'
          ? 'paid'
          : isTerminalOperationState(status.state)
            ? 'compensated'
            : 'processing';
      if (state === 'processing') res.set('retry-after', formatRetryAfter(500));
      res.json({
        paymentId: req.params.id,
        state,
        attempts: status.attempts,
        lastError: status.lastError?.code,
      });
    } catch (error) {
      next(error);
    }
  });

  return {
    url,
    ledger,
    balances,
    answers: () => ({ ...answers }),
    operationIds: () => [...operations.values()],
    close: () => closeServer(server),
  };
}
