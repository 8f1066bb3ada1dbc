import { createClient, type Client } from '@unfazed/client';
import { isTerminalOperationState, parseRetryAfter, type OperationState } from '@unfazed/contract';
import { seededRandom } from '@unfazed/testing';
import { sleep } from './http.js';
import type { CardKind } from './services/card-service.js';
import type { Tone } from './timeline.js';

const NAMES = [
  'Ada Lovelace',
  'Alan Turing',
  'Barbara Liskov',
  'Edsger Dijkstra',
  'Frances Allen',
  'Donald Knuth',
  'Margaret Hamilton',
  'Ken Thompson',
  'Radia Perlman',
  'Tony Hoare',
  'Leslie Lamport',
  'Karen Spärck Jones',
  'John Backus',
  'Hedy Lamarr',
  'Niklaus Wirth',
  'Adele Goldberg',
  'Dennis Ritchie',
  'Sophie Wilson',
  'Butler Lampson',
  'Lynn Conway',
];

/** The flight everyone is on. */
export const FLIGHT = 'UF042';

/** What the web UI saw for one check-in or payment. */
export interface UiOutcome {
  /** Status of the first answer. */
  readonly answer: number;
  /** Final state as the status link showed it (or the first answer when it was final). */
  state: string;
  /** Ms from the run's start until the UI saw it final. */
  finalAt?: number;
  /** A payment's amount, €. */
  amount?: number;
}

/** Options of {@link runDriver}. */
export interface DriverOptions {
  readonly checkInUrl: string;
  readonly paymentUrl: string;
  readonly passengers: number;
  readonly payments: number;
  readonly seed: number;
  /** Epoch ms after which the UI stops polling. */
  readonly giveUpAt: number;
  readonly start: number;
  readonly say: (actor: string, text: string, tone?: Tone) => void;
}

/** Names passenger `i` (1-based). */
export function passenger(i: number): { passengerId: string; name: string } {
  return {
    passengerId: `P${String(i).padStart(2, '0')}`,
    name: NAMES[(i - 1) % NAMES.length] ?? 'Passenger',
  };
}

/** The cards of the payments: one of each kind first (in seeded order), then mostly good ones. */
export function cardsFor(payments: number, seed: number): CardKind[] {
  const random = seededRandom(seed ^ 0xca4d);
  const first: CardKind[] = ['ok', 'declined', 'issuer-down'];
  for (let i = first.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [first[i], first[j]] = [first[j] as CardKind, first[i] as CardKind];
  }
  return Array.from({ length: payments }, (_, i) =>
    i < first.length
      ? (first[i] as CardKind)
      : random.chance(0.7)
        ? 'ok'
        : random.pick<CardKind>(['declined', 'issuer-down']),
  );
}

/** Follows a status link until it shows a final state, honouring `Retry-After` (at most 0.5 s). */
async function poll(
  client: Client,
  url: string,
  isFinal: (body: { state: string }) => boolean,
  giveUpAt: number,
): Promise<{ state: string } | undefined> {
  while (Date.now() < giveUpAt) {
    const res = await client.request({ method: 'GET', url });
    const body = (await res.json()) as { state: string };
    if (res.status === 200 && isFinal(body)) return body;
    const hint = parseRetryAfter(res.headers['retry-after'] as string | undefined, {
      now: Date.now(),
      maxMs: 500,
    });
    await sleep(Math.min(500, hint ?? 300));
  }
  return undefined;
}

/**
 * The web UI: checks in `passengers` passengers and makes `payments` payments, a few ms apart,
 * and follows every `202`'s status link until it is final.
 */
