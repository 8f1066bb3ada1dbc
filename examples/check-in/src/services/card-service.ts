import Fastify from 'fastify';
import type { IdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/fastify';
import { createLedger, faults, plans, seededRandom, type Ledger } from '@unfazed/testing';
import { keyOf, sleep } from '../http.js';
import type { Tone } from '../timeline.js';

/** Cards the driver pays with. */
export type CardKind = 'ok' | 'declined' | 'issuer-down';

/** The card service: slow, sometimes failing (Fastify, behind the Idempotency-Key plugin). */
export interface CardService {
  readonly url: string;
  /** Charges and refunds really made, by payment id: effects `{ kind: 'charge' | 'refund' }`. */
  readonly ledger: Ledger;
  stats(): { calls: number; retries: number; replayed: number; conflicts: number };
  close(): Promise<void>;
}

/** Options of {@link startCardService}. */
export interface CardServiceOptions {
  readonly store: IdempotencyStore;
  readonly seed: number;
  readonly say: (text: string, tone?: Tone) => void;
}

/**
 * Starts the card service on a free port. `POST /charges` is slow (a seeded 50–700 ms after
 * the charge is booked, so some answers arrive after the caller gave up), sometimes answers
 * 500 or hangs, always answers `502` for an `issuer-down` card and declines a
 * `declined` card with a final `402`. `POST /voids` cancels a payment's charge: refunds it if it
 * was made, refuses it if it arrives later.
 */
export async function startCardService(options: CardServiceOptions): Promise<CardService> {
  const ledger = createLedger();
  const voided = new Set<string>();
  const counts = { calls: 0, retries: 0, replayed: 0, conflicts: 0 };
  const attempts = new Map<string, number>();
  const slowness = seededRandom(options.seed ^ 0x5eed);
  const plan = plans.when(
    (call, random) => {
      const card = (call.headers?.['x-card'] as string | undefined) ?? 'ok';
      const hit = random.next();
      // 502, not 503 + Retry-After: the issuer of one card is down, not the whole card service.
      if (card === 'issuer-down')
        return faults.status(502, { body: { error: 'card issuer unreachable' } });
      if (hit < 0.12) return faults.status(500, { body: { error: 'card network error' } });
      if (hit < 0.17) return faults.hang();
      return 'pass';
    },
    { seed: options.seed, description: 'card: issuer-down cards 502, else 12 % 500 and 5 % hangs' },
  );
  const app = Fastify();

  // Faults come first, before the idempotency plugin claims the key: the charge never ran.
  app.addHook('onRequest', async (req, reply) => {
    if (req.url !== '/charges') return;
    counts.calls++;
    const key = keyOf(req.headers['idempotency-key']);
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    if (attempt > 1) counts.retries++;
    const fault = plan.next({
      transport: 'server',
      key,
      attempt,
      method: req.method,
      path: '/charges',
      headers: req.headers,
    });
    if (fault?.kind === 'status') {
      return reply.code(fault.status).headers(fault.headers).send(fault.body);
    }
    if (fault?.kind === 'hang') {
      await new Promise((resolve) => req.raw.socket.once('close', resolve));
      reply.hijack();
      return reply;
    }
    return undefined;
  });
  await app.register(idempotency, {
    store: options.store,
    // Short lease: a caller that timed out learns within a second whether to come back.
    leaseMs: 1_000,
    on: {
      replayed: () => {
        counts.replayed++;
      },
      conflict: () => {
        counts.conflicts++;
      },
    },
  });

  app.post<{ Body: { paymentId: string; card: CardKind; amount: number } }>(
    '/charges',
    async (req, reply) => {
      const { paymentId, card, amount } = req.body;
      if (voided.has(paymentId)) {
        // Gone: a final answer, the late attempt of a payment that was already compensated.
        options.say(`late charge of ${paymentId} refused (410): the payment was voided`, 'warn');
        return reply.code(410).send({ error: 'payment voided: not charged' });
      }
      if (card === 'declined') {
        options.say(`card of ${paymentId} declined (402, final)`, 'warn');
        return reply.code(402).send({ error: 'card declined' });
      }
      ledger.record(paymentId, {
        kind: 'charge',
        amount,
        key: keyOf(req.headers['idempotency-key']),
      });
      options.say(`charged ${amount} € for ${paymentId}`);
      await sleep(slowness.int(50, 700));
      return reply.code(201).send({ paymentId, charged: amount });
    },
  );

  // Behind the idempotency plugin too: the saga's compensation sends it with its own key
  // (`<saga id>:charge-card:compensate`), so a retried void refunds once.
  app.post<{ Body: { paymentId: string } }>('/voids', async (req) => {
    const { paymentId } = req.body;
    voided.add(paymentId);
    const charged = ledger
      .effects(paymentId)
      .filter((e) => (e.effect as { kind: string }).kind === 'charge').length;
    const refunded = ledger
      .effects(paymentId)
      .filter((e) => (e.effect as { kind: string }).kind === 'refund').length;
    if (charged > refunded) {
      ledger.record(paymentId, { kind: 'refund', key: keyOf(req.headers['idempotency-key']) });
      options.say(`void of ${paymentId}: refunded its charge`, 'warn');
      return { paymentId, refunded: true };
    }
    options.say(`void of ${paymentId}: nothing was charged; a late charge will be refused`, 'dim');
    return { paymentId, refunded: false };
  });

  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    ledger,
    stats: () => ({ ...counts }),
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
