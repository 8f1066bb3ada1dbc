import { leaseClock } from './lease-clock.js';
import { backoffDelay } from './backoff.js';
import { callOnce, type Attempt } from './attempt.js';
import type { DurableRequest } from './client-port.js';
import type { ScheduleReason } from './events.js';
import { Lease, type LeaseGrant } from './lease.js';
import {
  giveUpFailure,
  sleep,
  targetOf,
  type ResolvedType,
  type RunEnv,
  type RunOptions,
  type RunResult,
} from './run.js';
import type {
  FailureOutcome,
  GiveUpFailure,
  HistoryEntry,
  OperationFailure,
  OperationRecord,
  Settlement,
} from './types.js';

/**
 * @internal Runs a leased operation until it needs nothing more from this holder: attempts (and
 * in-place retries while `syncUntil` allows), then the hook, recording every outcome with an
 * owner check.
 */
export async function runLeased(
  env: RunEnv,
  t: ResolvedType,
  record: OperationRecord,
  grant: LeaseGrant,
  options: RunOptions = {},
): Promise<RunResult> {
  const lease = new Lease(env, record.id, record.type, grant, options.stopSignal);
  try {
    return await new OperationRun(env, t, record, lease, options).run();
  } finally {
    lease.end();
  }
}

type HookPhase = 'failed-hook' | 'dead-hook';

/** What one pass of the attempt loop decided: an end of this run, or another pass. */
type Step = RunResult | 'again';

const LOST: RunResult = { kind: 'lost' };

/**
 * @internal One holder's run of one leased operation. Its state is here and nowhere else: the
 * record as this holder knows it (`rec`), whether the effect may have happened (`unknown`), and
 * the history entries not yet written (`entries`, flushed with the next settle).
 */
export class OperationRun {
  #rec: OperationRecord;
  /**
   * Whether an attempt may have reached the downstream without its outcome being learnt: then a
   * give-up is `unknown` (the effect may have happened). Sticky, and persisted with lastError.
   */
  #unknown: boolean;
  readonly #entries: HistoryEntry[] = [];
  /** History and events name the worker; the store's owner checks use the lease token. */
  readonly #worker: string;

  constructor(
    private readonly env: RunEnv,
    private readonly t: ResolvedType,
    initial: OperationRecord,
    private readonly lease: Lease,
    private readonly options: RunOptions,
  ) {
    this.#rec = initial;
    this.#unknown =
      (initial.lastError !== undefined && initial.lastError.outcome !== 'failed') ||
      (options.takeover === true && initial.phase === 'attempt');
    this.#worker = lease.worker;
  }

  /** Attempts until the operation is settled, scheduled or lost to another holder. */
  async run(): Promise<RunResult> {
    for (;;) {
      const step = await this.#step();
      if (step !== 'again') return step;
    }
  }

