import Fastify from 'fastify';
import { formatRetryAfter, type OperationStatus } from '@unfazed/contract';
import type { CheckInInput, CheckInQueue } from '../operations.js';
import type { Tone } from '../timeline.js';

/** The state of a check-in, as `GET /check-ins/:id` shows it. */
export interface CheckInView {
  readonly passengerId: string;
  /** `done`: the boarding pass was sent. */
  readonly state: 'processing' | 'done' | 'failed';
  /** The saga's step it is at while processing. */
  readonly step?: string;
  readonly attempts?: number;
  readonly lastError?: string;
}

/** The check-in service (Fastify): the web UI's backend. */
export interface CheckInService {
  readonly url: string;
  /** The answers it gave to `POST /check-ins`, by passenger. */
  answers(): ReadonlyMap<string, number>;
  /** Ids of the check-in sagas. */
  operationIds(): string[];
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

/** What the passenger sees of a check-in saga. */
function viewOf(passengerId: string, status: OperationStatus): CheckInView {
  if (status.state === 'completed') return { passengerId, state: 'done' };
  if (status.state === 'compensated' || status.state === 'failed' || status.state === 'dead')
    return { passengerId, state: 'failed', lastError: status.lastError?.code ?? 'unknown' };
  const step = status.steps?.find((s) => s.state === 'running');
  return {
    passengerId,
    state: 'processing',
    ...(step ? { step: step.name } : {}),
    attempts: status.attempts,
    ...(status.lastError ? { lastError: status.lastError.code } : {}),
  };
}

/**
 * Starts the check-in service on a free port. `POST /check-ins` starts the check-in saga
 * (barcode, then boarding pass) with the passenger as key, and answers `200` when both steps are
 * done within the wait budget, else `202 Accepted` with the status link; the workers finish the
 * saga. `POST /v0/check-ins` is the same service without Unfazed: one plain call each, and any
 * failure goes straight to the passenger.
 */
export async function startCheckInService(options: CheckInServiceOptions): Promise<CheckInService> {
  const { queue } = options;
  const sagas = new Map<string, string>();
  const answers = new Map<string, number>();
  const app = Fastify();

  app.post<{ Body: CheckInInput }>('/check-ins', async (req, reply) => {
    const input: CheckInInput = {
      passengerId: req.body.passengerId,
      name: req.body.name,
      flight: req.body.flight,
    };
    // Keyed by the passenger: a second click finds the same saga, never a second pass.
    const started = await queue.checkIn.start(input, {
      key: input.passengerId,
      wait: options.wait,
    });
    sagas.set(input.passengerId, started.id);
    const location = `/check-ins/${encodeURIComponent(input.passengerId)}`;
    if (started.status === 'completed') {
      answers.set(input.passengerId, 200);
      return reply.code(200).send({
        passengerId: input.passengerId,
        state: 'done',
        message: 'Your boarding pass is on its way',
      });
    }
    const status = await queue.durable.status(started.id);
    answers.set(input.passengerId, 202);
    return reply
      .code(202)
      .headers({ location, 'retry-after': formatRetryAfter(500) })
      .send({
        ...(status ? viewOf(input.passengerId, status) : { passengerId: input.passengerId }),
        location,
        message: 'Checked in. We will send your boarding pass on time',
      });
  });

  app.get<{ Params: { id: string } }>('/check-ins/:id', async (req, reply) => {
    const status = await queue.checkIn.find(req.params.id);
    if (!status) return reply.code(404).send({ error: 'unknown check-in' });
    const current = viewOf(req.params.id, status);
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
    operationIds: () => [...sagas.values()],
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
