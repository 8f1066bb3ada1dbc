import type { Ledger } from '@unfazed/testing';
import type { CreditSnapshot } from './credit-ledger.js';
import type { UiOutcome } from './driver.js';
import type { SagaCounts } from './event-printer.js';
import type { Timeline } from './timeline.js';

/** The demo's result, computed from what the services recorded. Printed as a table or JSON. */
export interface Summary {
  readonly mode: 'memory' | 'redis';
  readonly seed: number;
  /**
   * Worker processes (Redis mode), those killed with SIGKILL, and sagas another worker took
   * over when a lease ran out.
   */
  readonly workers: {
    readonly started: number;
    readonly killed: number;
    /** The worker `--crash` killed, and when: e.g. `worker-1 killed with SIGKILL right after …`. */
    readonly killedWorker?: string;
    readonly takeovers: number;
  };
  readonly passengers: number;
  /** First answers of the check-in service. */
  readonly answered: {
    readonly ok200: number;
    readonly accepted202: number;
    readonly other: number;
  };
  readonly boardingPasses: {
    /** Passes output management really sent. */
    readonly sent: number;
    /** Retries answered from the idempotency store instead of sending again. */
    readonly duplicatesPrevented: number;
    /** Responses lost on purpose after a pass was sent. */
    readonly lostResponses: number;
  };
  readonly payments: {
    readonly total: number;
    /** First answers of the payment service, by status (200 paid, 202 accepted, 402 compensated). */
    readonly answered: Readonly<Record<string, number>>;
    readonly completed: number;
    readonly compensated: number;
    /** Card charges the compensation's void refunded (the saga had given up on their answer). */
    readonly refunded: number;
    /** Credit the compensations gave back, €: exactly what the compensated payments took. */
    readonly creditRestored: number;
  };
  /** What the sagas' events reported, over every process. */
  readonly sagas: SagaCounts;
  /** Calls that repeated an earlier call with the same key, per downstream. */
  readonly retries: {
    readonly barcodeGenerator: number;
    readonly outputManagement: number;
    readonly cardService: number;
    readonly total: number;
  };
  readonly breaker: { readonly opened: number; readonly callsNotMade: number };
  /** Ms from the first passenger until the last side effect (pass, charge, refund, credit). */
  readonly lastOperationMs: number;
  /** Ms the whole run took. */
  readonly durationMs: number;
  /** The story without Unfazed, when it ran. */
  readonly withoutUnfazed?: { readonly errorsShown: number; readonly boardingPasses: number };
  readonly invariants: { readonly ok: boolean; readonly violations: readonly string[] };
}