export async function runDriver(options: DriverOptions): Promise<{
  checkIns: Map<string, UiOutcome>;
  payments: Map<string, UiOutcome>;
}> {
  const client = createClient({ timeout: { total: 15_000, attempt: 5_000 }, breaker: false });
  const checkIns = new Map<string, UiOutcome>();
  const payments = new Map<string, UiOutcome>();
  const rel = (): number => Date.now() - options.start;
  const random = seededRandom(options.seed ^ 0xd41e);
  const cards = cardsFor(options.payments, options.seed);

  const checkIn = async (i: number): Promise<void> => {
    const p = passenger(i);
    const sent = Date.now();
    const res = await client.request({
      method: 'POST',
      url: `${options.checkInUrl}/check-ins`,
      json: { ...p, flight: FLIGHT },
    });
    const body = (await res.json()) as { state: string; location?: string; message?: string };
    const ms = Date.now() - sent;
    const outcome: UiOutcome = { answer: res.status, state: body.state };
    checkIns.set(p.passengerId, outcome);
    if (res.status === 200) {
      outcome.finalAt = rel();
      options.say(
        `web UI ${p.passengerId}`,
        `${p.name}: 200 in ${ms} ms — "${body.message ?? ''}"`,
        'ok',
      );
      return;
    }
    options.say(
      `web UI ${p.passengerId}`,
      `${p.name}: ${res.status} in ${ms} ms — "${body.message ?? ''}", polling ${body.location ?? '?'}`,
      res.status === 202 ? 'warn' : 'bad',
    );
    if (res.status !== 202 || !body.location) return;
    const final = await poll(
      client,
      `${options.checkInUrl}${body.location}`,
      (b) => b.state !== 'processing',
      options.giveUpAt,
    );
    outcome.state = final?.state ?? 'still processing';
    if (final) outcome.finalAt = rel();
    options.say(
      `web UI ${p.passengerId}`,
      final?.state === 'done'
        ? `status link: boarding pass sent (${(rel() / 1000).toFixed(1)} s)`
        : `status link: ${outcome.state}`,
      final?.state === 'done' ? 'ok' : 'bad',
    );
  };

  const pay = async (j: number): Promise<void> => {
    const paymentId = `PAY-${j}`;
    const { passengerId } = passenger(j);
    const card = cards[j - 1] ?? 'ok';
    const amount = 50 + 10 * random.int(0, 10);
    const res = await client.request({
      method: 'POST',
      url: `${options.paymentUrl}/payments`,
      json: { paymentId, customerId: passengerId, card, amount },
    });
    const body = (await res.json()) as { state: string; location?: string; reason?: string };
    const outcome: UiOutcome = { answer: res.status, state: body.state, amount };
    payments.set(paymentId, outcome);
    const what = `${amount} € (card: ${card})`;
    if (res.status !== 202 || !body.location) {
      outcome.finalAt = rel();
      options.say(
        `web UI ${paymentId}`,
        `${what}: ${res.status} ${body.state}${body.reason ? ` (${body.reason})` : ''}`,
        body.state === 'paid' ? 'ok' : 'warn',
      );
      return;
    }
    options.say(`web UI ${paymentId}`, `${what}: 202 processing, polling ${body.location}`, 'warn');
    // The status resource shows the payment saga: `completed` means paid; `compensated` that
    // it gave up, voided the charge and gave the credit back (`compensating` on the way there).
    const final = await poll(
      client,
      `${options.paymentUrl}${body.location}`,
      (b) => isTerminalOperationState(b.state as OperationState),
      options.giveUpAt,
    );
    outcome.state =
      final === undefined ? 'still processing' : final.state === 'completed' ? 'paid' : final.state;
    if (final) outcome.finalAt = rel();
    options.say(
      `web UI ${paymentId}`,
      `status link: ${outcome.state}`,
      outcome.state === 'paid' ? 'ok' : outcome.state === 'compensated' ? 'warn' : 'bad',
    );
  };

  const jobs: Promise<void>[] = [];
  const total = Math.max(options.passengers, options.payments);
  for (let i = 1; i <= total; i++) {
    if (i <= options.passengers) jobs.push(checkIn(i));
    if (i <= options.payments) jobs.push(pay(i));
    await sleep(250);
  }
  const results = await Promise.allSettled(jobs);
  await client.close();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return { checkIns, payments };
}