  get #outcomeSoFar(): FailureOutcome {
    return this.#unknown ? 'unknown' : 'failed';
  }

  #note(entry: Omit<HistoryEntry, 'worker'>): void {
    this.#entries.push({ ...entry, worker: this.#worker });
  }

  async #step(): Promise<Step> {
    const { env, t, lease } = this;
    const rec = this.#rec;
    if (lease.lost) return LOST;
    if (rec.phase !== 'attempt') {
      if (!(await lease.ensure())) return lease.lost ? LOST : this.#lapsedBefore('hook');
      return this.#runHook();
    }
    const now = env.now();
    if (now >= rec.deadline) {
      this.#note({ at: now, kind: 'deadline' });
      return this.#giveUp('dead-hook', rec.attempts, deadlineFailure(rec));
    }
    if (rec.attempts >= t.maxAttempts) {
      return this.#giveUp('dead-hook', rec.attempts, {
        code: 'attempts-exhausted',
        message: `gave up after ${rec.attempts} attempts; last: ${rec.lastError?.message ?? 'none'}`,
        ...(rec.lastError?.status !== undefined ? { status: rec.lastError.status } : {}),
      });
    }
    let request: DurableRequest;
    try {
      request = t.def.request(JSON.parse(rec.input) as unknown, { id: rec.id });
    } catch (error) {
      return this.#giveUp('failed-hook', rec.attempts, {
        code: 'request-build-failed',
        message: error instanceof Error ? error.message : String(error),
      });
    }
    return this.#attemptIfAdmitted(request, now);
  }

  /** Skips an open circuit, a spent `wait`, a lapsed lease and a busy target; else attempts. */
  async #attemptIfAdmitted(request: DurableRequest, now: number): Promise<Step> {
    const { env, lease, options } = this;
    const rec = this.#rec;
    const target = targetOf(request, env.baseOrigin);
    const circuit = env.client.circuit?.(target);
    if (
      circuit?.state === 'open' &&
      circuit.nextProbeAt !== undefined &&
      circuit.nextProbeAt > now
    ) {
      return this.#circuitOpen(circuit.nextProbeAt, now);
    }
    if (options.syncUntil !== undefined && now >= options.syncUntil) {
      // The write-ahead of start took the whole `wait` (a slow store): an attempt now would get
      // no time at all. Hand it to the workers.
      this.#note({
        at: now,
        kind: 'released',
        note: 'the wait of start ran out before its first attempt',
      });
      return this.#schedule(now, rec.attempts, 'released');
    }
    if (!(await lease.ensure())) return lease.lost ? LOST : this.#lapsedBefore('attempt');
    const release = options.admit ? options.admit(target) : () => undefined;
    if (release === undefined) {
      const dueAt = now + 50 + Math.round(200 * env.random());
      return this.#schedule(dueAt, rec.attempts, 'target-busy');
    }
    return this.#attempt(request, release);
  }

  /** Sends one attempt under the lease's lapse guard and acts on its outcome. */
  async #attempt(request: DurableRequest, release: () => void): Promise<Step> {
    const { env, lease } = this;
    const rec = this.#rec;
    let outcome: Attempt;
    const started = env.now();
    const disarm = lease.guard();
    try {
      outcome = await callOnce(
        env,
        this.t,
        rec,
        request,
        lease.controller.signal,
        this.options.syncUntil,
      );
    } finally {
      disarm();
      release();
    }
    const ended = env.now();
    const span = { attemptNo: rec.attempts + 1, started, ended };
    switch (outcome.kind) {
      case 'aborted':
        return this.#aborted(span);
      case 'circuit-open':
        return this.#circuitOpen(outcome.nextProbeAt, ended);
      case 'success':
        return this.#succeeded(this.#recordAttempt(span, outcome.status), span, outcome);
      case 'permanent': {
        const base = this.#recordAttempt(span, outcome.failure.status, outcome.failure.code);
        this.#entries.push(base);
        // A final answer: the effect did not happen, whatever earlier attempts met.
        return this.#giveUp('failed-hook', span.attemptNo, {
          ...outcome.failure,
          outcome: 'failed',
        });
      }
      case 'transient':
        return this.#transient(
          this.#recordAttempt(span, outcome.status, outcome.code),
          span,
          outcome,
        );
    }
  }

  /** Emits the `attempt` event; returns its history entry (pushed by the caller, maybe amended). */
  #recordAttempt(span: AttemptSpan, status?: number, error?: string): HistoryEntry {
    const rec = this.#rec;
    const durationMs = span.ended - span.started;
    const fields = {
      attempt: span.attemptNo,
      durationMs,
      worker: this.#worker,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
    };
    const { events } = this.env;
    if (events.has('attempt')) events.emit('attempt', { id: rec.id, type: rec.type, ...fields });
    return { at: span.started, kind: 'attempt', ...fields };
  }

  /** The attempt was aborted: the lease was lost, lapsed, or the worker is stopping. */
  #aborted(span: AttemptSpan): Promise<Step> | Step {
    const { lease } = this;
    const rec = this.#rec;
    if (lease.lost) return LOST;
    // Sent, outcome unknown; the owner check decides whether this holder may still say so.
    this.#unknown = true;
    if (lease.lapsed) {
      const lastError: OperationFailure = {
        code: 'lease-lapsed',
        message: 'the lease ran out during the attempt (the store did not answer its renewals)',
        outcome: 'unknown',
      };
      this.#entries.push(this.#recordAttempt(span, undefined, lastError.code));
      return this.#schedule(span.ended, span.attemptNo, 'released', lastError);
    }
    this.#note({
      at: span.ended,
      kind: 'released',
      attempt: span.attemptNo,
      durationMs: span.ended - span.started,
      note: 'worker stopping',
    });
    const lastError: OperationFailure = {
      ...(rec.lastError ?? {
        code: 'released',
        message: 'the attempt was aborted by a stopping worker',
      }),
      outcome: 'unknown',
    };
    return this.#schedule(span.ended, span.attemptNo, 'released', lastError);
  }

  /** The target's circuit is open until `nextProbeAt`: come back then (jittered). */
  #circuitOpen(nextProbeAt: number, at: number): Promise<Step> {
    const { env } = this;
    const dueAt = Math.max(nextProbeAt, at) + Math.round(env.probeJitterMs * env.random());
    if (dueAt >= this.#rec.deadline) return this.#circuitPastDeadline(nextProbeAt);
    this.#note({ at, kind: 'circuit-open', delayMs: dueAt - at, delayReason: 'circuit-open' });
    return this.#schedule(dueAt, this.#rec.attempts, 'circuit-open');
  }

  async #succeeded(
    base: HistoryEntry,
    span: AttemptSpan,
    outcome: Extract<Attempt, { kind: 'success' }>,
  ): Promise<Step> {
    const { env, t } = this;
    const rec = this.#rec;
    const attempts = span.attemptNo;
    const response = outcome.response;
    this.#entries.push(base);
    if (t.def.onSuccess === undefined) {
      if (!(await this.#settle({ action: 'finish', state: 'completed', attempts, response }))) {
        return LOST;
      }
      return this.#finished('completed', { ...rec, attempts, response });
    }
    const leaseUntil = env.now() + env.leaseMs;
    const hook: Settlement = {
      action: 'hook',
      phase: 'success-hook',
      attempts,
      leaseUntil,
      response,
    };
    if (!(await this.#settle(hook))) return LOST;
    this.#rec = { ...rec, phase: 'success-hook', attempts, response };
    return this.#runHook();
  }

  /** A transient outcome: retry in place (within `wait`), schedule, or give up at the deadline. */
  async #transient(
    base: HistoryEntry,
    span: AttemptSpan,
    outcome: Extract<Attempt, { kind: 'transient' }>,
  ): Promise<Step> {
    const { env, t, options } = this;
    const { attemptNo, started, ended } = span;
    if (outcome.notSent !== true) this.#unknown = true;
    const lastError: OperationFailure = {
      code: outcome.code,
      message:
        outcome.status !== undefined ? `downstream answered ${outcome.status}` : outcome.code,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      outcome: this.#outcomeSoFar,
    };
    // A Retry-After wins over the backoff, but never below its first step: `Retry-After: 0`
    // from an overloaded downstream must not turn the queue into a tight loop.
    let [delay, reason]: [number, ScheduleReason] =
      outcome.retryAfter !== undefined
        ? [Math.max(outcome.retryAfter, t.backoff.initialMs), 'retry-after']
        : [backoffDelay(t.backoff, attemptNo, env.random), 'backoff'];
    const last =
      attemptNo < t.maxAttempts ? lastAttempt(t, this.#rec, started, ended, delay) : 'none';
    if (last === 'give-up') {
      this.#entries.push({ ...base, delayMs: delay, delayReason: reason });
      this.#rec = { ...this.#rec, attempts: attemptNo, lastError };
      return this.#giveUp('dead-hook', attemptNo, {
        ...deadlineFailure(this.#rec),
        message: `next attempt (in ${delay} ms, ${reason}) would pass the deadline, and no other fits before it; last: ${lastError.message}`,
      });
    }
    // The backoff or a Retry-After points past the deadline: one last attempt before it instead
    // of giving up early (a slow downstream's effect may still be on its way).
    if (last !== 'none') [delay, reason] = [Math.max(0, last - ended), 'last-attempt'];
    this.#entries.push({ ...base, delayMs: delay, delayReason: reason });
    this.#rec = { ...this.#rec, attempts: attemptNo, lastError };
    if (attemptNo >= t.maxAttempts) return 'again';
    if (options.syncUntil !== undefined && ended + delay < options.syncUntil) {
      await sleep(delay, this.lease.controller.signal);
      return 'again';
    }
    return this.#schedule(ended + delay, attemptNo, reason, lastError);
  }

  /** Writes `s` under the owner check, with the history gathered since the last write. */
  async #settle(s: Settlement): Promise<boolean> {
    const { env, lease, options } = this;
    if (lease.lost) return false;
    const sentAt = leaseClock();
    const now = env.now();
    const sent = env.store.settle(this.#rec.id, lease.owner, now, s, this.#entries.splice(0));
    // A final write: nothing to renew any more (a renewal queued behind it would find it gone).
    if (s.action !== 'hook') {
      lease.end();
      // The store counts a retry's due time from when it runs the write, at the earliest now.
      options.onSettling?.(undefined, s.action === 'finish' ? undefined : s.dueAt);
    }
    const ok = await sent;
    if (!ok) lease.markLost();
    // A hook settle extends the lease (to leaseMs from when the store ran it).
    else if (s.action === 'hook') lease.extended(sentAt);
    // The store made the due time `dueAt - now` from when it ran the write, which was before its
    // reply: due by this process's clock at the latest that long after the reply.
    else if (s.action === 'retry' || s.action === 'release')
      options.onSettling?.(env.now() + (s.dueAt - now));
    return ok;
  }

  /**
   * The lease may have run out before anything was sent (the claim's reply came late, the
   * renewal too): send nothing, hand the operation back for a claim with a fresh lease.
   */
  #lapsedBefore(what: string): Promise<RunResult> {
    const now = this.env.now();
    this.#note({ at: now, kind: 'released', note: `lease lapsed before the ${what}: not sent` });
    return this.#schedule(this.env.now(), this.#rec.attempts, 'released');
  }

  async #schedule(
    dueAt: number,
    attempts: number,
    reason: ScheduleReason,
    lastError?: OperationFailure,
  ): Promise<RunResult> {
    const action = reason === 'released' ? 'release' : 'retry';
    const s: Settlement = lastError
      ? { action, dueAt, attempts, lastError }
      : { action, dueAt, attempts };
    if (!(await this.#settle(s))) return LOST;
    const rec = this.#rec;
    const delayMs = dueAt - this.env.now();
    this.env.events.emit('scheduled', { id: rec.id, type: rec.type, dueAt, delayMs, reason });
    this.#rec = { ...rec, state: 'pending', attempts, dueAt, ...(lastError ? { lastError } : {}) };
    return { kind: 'pending', record: this.#rec };
  }

  async #giveUp(phase: HookPhase, attempts: number, given: OperationFailure): Promise<RunResult> {
    const { env, t } = this;
    const rec = this.#rec;
    const state = phase === 'failed-hook' ? 'failed' : 'dead';
    const failure: GiveUpFailure = { ...given, outcome: given.outcome ?? this.#outcomeSoFar };
    if (t.def.onGiveUp === undefined) {
      if (!(await this.#settle({ action: 'finish', state, attempts, lastError: failure }))) {
        return LOST;
      }
      return this.#finished(state, { ...rec, attempts, lastError: failure });
    }
    const leaseUntil = env.now() + env.leaseMs;
    if (!(await this.#settle({ action: 'hook', phase, attempts, leaseUntil, lastError: failure })))
      return LOST;
    this.#rec = { ...rec, phase, attempts, lastError: failure };
    return this.#runHook();
  }

  /** Waiting for the probe would pass the deadline: compensate now rather than after it. */
  #circuitPastDeadline(nextProbeAt: number): Promise<RunResult> {
    const rec = this.#rec;
    this.#note({ at: this.env.now(), kind: 'deadline' });
    return this.#giveUp('dead-hook', rec.attempts, {
      ...deadlineFailure(rec),
      message: `the circuit stays open until ${new Date(nextProbeAt).toISOString()}, past the deadline; last: ${rec.lastError?.message ?? 'none'}`,
    });
  }

  #finished(state: 'completed' | 'failed' | 'dead', r: OperationRecord): RunResult {
    const { env } = this;
    const rec: OperationRecord = { ...r, state, phase: 'attempt', finishedAt: env.now() };
    delete (rec as { owner?: string }).owner;
    this.#rec = rec;
    if (state === 'completed') {
      env.events.emit('succeeded', { id: rec.id, type: rec.type, attempts: rec.attempts });
      return { kind: 'completed', record: rec };
    }
    env.events.emit(state, { id: rec.id, type: rec.type, failure: giveUpFailure(rec.lastError) });
    return { kind: state, record: rec };
  }

  /** Runs the hook of the record's phase; retries it later (backoff) if it throws. */
  async #runHook(): Promise<RunResult> {
    const { env, t } = this;
    const rec = this.#rec;
    const ctx = {
      id: rec.id,
      type: rec.type,
      input: JSON.parse(rec.input) as unknown,
      attempts: rec.attempts,
    };
    const success = rec.phase === 'success-hook';
    const hook = success ? 'onSuccess' : 'onGiveUp';
    const state = success ? 'completed' : rec.phase === 'failed-hook' ? 'failed' : 'dead';
    const started = env.now();
    try {
      if (success)
        await t.def.onSuccess?.(rec.response ?? { status: 0, headers: {}, body: '' }, ctx);
      else await t.def.onGiveUp?.(giveUpFailure(rec.lastError), ctx);
    } catch (error) {
      env.events.emit('hook-error', { id: rec.id, type: rec.type, hook, error });
      const delay = backoffDelay(t.backoff, Math.max(1, rec.attempts), env.random);
      this.#note({
        at: env.now(),
        kind: 'hook',
        error: error instanceof Error ? error.message : String(error),
        durationMs: env.now() - started,
        delayMs: delay,
        delayReason: 'hook-retry',
      });
      return this.#schedule(env.now() + delay, rec.attempts, 'hook-retry');
    }
    this.#note({
      at: env.now(),
      kind: 'hook',
      durationMs: env.now() - started,
      note: `${hook} done`,
    });
    if (!(await this.#settle({ action: 'finish', state }))) return LOST;
    return this.#finished(state, rec);
  }
}

