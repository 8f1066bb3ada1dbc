import { leaseClock } from './lease-clock.js';
import { backoffDelay } from './backoff.js';
import { callOnce, type Attempt, type CallLimits } from './attempt.js';
import type { DurableRequest } from './client-port.js';
import type { ScheduleReason } from './events.js';
import { Lease, type LeaseGrant } from './lease.js';
import {
  initialSteps,
  SagaStepFailedError,
  stepKeyOf,
  type ResolvedStep,
  type SagaCompensationContext,
  type SagaStepContext,
} from './saga-definition.js';
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
  OperationResponse,
  SagaProgress,
  Settlement,
  StepRecord,
} from './types.js';
import { durableAttemptCounted, OperationSpan, traceOf } from './telemetry.js';

/** How a traced run ended: its outcome, and the status and `error.type` when there are. */
type Ending = readonly [
  outcome: string,
  status?: number | undefined,
  errorType?: string | undefined,
];

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
  /**
   * A saga's journal as this holder knows it, written with every settle (undefined for an
   * `operation()`, whose one step is the record itself).
   */
  #saga: SagaProgress | undefined;
  /**
   * Saga events about what the next settle journals: emitted once that write is accepted, so a
   * refused write (the lease was lost) never announces what the next holder will announce again.
   */
  readonly #onWritten: (() => void)[] = [];
  /** The trace context of this holder's last attempt span of the current step, if traced. */
  #lastTrace: string | undefined;

  constructor(
    private readonly env: RunEnv,
    private readonly t: ResolvedType,
    initial: OperationRecord,
    private readonly lease: Lease,
    private readonly options: RunOptions,
  ) {
    this.#rec = initial;
    this.#saga = t.saga
      ? (initial.saga ?? { step: 0, results: {}, steps: initialSteps(t.steps) })
      : undefined;
    // A saga's current step knows its own last error; the record's may be an earlier step's.
    const lastError = this.#saga ? this.#saga.steps[this.#saga.step]?.lastError : initial.lastError;
    this.#unknown =
      (lastError !== undefined && lastError.outcome !== 'failed') ||
      (options.takeover === true && initial.phase === 'attempt');
    this.#worker = lease.worker;
  }

  /** The step the record is at (an `operation()`: its one request step). */
  get #current(): ResolvedStep {
    return this.t.steps[this.#saga?.step ?? 0] as ResolvedStep;
  }

  /** The `Idempotency-Key` of the current step: the operation id, or `<id>:<step>` in a saga. */
  get #stepKey(): string {
    return this.#saga ? stepKeyOf(this.#rec.id, this.#current.name) : this.#rec.id;
  }

  #stepContext(): SagaStepContext {
    return {
      id: this.#rec.id,
      step: this.#current.name,
      stepKey: this.#stepKey,
      results: this.#saga?.results ?? {},
      attempts: this.#rec.attempts,
      signal: this.lease.controller.signal,
    };
  }

  /** Replaces step `index` of the journal with `patch` applied. */
  #patchStep(index: number, patch: Loose<StepRecord>, rest: Loose<SagaProgress> = {}): void {
    const saga = this.#saga;
    if (!saga) return;
    const steps = saga.steps.slice();
    steps[index] = defined({ ...(steps[index] as StepRecord), ...patch }) as StepRecord;
    this.#saga = defined({ ...saga, steps, ...rest }) as SagaProgress;
  }

  /** The journal of a saga (only called on one). */
  get #journal(): SagaProgress {
    return this.#saga as SagaProgress;
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
    const { env, lease } = this;
    const rec = this.#rec;
    if (lease.lost) return LOST;
    if (rec.phase === 'compensate') {
      if (!(await lease.ensure())) return lease.lost ? LOST : this.#lapsedBefore('compensation');
      return this.#compensate();
    }
    if (rec.phase !== 'attempt') {
      if (!(await lease.ensure())) return lease.lost ? LOST : this.#lapsedBefore('hook');
      return this.#runHook();
    }
    const now = env.now();
    if (now >= rec.deadline) {
      this.#note({ at: now, kind: 'deadline' });
      return this.#giveUp('dead-hook', rec.attempts, deadlineFailure(rec));
    }
    const step = this.#current;
    if (rec.attempts >= step.maxAttempts) {
      return this.#giveUp('dead-hook', rec.attempts, {
        code: 'attempts-exhausted',
        message: `gave up after ${rec.attempts} attempts${this.#saga ? ` of step "${step.name}"` : ''}; last: ${this.#lastErrorOfStep()?.message ?? 'none'}`,
        ...statusOf(this.#lastErrorOfStep()),
      });
    }
    if (step.kind === 'sleep') return this.#sleepStep(step, now);
    if (step.kind === 'local') return this.#localStep(step, now);
    let request: DurableRequest;
    try {
      request = step.request(JSON.parse(rec.input) as unknown, this.#stepContext());
    } catch (error) {
      return this.#giveUp('failed-hook', rec.attempts, {
        code: error instanceof SagaStepFailedError ? error.code : 'request-build-failed',
        message: error instanceof Error ? error.message : String(error),
      });
    }
    return this.#attemptIfAdmitted(request, now);
  }

  #lastErrorOfStep(): OperationFailure | undefined {
    return this.#saga ? this.#saga.steps[this.#saga.step]?.lastError : this.#rec.lastError;
  }

  /** The start's `wait` ran out before this step: hand the rest to the workers. */
  #waitSpent(now: number): Promise<RunResult> {
    this.#note({
      at: now,
      kind: 'released',
      note: 'the wait of start ran out before its first attempt',
    });
    return this.#schedule(now, this.#rec.attempts, 'released');
  }

  /** A durable timer: persist its wake-up time and come back then (one settle). */
  async #sleepStep(step: ResolvedStep & { kind: 'sleep' }, now: number): Promise<Step> {
    const saga = this.#saga as SagaProgress;
    const rec = this.#rec;
    if (saga.wakeAt !== undefined) {
      // Claimed again: the store found it due at its wake-up time.
      this.#note({ at: now, kind: 'step', step: step.name, note: 'timer fired' });
      return this.#stepSucceeded(saga.wakeAt, undefined, 1);
    }
    let wakeAt: number;
    try {
      wakeAt = step.wakeAt(JSON.parse(rec.input) as unknown, this.#stepContext(), now);
      if (!Number.isFinite(wakeAt)) throw new Error(`until() gave ${String(wakeAt)}, not a time`);
    } catch (error) {
      return this.#giveUp('failed-hook', rec.attempts, {
        code: 'step-failed',
        message: error instanceof Error ? error.message : String(error),
        outcome: 'failed',
      });
    }
    if (wakeAt >= rec.deadline) {
      this.#note({ at: now, kind: 'deadline' });
      return this.#giveUp('dead-hook', rec.attempts, {
        ...deadlineFailure(rec),
        message: `the timer step "${step.name}" wakes at ${new Date(wakeAt).toISOString()}, past the deadline ${new Date(rec.deadline).toISOString()}`,
        outcome: 'failed',
      });
    }
    this.#patchStep(saga.step, { state: 'sleeping', at: now }, { wakeAt });
    if (wakeAt <= now) return this.#stepSucceeded(wakeAt, undefined, 1);
    this.#note({
      at: now,
      kind: 'step',
      step: step.name,
      delayMs: wakeAt - now,
      delayReason: 'timer',
      note: `sleeping until ${new Date(wakeAt).toISOString()}`,
    });
    return this.#schedule(wakeAt, 0, 'timer');
  }

  /** Runs a local step here (at least once: the step makes its effect idempotent by its key). */
  async #localStep(step: ResolvedStep & { kind: 'local' }, now: number): Promise<Step> {
    const { env, lease, options } = this;
    const rec = this.#rec;
    if (options.syncUntil !== undefined && now >= options.syncUntil) return this.#waitSpent(now);
    if (!(await lease.ensure())) return lease.lost ? LOST : this.#lapsedBefore('step');
    const attemptNo = rec.attempts + 1;
    const started = env.now();
    const disarm = lease.guard();
    let result: unknown;
    let thrown: { error: unknown } | undefined;
    try {
      result = await this.#traced(
        'attempt',
        attemptNo,
        async () => step.run(JSON.parse(rec.input) as unknown, this.#stepContext()),
        () => ['success'],
      );
    } catch (error) {
      thrown = { error };
    } finally {
      disarm();
    }
    const ended = env.now();
    if (lease.lost) return LOST;
    const span = { attemptNo, started, ended };
    if (thrown === undefined) {
      let journaled: unknown;
      try {
        journaled = result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
      } catch (error) {
        this.#entries.push(this.#stepEntry(span, 'step-result-not-json'));
        return this.#giveUp('failed-hook', attemptNo, {
          code: 'step-result-not-json',
          message: `step "${step.name}" returned a value JSON cannot hold: ${error instanceof Error ? error.message : String(error)}`,
          outcome: 'unknown',
        });
      }
      this.#entries.push(this.#stepEntry(span));
      return this.#stepSucceeded(journaled, undefined, attemptNo);
    }
    const { error } = thrown;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof SagaStepFailedError) {
      this.#entries.push(this.#stepEntry(span, error.code));
      return this.#giveUp('failed-hook', attemptNo, {
        code: error.code,
        message,
        outcome: 'failed',
      });
    }
    // It may have done part of its effect: unknown from here on.
    return this.#transient(this.#stepEntry(span, 'step-error'), span, {
      kind: 'transient',
      code: 'step-error',
      message: `step "${step.name}" threw: ${message}`,
    });
  }

  /** Emits the `attempt` event of one run of a local step; returns its history entry. */
  #stepEntry(span: AttemptSpan, error?: string): HistoryEntry {
    const rec = this.#rec;
    const fields = {
      step: this.#current.name,
      attempt: span.attemptNo,
      durationMs: span.ended - span.started,
      worker: this.#worker,
      ...(error !== undefined ? { error } : {}),
    };
    const { events } = this.env;
    if (events.has('attempt')) events.emit('attempt', { id: rec.id, type: rec.type, ...fields });
    return { at: span.started, kind: 'attempt', ...fields };
  }

  /**
   * A saga step completed: journal its result and, in the same write, start the next step here
   * (or finish). An `operation()` has no journal and goes its own way ({@link #succeeded}).
   */
  async #stepSucceeded(
    result: unknown,
    response: OperationResponse | undefined,
    attempts: number,
  ): Promise<Step> {
    const { env, t } = this;
    const saga = this.#saga as SagaProgress;
    const rec = this.#rec;
    const index = saga.step;
    const step = t.steps[index] as ResolvedStep;
    const now = env.now();
    this.#patchStep(index, {
      state: 'completed',
      attempts,
      at: now,
      lastError: undefined,
      trace: this.#lastTrace,
    });
    this.#lastTrace = undefined;
    this.#saga = {
      step: index,
      results: { ...saga.results, [step.name]: result },
      steps: (this.#saga as SagaProgress).steps,
    };
    if (env.events.has('step-completed')) {
      const event = { id: rec.id, type: rec.type, step: step.name, index, attempts };
      this.#onWritten.push(() => env.events.emit('step-completed', event));
    }
    if (index + 1 < t.steps.length) {
      this.#patchStep(index + 1, { state: 'running', at: now }, { step: index + 1 });
      const next: Settlement = {
        action: 'hook',
        phase: 'attempt',
        attempts: 0,
        leaseUntil: now + env.leaseMs,
      };
      if (!(await this.#settle(next))) return LOST;
      this.#rec = { ...rec, attempts: 0, saga: this.#journal };
      this.#unknown = false;
      return 'again';
    }
    const final = response ?? {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(result ?? null),
    };
    const done: Settlement = { action: 'finish', state: 'completed', attempts, response: final };
    if (!(await this.#settle(done))) return LOST;
    return this.#finished('completed', { ...rec, attempts, response: final, saga: this.#journal });
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
    // The write-ahead of start took the whole `wait` (a slow store): an attempt now would get no
    // time at all. Hand it to the workers.
    if (options.syncUntil !== undefined && now >= options.syncUntil) return this.#waitSpent(now);
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
      const call: CallLimits = {
        key: this.#stepKey,
        attemptTimeout: this.#current.attemptTimeout,
        deadline: rec.deadline,
        // Every attempt after an operation's (or a saga step's) first one, a redriven
        // operation's included, is a retry: it draws from the client's retry budget.
        retry: rec.attempts > 0,
      };
      outcome = await this.#traced(
        'attempt',
        rec.attempts + 1,
        () => callOnce(env, call, request, lease.controller.signal, this.options.syncUntil),
        endingOf,
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
      case 'retry-budget':
        return this.#budgetSpent(outcome.retryAt, ended);
      case 'success': {
        const base = this.#recordAttempt(span, outcome.status);
        if (!this.#saga) return this.#succeeded(base, span, outcome);
        this.#entries.push(base);
        return this.#stepSucceeded(resultOf(outcome.response), outcome.response, span.attemptNo);
      }
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

  /**
   * Runs `fn` (one attempt, local step run or compensation) in a span linked to the request that
   * started the operation (and, for a compensation, to the step it undoes), when a tracer
   * provider is registered; counts it in the attempt metric either way.
   */
  async #traced<T>(
    kind: 'attempt' | 'compensate',
    attempt: number,
    fn: () => Promise<T>,
    ending: (result: T) => Ending,
    undoes?: string,
  ): Promise<T> {
    const rec = this.#rec;
    const traced = OperationSpan.start(kind, {
      id: rec.id,
      type: rec.type,
      step: this.#saga ? this.#current.name : undefined,
      attempt,
      worker: this.#worker,
      trace: rec.trace,
      undoes,
      inline: this.options.syncUntil !== undefined,
    });
    if (traced === undefined) {
      let result: T;
      try {
        result = await fn();
      } catch (error) {
        durableAttemptCounted(rec.type, 'error');
        throw error;
      }
      durableAttemptCounted(rec.type, ending(result)[0]);
      return result;
    }
    if (kind === 'attempt') this.#lastTrace = traceOf(traced.span);
    let result: T;
    try {
      result = await traced.run(fn);
    } catch (error) {
      traced.end('error', undefined, error instanceof Error ? error.name : '_OTHER');
      throw error;
    }
    traced.end(...ending(result));
    return result;
  }

  /** Emits the `attempt` event; returns its history entry (pushed by the caller, maybe amended). */
  #recordAttempt(span: AttemptSpan, status?: number, error?: string): HistoryEntry {
    const rec = this.#rec;
    const durationMs = span.ended - span.started;
    const fields = {
      ...(this.#saga ? { step: this.#current.name } : {}),
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

  /**
   * The client's retry budget refused this retry (nothing was sent): defer it to when a token is
   * due (jittered, so a deferred backlog does not come back at once), not fail it.
   */
  #budgetSpent(retryAt: number, at: number): Promise<Step> {
    const { env } = this;
    const dueAt = Math.max(retryAt, at) + Math.round(env.probeJitterMs * env.random());
    if (dueAt >= this.#rec.deadline) return this.#circuitPastDeadline(retryAt, 'retry budget');
    this.#note({ at, kind: 'retry-budget', delayMs: dueAt - at, delayReason: 'retry-budget' });
    return this.#schedule(dueAt, this.#rec.attempts, 'retry-budget');
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
    const step = this.#current;
    const { attemptNo, started, ended } = span;
    if (outcome.notSent !== true) this.#unknown = true;
    const lastError: OperationFailure = {
      code: outcome.code,
      message:
        outcome.message ??
        (outcome.status !== undefined ? `downstream answered ${outcome.status}` : outcome.code),
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      outcome: this.#outcomeSoFar,
    };
    // A Retry-After wins over the backoff, but never below its first step: `Retry-After: 0`
    // from an overloaded downstream must not turn the queue into a tight loop.
    let [delay, reason]: [number, ScheduleReason] =
      outcome.retryAfter !== undefined
        ? [Math.max(outcome.retryAfter, step.backoff.initialMs), 'retry-after']
        : [backoffDelay(step.backoff, attemptNo, env.random), 'backoff'];
    const last =
      attemptNo < step.maxAttempts
        ? lastAttempt(step.attemptTimeout, t.deadline, this.#rec, started, ended, delay)
        : 'none';
    this.#patchStep(this.#saga?.step ?? 0, { attempts: attemptNo, lastError });
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
    if (attemptNo >= step.maxAttempts) return 'again';
    if (options.syncUntil !== undefined && ended + delay < options.syncUntil) {
      await sleep(delay, this.lease.controller.signal);
      return 'again';
    }
    return this.#schedule(ended + delay, attemptNo, reason, lastError);
  }

  /** Writes `s` under the owner check, with the history gathered since the last write. */
  async #settle(s: Settlement): Promise<boolean> {
    const { env, lease, options } = this;
    if (lease.lost) {
      this.#onWritten.length = 0;
      return false;
    }
    const sentAt = leaseClock();
    const now = env.now();
    // A saga's journal goes with every settle: the step transition and its result in one write.
    const settlement: Settlement = this.#saga ? { ...s, saga: this.#journal } : s;
    const sent = env.store.settle(
      this.#rec.id,
      lease.owner,
      now,
      settlement,
      this.#entries.splice(0),
    );
    // A final write: nothing to renew any more (a renewal queued behind it would find it gone).
    if (s.action !== 'hook') {
      lease.end();
      // The store counts a retry's due time from when it runs the write, at the earliest now.
      options.onSettling?.(undefined, s.action === 'finish' ? undefined : s.dueAt);
    }
    const ok = await sent;
    const announce = this.#onWritten.splice(0);
    if (ok) for (const emit of announce) emit();
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
    this.#rec = {
      ...rec,
      state: 'pending',
      attempts,
      dueAt,
      ...(lastError ? { lastError } : {}),
      ...(this.#saga ? { saga: this.#journal } : {}),
    };
    return { kind: 'pending', record: this.#rec };
  }

  async #giveUp(phase: HookPhase, attempts: number, given: OperationFailure): Promise<Step> {
    const { env, t } = this;
    const rec = this.#rec;
    const state = phase === 'failed-hook' ? 'failed' : 'dead';
    const failure: GiveUpFailure = { ...given, outcome: given.outcome ?? this.#outcomeSoFar };
    if (this.#saga) return this.#beginCompensation(attempts, failure);
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

  /**
   * A saga gave up: mark the current step (`failed`: a final answer, its effect did not happen;
   * `unknown`: it may have), then compensate, newest first, every step that completed or is
   * unknown and has a compensation. The switch to compensating is one settle.
   */
  async #beginCompensation(attempts: number, failure: GiveUpFailure): Promise<Step> {
    const { env } = this;
    const saga = this.#saga as SagaProgress;
    const rec = this.#rec;
    const now = env.now();
    const index = saga.step;
    const current = this.t.steps[index] as ResolvedStep;
    const known = failure.outcome === 'failed' || current.kind === 'sleep';
    this.#patchStep(index, {
      ...(this.#lastTrace !== undefined ? { trace: this.#lastTrace } : {}),
      state: known ? 'failed' : 'unknown',
      attempts: Math.max(attempts, saga.steps[index]?.attempts ?? 0),
      lastError: failure,
      at: now,
    });
    if (env.events.has('compensating')) {
      const event = { id: rec.id, type: rec.type, failure };
      this.#onWritten.push(() => env.events.emit('compensating', event));
    }
    const next = this.#toCompensate(index);
    if (next === undefined) {
      const done: Settlement = {
        action: 'finish',
        state: 'compensated',
        attempts,
        lastError: failure,
      };
      if (!(await this.#settle(done))) return LOST;
      return this.#finished('compensated', {
        ...rec,
        attempts,
        lastError: failure,
        saga: this.#journal,
      });
    }
    this.#startCompensating(next, now);
    const s: Settlement = {
      action: 'hook',
      phase: 'compensate',
      attempts,
      leaseUntil: now + env.leaseMs,
      lastError: failure,
    };
    if (!(await this.#settle(s))) return LOST;
    this.#rec = { ...rec, phase: 'compensate', attempts, lastError: failure, saga: this.#journal };
    return this.#compensate();
  }

  /** The newest step at or before `from` that needs its compensation run. */
  #toCompensate(from: number): number | undefined {
    const saga = this.#saga as SagaProgress;
    for (let i = from; i >= 0; i--) {
      const state = saga.steps[i]?.state;
      if ((state === 'completed' || state === 'unknown') && this.t.steps[i]?.compensate) return i;
    }
    return undefined;
  }

  #startCompensating(index: number, now: number): void {
    const record = (this.#saga as SagaProgress).steps[index] as StepRecord;
    this.#patchStep(
      index,
      {
        state: 'compensating',
        outcome: record.state === 'unknown' ? 'unknown' : 'completed',
        compensationAttempts: 0,
        at: now,
      },
      { step: index, stuck: undefined },
    );
  }

  /**
   * Runs the compensation of the journal's current step: on success moves to the next one (one
   * settle) or finishes `compensated`; on any failure retries it later with the step's backoff,
   * without a deadline, and flags the saga `stuck` after `stuckAfter` failures in a row.
   */
  async #compensate(): Promise<Step> {
    const { env, t, lease } = this;
    const saga = this.#saga as SagaProgress;
    const rec = this.#rec;
    const index = saga.step;
    const step = t.steps[index] as ResolvedStep;
    const record = saga.steps[index] as StepRecord;
    const compensation = step.compensate;
    if (!compensation || record.state !== 'compensating') {
      // Nothing (more) to do for this one: a journal written by a holder that stopped halfway.
      return this.#compensated(index);
    }
    const stepKey = stepKeyOf(rec.id, step.name);
    const attemptNo = (record.compensationAttempts ?? 0) + 1;
    const ctx: SagaCompensationContext = {
      id: rec.id,
      step: step.name,
      stepKey,
      compensationKey: `${stepKey}:compensate`,
      results: saga.results,
      attempts: attemptNo - 1,
      signal: lease.controller.signal,
      outcome: record.outcome ?? 'completed',
    };
    const input = JSON.parse(rec.input) as unknown;
    const started = env.now();
    let failure: OperationFailure | undefined;
    let retryAfter: number | undefined;
    let status: number | undefined;
    if (compensation.kind === 'local') {
      const disarm = lease.guard();
      try {
        await this.#traced(
          'compensate',
          attemptNo,
          async () => compensation.run(input, ctx),
          () => ['success'],
          record.trace,
        );
      } catch (error) {
        failure = {
          code: 'compensation-error',
          message: error instanceof Error ? error.message : String(error),
        };
      } finally {
        disarm();
      }
    } else {
      let request: DurableRequest | undefined;
      try {
        request = compensation.request(input, ctx);
      } catch (error) {
        failure = {
          code: 'request-build-failed',
          message: error instanceof Error ? error.message : String(error),
        };
      }
      if (request !== undefined) {
        const circuit = env.client.circuit?.(targetOf(request, env.baseOrigin));
        if (
          circuit?.state === 'open' &&
          circuit.nextProbeAt !== undefined &&
          circuit.nextProbeAt > started
        ) {
          const dueAt = circuit.nextProbeAt + Math.round(env.probeJitterMs * env.random());
          this.#note({
            at: started,
            kind: 'circuit-open',
            step: step.name,
            delayMs: dueAt - started,
            delayReason: 'circuit-open',
          });
          return this.#schedule(dueAt, rec.attempts, 'circuit-open');
        }
        const disarm = lease.guard();
        let outcome: Attempt;
        try {
          const call = {
            key: ctx.compensationKey,
            attemptTimeout: compensation.attemptTimeout ?? step.attemptTimeout,
            deadline: Infinity,
          };
          outcome = await this.#traced(
            'compensate',
            attemptNo,
            () =>
              callOnce(env, call, request as DurableRequest, lease.controller.signal, undefined),
            endingOf,
            record.trace,
          );
        } finally {
          disarm();
        }
        if (outcome.kind === 'aborted') {
          if (lease.lost) return LOST;
          this.#note({
            at: env.now(),
            kind: 'released',
            step: step.name,
            note: 'compensation aborted',
          });
          return this.#schedule(env.now(), rec.attempts, 'released');
        }
        if (outcome.kind === 'circuit-open') {
          return this.#schedule(
            Math.max(outcome.nextProbeAt, env.now()),
            rec.attempts,
            'circuit-open',
          );
        }
        // Compensations are not drawn from the retry budget (an undo must run); kept for
        // completeness of the union.
        if (outcome.kind === 'retry-budget') {
          return this.#schedule(Math.max(outcome.retryAt, env.now()), rec.attempts, 'retry-budget');
        }
        if (outcome.kind === 'success') status = outcome.status;
        else if (outcome.kind === 'permanent') {
          failure = outcome.failure;
          status = outcome.failure.status;
        } else {
          status = outcome.status;
          retryAfter = outcome.retryAfter;
          failure = {
            code: outcome.code,
            message:
              outcome.status !== undefined ? `downstream answered ${outcome.status}` : outcome.code,
            ...(outcome.status !== undefined ? { status: outcome.status } : {}),
          };
        }
      }
    }
    const ended = env.now();
    if (lease.lost) return LOST;
    this.#entries.push({
      at: started,
      kind: 'compensation',
      step: step.name,
      attempt: attemptNo,
      durationMs: ended - started,
      worker: this.#worker,
      ...(status !== undefined ? { status } : {}),
      ...(failure !== undefined ? { error: failure.code } : {}),
    });
    if (failure === undefined) {
      this.#patchStep(index, { compensationAttempts: attemptNo });
      return this.#compensated(index);
    }
    const delay =
      retryAfter !== undefined
        ? Math.min(
            Math.max(retryAfter, step.backoff.initialMs),
            Math.max(step.backoff.maxMs, step.backoff.initialMs),
          )
        : backoffDelay(step.backoff, attemptNo, env.random);
    const stuck = attemptNo >= (t.saga?.stuckAfter ?? Infinity);
    const becameStuck = stuck && saga.stuck !== true;
    this.#patchStep(
      index,
      { compensationAttempts: attemptNo, lastError: failure, at: ended },
      stuck ? { stuck: true } : {},
    );
    const failed = {
      id: rec.id,
      type: rec.type,
      step: step.name,
      attempts: attemptNo,
      error: failure.message,
    };
    this.#onWritten.push(() => env.events.emit('compensation-error', failed));
    if (becameStuck) {
      const event = { id: rec.id, type: rec.type, step: step.name, attempts: attemptNo };
      this.#onWritten.push(() => env.events.emit('compensation-stuck', event));
    }
    const entry = this.#entries[this.#entries.length - 1] as HistoryEntry;
    this.#entries[this.#entries.length - 1] = {
      ...entry,
      delayMs: delay,
      delayReason: 'compensation-retry',
    };
    return this.#schedule(ended + delay, rec.attempts, 'compensation-retry');
  }

  /** Step `index` is compensated: on to the next one (one settle), or finish `compensated`. */
  async #compensated(index: number): Promise<Step> {
    const { env } = this;
    const rec = this.#rec;
    const now = env.now();
    const record = (this.#saga as SagaProgress).steps[index] as StepRecord;
    if (record.state === 'compensating') {
      this.#patchStep(index, { state: 'compensated', at: now, lastError: undefined });
      const event = {
        id: rec.id,
        type: rec.type,
        step: record.name,
        outcome: record.outcome ?? 'completed',
      };
      this.#onWritten.push(() => env.events.emit('step-compensated', event));
    }
    const next = index > 0 ? this.#toCompensate(index - 1) : undefined;
    if (next === undefined) {
      this.#patchStep(index, {}, { stuck: undefined });
      if (!(await this.#settle({ action: 'finish', state: 'compensated' }))) return LOST;
      return this.#finished('compensated', { ...rec, saga: this.#journal });
    }
    this.#startCompensating(next, now);
    const s: Settlement = {
      action: 'hook',
      phase: 'compensate',
      attempts: rec.attempts,
      leaseUntil: now + env.leaseMs,
    };
    if (!(await this.#settle(s))) return LOST;
    this.#rec = { ...rec, saga: this.#journal };
    return 'again';
  }

  /** Waiting for the probe would pass the deadline: compensate now rather than after it. */
  #circuitPastDeadline(nextProbeAt: number, what = 'circuit'): Promise<Step> {
    const rec = this.#rec;
    this.#note({ at: this.env.now(), kind: 'deadline' });
    return this.#giveUp('dead-hook', rec.attempts, {
      ...deadlineFailure(rec),
      message:
        what === 'circuit'
          ? `the circuit stays open until ${new Date(nextProbeAt).toISOString()}, past the deadline; last: ${rec.lastError?.message ?? 'none'}`
          : `the retry budget has no token before ${new Date(nextProbeAt).toISOString()}, past the deadline; last: ${rec.lastError?.message ?? 'none'}`,
    });
  }

  #finished(state: 'completed' | 'failed' | 'dead' | 'compensated', r: OperationRecord): RunResult {
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

/** How an attempt's outcome reads on its span. */
function endingOf(outcome: Attempt): Ending {
  switch (outcome.kind) {
    case 'success':
      return ['success', outcome.status];
    case 'transient':
      return ['transient', outcome.status, outcome.code];
    case 'permanent':
      return ['permanent', outcome.failure.status, outcome.failure.code];
    default:
      return [outcome.kind, undefined, outcome.kind];
  }
}

/** Each property of `T` optional, `undefined` meaning "remove it". */
type Loose<T> = { [K in keyof T]?: T[K] | undefined };

/** `value` without its properties that are `undefined` (the journal is stored as JSON). */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function statusOf(failure: OperationFailure | undefined): { status?: number } {
  return failure?.status !== undefined ? { status: failure.status } : {};
}

/**
 * The result a request step journals: its status, headers and body, the body parsed when it
 * is JSON (else the text).
 */
function resultOf(response: OperationResponse): unknown {
  let body: unknown = response.body;
  if (/\bjson\b/i.test(response.headers['content-type'] ?? '') && response.body !== '') {
    try {
      body = JSON.parse(response.body);
    } catch {
      // not JSON after all: keep the text
    }
  }
  return { status: response.status, headers: response.headers, body };
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
  attemptTimeout: number,
  typeDeadline: number,
  rec: OperationRecord,
  started: number,
  ended: number,
  delay: number,
): number | 'none' | 'give-up' {
  if (ended + delay < rec.deadline) return 'none';
  const lastAt = rec.deadline - Math.min(attemptTimeout, Math.floor(typeDeadline / 2));
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
