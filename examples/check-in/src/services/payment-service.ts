import { createServer } from 'node:http';
import express from 'express';
import type { IdempotencyStore } from '@unfazed/server';
import { idempotency, operationStatusRoute, sendOutcome } from '@unfazed/server/express';
import { closeServer, listen, requireJsonBody } from '../http.js';
import type { PaymentQueue } from '../operations.js';
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
  /** Answers given to `POST /payments`, by status. */
  answers(): Record<number, number>;
  /** Ids of the payment sagas. */
  operationIds(): string[];
  close(): Promise<void>;
}

/** Options of {@link startPaymentService}. */
export interface PaymentServiceOptions {
  readonly store: IdempotencyStore;
  /** The durable queue its sagas run on. */
  readonly queue: PaymentQueue;
  readonly wait: number;
}

/**
 * Starts the payment service on a free port. `POST /payments` starts the payment saga (take
 * credit, charge the card; on a final failure or past the deadline: void the charge, give the
 * credit back) with the payment id as key, and answers `200` paid, `402` compensated, or `202`
 * with the saga's status link.
 */
export async function startPaymentService(options: PaymentServiceOptions): Promise<PaymentService> {
  const sagas = new Map<string, string>();
  const answers: Record<number, number> = {};
  const app = express();
  const server = createServer(app);
  const url = await listen(server);
  const { queue } = options;

  app.post(
    '/payments',
    idempotency({ store: options.store }),
    express.json(),
    requireJsonBody,
    async (req, res, next) => {
      try {
        const p = req.body as PaymentRequest;
        const outcome = await queue.payment.start(
          { paymentId: p.paymentId, customerId: p.customerId, card: p.card, amount: p.amount },
          { key: p.paymentId, wait: options.wait },
        );
        sagas.set(p.paymentId, outcome.id);
        // 200 paid, 202 + Location of the saga's status resource, or 402 compensated.
        sendOutcome(res, outcome, {
          location: (id) => `/operations/${id}`,
          minRetryAfter: 500,
          completed: () => ({ body: { paymentId: p.paymentId, state: 'paid' } }),
          // The compensations already ran inside start(): the charge is void, the credit back.
          failed: (failed) => ({
            status: 402,
            body: { paymentId: p.paymentId, state: failed.state, reason: failed.failure.code },
          }),
        });
        answers[res.statusCode] = (answers[res.statusCode] ?? 0) + 1;
      } catch (error) {
        next(error);
      }
    },
  );

  // The status link of a payment still in progress: the saga's state and its steps
  // (`completed`: paid; `compensating`, then `compensated`: charge voided, credit restored).
  app.get('/operations/:id', operationStatusRoute({ source: queue.durable, pollAfter: 500 }));

  return {
    url,
    answers: () => ({ ...answers }),
    operationIds: () => [...sagas.values()],
    close: () => closeServer(server),
  };
}
