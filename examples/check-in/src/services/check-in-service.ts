import Fastify from 'fastify';
import { formatRetryAfter } from '@unfazed/contract';
import type { CheckInInput, CheckInQueue } from '../operations.js';
import type { Tone } from '../timeline.js';

/** The state of a check-in, as `GET /check-ins/:id` shows it. */
export interface CheckInView {
  readonly passengerId: string;
  /** `done`: the boarding pass was sent. */
  readonly state: 'processing' | 'done' | 'failed';
  /** What it waits for while processing. */
  readonly step?: 'barcode' | 'boarding pass';
  readonly attempts?: number;
  readonly lastError?: string;
}

/** The check-in service (Fastify): the web UI's backend. */
export interface CheckInService {
  readonly url: string;
  /** The answers it gave to `POST /check-ins`, by passenger. */
  answers(): ReadonlyMap<string, number>;
  /** Ids of every durable operation of the check-ins (barcodes and boarding passes). */
  operationIds(): Promise<string[]>;
  close(): Promise<void>;
}

/** Options of {@link startCheckInService}. */
export interface CheckInServiceOptions {
  readonly queue: CheckInQueue;
  readonly barcodeUrl: string;
  readonly outputUrl: string;
  readonly wait: number;
  readonly say: (text: string, tone?: Tone) => void;
}

const SORRY = 'There was an error while sending your boarding pass';

/**
 * Starts the check-in service on a free port. `POST /check-ins` answers `200` when the barcode
 * and the boarding pass are done within the wait budget, else `202 Accepted` with the status
 * link; the durable queue finishes the job. `POST /v0/check-ins` is the same service without
 * Unfazed: one plain call each, and any failure goes straight to the passenger.
 */
export async function startCheckInService(options: CheckInServiceOptions): Promise<CheckInService> {
  const { queue } = options;
  const barcodeOps = new Map<string, string>();
  const answers = new Map<string, number>();
  const app = Fastify();

  const view = async (passengerId: string): Promise<CheckInView | undefined> => {
    const id = barcodeOps.get(passengerId);
    const rec = id === undefined ? undefined : await queue.durable.store.get(id);
    if (!rec) return undefined;
    if (rec.state === 'failed' || rec.state === 'dead')
      return { passengerId, state: 'failed', lastError: rec.lastError?.code ?? 'unknown' };
    if (rec.state !== 'completed' || rec.response === undefined) {
      return {
        passengerId,
        state: 'processing',
        step: 'barcode',
        attempts: rec.attempts,
        ...(rec.lastError ? { lastError: rec.lastError.code } : {}),
      };
    }
    // The barcode's onSuccess started the send with the passenger as key: this finds it.
    const send = await queue.sendBoardingPass.find(passengerId);
    if (send?.state === 'completed') return { passengerId, state: 'done' };
    if (send?.state === 'failed' || send?.state === 'dead')
      return { passengerId, state: 'failed', lastError: send.lastError?.code ?? 'unknown' };
    return { passengerId, state: 'processing', step: 'boarding pass' };
  };

  app.post<{ Body: CheckInInput }>('/check-ins', async (req, reply) => {
    const input: CheckInInput = {
      passengerId: req.body.passengerId,
      name: req.body.name,
      flight: req.body.flight,
    };
    queue.waiting.set(input.passengerId, Date.now() + options.wait);
    let current: CheckInView | undefined;
    try {
      const started = await queue.generateBarcode.start(input, {
        key: input.passengerId,
        wait: options.wait,
      });
      barcodeOps.set(input.passengerId, started.id);
      current = await view(input.passengerId);
    } finally {
      queue.waiting.delete(input.passengerId);
    }
    const location = `/check-ins/${encodeURIComponent(input.passengerId)}`;
    if (current?.state === 'done') {
      answers.set(input.passengerId, 200);
      return reply.code(200).send({ ...current, message: 'Your boarding pass is on its way' });
    }
    answers.set(input.passengerId, 202);
    return reply
      .code(202)
      .headers({ location, 'retry-after': formatRetryAfter(500) })
      .send({
        ...current,
        location,
        message: 'Checked in. We will send your boarding pass on time',
      });
  });

  app.get<{ Params: { id: string } }>('/check-ins/:id', async (req, reply) => {
    const current = await view(req.params.id);
    if (!current) return reply.code(404).send({ error: 'unknown check-in' });
    if (current.state === 'processing') void reply.header('retry-after', formatRetryAfter(500));
    return current;
  });

  app.post<{ Body: CheckInInput }>('/v0/check-ins', async (req, reply) => {
    try {
      const b = await fetch(`${options.barcodeUrl}/v0/barcodes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(req.body),
      });
      if (!b.ok) throw new Error(`barcode generator answered ${b.status}`);
      const { barcode } = (await b.json()) as { barcode: string };
      const o = await fetch(`${options.outputUrl}/v0/boarding-passes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...req.body, barcode }),
      });
      if (!o.ok) throw new Error(`output management answered ${o.status}`);
      return { state: 'done' };
    } catch (error) {
      const cause =
        error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
      options.say(
        `check-in of ${req.body.passengerId} failed: ${error instanceof Error ? error.message : String(error)}${cause}`,
        'bad',
      );
      return reply.code(500).send({ error: SORRY });
    }
  });

  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    answers: () => answers,
    async operationIds() {
      const ids = [...barcodeOps.values()];
      for (const [passengerId, id] of barcodeOps) {
        const rec = await queue.durable.store.get(id);
        if (rec?.state !== 'completed') continue;
        const send = await queue.sendBoardingPass.find(passengerId);
        if (send) ids.push(send.id);
      }
      return ids;
    },
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