/** Everything the summary is computed from. */
export interface SummaryInput {
  readonly mode: 'memory' | 'redis';
  readonly seed: number;
  readonly workers: { started: number; killed: number; killedWorker?: string; takeovers: number };
  readonly passengerIds: readonly string[];
  readonly paymentIds: readonly string[];
  readonly checkInAnswers: ReadonlyMap<string, number>;
  readonly paymentAnswers: Readonly<Record<string, number>>;
  readonly ui: {
    checkIns: ReadonlyMap<string, UiOutcome>;
    payments: ReadonlyMap<string, UiOutcome>;
  };
  readonly passes: Ledger;
  /** The payment service's credit ledger at the end. */
  readonly credit: CreditSnapshot;
  readonly card: Ledger;
  readonly initialCredit: number;
  readonly sagas: SagaCounts;
  readonly output: { retries: number; replayed: number; conflicts: number; lostResponses: number };
  readonly barcodeRetries: number;
  readonly cardRetries: number;
  readonly breaker: { opened: number; callsNotMade: number };
  readonly storyStart: number;
  readonly runStart: number;
  readonly naive?: { errorsShown: number; boardingPasses: number };
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

const kinds = (ledger: Ledger, key: string, kind: string): number =>
  ledger.effects(key).filter((e) => (e.effect as { kind?: string } | null)?.kind === kind).length;

/** Checks the invariants and counts what happened. */
export function summarize(input: SummaryInput): Summary {
  const violations: string[] = [];
  let ok200 = 0;
  let accepted202 = 0;
  let other = 0;
  for (const id of input.passengerIds) {
    const answer = input.checkInAnswers.get(id);
    if (answer === 200) ok200++;
    else if (answer === 202) accepted202++;
    else other++;
    const passes = input.passes.count(id);
    if (passes === 0) violations.push(`lost check-in: ${id} got no boarding pass`);
    if (passes > 1) violations.push(`duplicate boarding pass: ${id} got ${passes}`);
    const ui = input.ui.checkIns.get(id);
    if (ui?.state !== 'done')
      violations.push(
        `check-in of ${id} not shown as done to the passenger (${ui?.state ?? 'no answer'})`,
      );
  }
  let completed = 0;
  let compensated = 0;
  let refunded = 0;
  let creditRestored = 0;
  /** Credit taken and not given back, by customer. */
  const kept = new Map<string, number>();
  for (const m of input.credit.movements)
    kept.set(
      m.customerId,
      (kept.get(m.customerId) ?? 0) + (m.kind === 'deduct' ? m.amount : -m.amount),
    );
  for (const id of input.paymentIds) {
    const movements = input.credit.movements.filter((m) => m.paymentId === id);
    const deducts = movements.filter((m) => m.kind === 'deduct');
    const restores = movements.filter((m) => m.kind === 'restore');
    const taken = deducts.reduce((n, m) => n + m.amount, 0);
    const given = restores.reduce((n, m) => n + m.amount, 0);
    const charges = input.card
      .effects(id)
      .filter((e) => (e.effect as { kind?: string } | null)?.kind === 'charge');
    const charged = charges.length;
    const refunds = kinds(input.card, id, 'refund');
    refunded += refunds;
    const ui = input.ui.payments.get(id);
    const counts = `credit taken ${deducts.length}× (${taken} €), restored ${restores.length}× (${given} €), card charged ${charged}×, refunded ${refunds}×`;
    if (deducts.length > 1) violations.push(`credit taken twice: ${id} (${counts})`);
    if (restores.length > 1) violations.push(`credit restored twice: ${id} (${counts})`);
    if (charged > 1) violations.push(`duplicate charge: ${id} (${counts})`);
    if (deducts.length === 1 && restores.length === 0 && charged === 1 && refunds === 0) {
      completed++;
      if (ui?.state !== 'paid')
        violations.push(`${id} completed but the UI shows ${ui?.state ?? 'nothing'}`);
      const card = (charges[0]?.effect as { amount?: number } | undefined)?.amount ?? 0;
      if (ui?.amount !== undefined && taken + card !== ui.amount)
        violations.push(
          `${id} paid ${taken} € of credit + ${card} € by card, but the payment was ${ui.amount} €`,
        );
    } else if (
      deducts.length <= 1 &&
      restores.length <= 1 &&
      given === taken &&
      charged === refunds
    ) {
      // Compensated: every charge voided (net of refunds, nothing), the credit back exactly.
      compensated++;
      creditRestored += given;
      if (ui?.state !== 'compensated')
        violations.push(`${id} compensated but the UI shows ${ui?.state ?? 'nothing'}`);
    } else {
      violations.push(
        `payment ${id} neither completed nor compensated (${counts}; UI shows ${ui?.state ?? 'nothing'})`,
      );
    }
  }
  for (const [customer, balance] of input.credit.balances) {
    const expected = input.initialCredit - (kept.get(customer) ?? 0);
    if (balance !== expected)
      violations.push(`credit of ${customer} is ${balance} €, expected ${expected} €`);
  }
  const last = Math.max(
    input.storyStart,
    ...[input.passes, input.card].flatMap((l) => l.effects().map((e) => e.at)),
    ...input.credit.movements.map((m) => m.at),
  );
  const retries = {
    barcodeGenerator: input.barcodeRetries,
    outputManagement: input.output.retries,
    cardService: input.cardRetries,
    total: input.barcodeRetries + input.output.retries + input.cardRetries,
  };
  return {
    mode: input.mode,
    seed: input.seed,
    workers: input.workers,
    passengers: input.passengerIds.length,
    answered: { ok200, accepted202, other },
    boardingPasses: {
      sent: input.passes.effects().length,
      duplicatesPrevented: input.output.replayed + input.output.conflicts,
      lostResponses: input.output.lostResponses,
    },
    payments: {
      total: input.paymentIds.length,
      answered: input.paymentAnswers,
      completed,
      compensated,
      refunded,
      creditRestored,
    },
    sagas: input.sagas,
    retries,
    breaker: input.breaker,
    lastOperationMs: Math.round(last - input.storyStart),
    durationMs: Date.now() - input.runStart,
    ...(input.naive ? { withoutUnfazed: input.naive } : {}),
    invariants: { ok: violations.length === 0, violations },
  };
}

/** Prints the summary table. */
export function printSummary(
  s: Summary,
  out: NodeJS.WritableStream,
  paint: Timeline['paint'],
): void {
  const rows: [string, string][] = [];
  rows.push([
    'stores',
    s.mode === 'memory'
      ? 'in memory, workers in this process'
      : `Redis, ${s.workers.started} worker processes${s.workers.killed ? ` (${s.workers.killedWorker ?? `${s.workers.killed} worker killed with SIGKILL`}, ${s.workers.takeovers} of its sagas taken over)` : ''}`,
  ]);
  if (s.withoutUnfazed)
    rows.push([
      'without Unfazed',
      `${plural(s.withoutUnfazed.errorsShown, 'error')} shown to 1 passenger, ${plural(s.withoutUnfazed.boardingPasses, 'boarding pass', 'boarding passes')} sent to them`,
    ]);
  rows.push(['passengers', String(s.passengers)]);
  rows.push([
    'check-in answered',
    `200: ${s.answered.ok200}   202: ${s.answered.accepted202}${s.answered.other ? `   other: ${s.answered.other}` : ''}`,
  ]);
  rows.push([
    'boarding passes sent',
    `${s.boardingPasses.sent} (${plural(s.boardingPasses.lostResponses, 'response')} lost, ${plural(s.boardingPasses.duplicatesPrevented, 'duplicate')} prevented)`,
  ]);
  rows.push([
    'payment answered',
    Object.entries(s.payments.answered)
      .map(([status, n]) => `${status}: ${n}`)
      .join('   ') || 'none',
  ]);
  rows.push([
    'payments',
    `${s.payments.total}: ${s.payments.completed} completed, ${s.payments.compensated} compensated (${s.payments.creditRestored} € of credit restored${s.payments.refunded ? `, ${plural(s.payments.refunded, 'charge')} refunded` : ''})`,
  ]);
  const byType = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  rows.push([
    'saga steps',
    `completed: ${byType(s.sagas.stepsCompleted)}; compensated: ${byType(s.sagas.stepsCompensated)}${s.sagas.compensationErrors ? `; ${plural(s.sagas.compensationErrors, 'compensation')} retried` : ''}${s.sagas.stuck ? `; ${s.sagas.stuck} STUCK` : ''}`,
  ]);
  rows.push([
    'retries made',
    `${s.retries.total} (barcode generator ${s.retries.barcodeGenerator}, output management ${s.retries.outputManagement}, card service ${s.retries.cardService})`,
  ]);
  rows.push([
    'circuit breaker',
    `opened ${s.breaker.opened}×, ${plural(s.breaker.callsNotMade, 'call')} not made while open`,
  ]);
  rows.push([
    'last operation done',
    `${(s.lastOperationMs / 1000).toFixed(1)} s after the first passenger (run: ${(s.durationMs / 1000).toFixed(1)} s)`,
  ]);
  rows.push([
    'invariants',
    s.invariants.ok
      ? paint(
          'hold: one boarding pass per passenger; every payment charged once, or voided with its credit restored exactly',
          'ok',
        )
      : paint(`BROKEN (${s.invariants.violations.length})`, 'bad'),
  ]);
  const lines = [
    '',
    paint('── summary, from what the services recorded ─────────────────────────────────', 'head'),
  ];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(22)} ${v}`);
  for (const v of s.invariants.violations) lines.push(paint(`  ✗ ${v}`, 'bad'));
  out.write(`${lines.join('\n')}\n`);
}