/** When an attempt was made, by this process's `now`, and its number. */
interface AttemptSpan {
  readonly attemptNo: number;
  readonly started: number;
  readonly ended: number;
}

/**
 * When the next attempt (`delay` after `ended`) would pass the deadline: the time of one last
 * attempt, an attempt timeout before the deadline (at most half the type's deadline before it),
 * so that it gets a whole attempt before the deadline; `give-up` when the attempt just made
 * (started at `started`) already was that last one, or the deadline has passed; `none` when the
 * next attempt is before the deadline anyway.
 */
function lastAttempt(
  t: ResolvedType,
  rec: OperationRecord,
  started: number,
  ended: number,
  delay: number,
): number | 'none' | 'give-up' {
  if (ended + delay < rec.deadline) return 'none';
  const lastAt = rec.deadline - Math.min(t.attemptTimeout, Math.floor(t.deadline / 2));
  if (started >= lastAt || ended >= rec.deadline) return 'give-up';
  return Math.max(ended, lastAt);
}

function deadlineFailure(rec: OperationRecord): OperationFailure {
  return {
    code: 'deadline',
    message: `deadline ${new Date(rec.deadline).toISOString()} passed; last: ${rec.lastError?.message ?? 'none'}`,
    ...(rec.lastError?.status !== undefined ? { status: rec.lastError.status } : {}),
  };
}
