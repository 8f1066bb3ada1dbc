import { classifyError, classifyStatus, problemCodeOf } from '@unfazed/contract';
import { parseRetryAfter } from '@unfazed/contract';
import { backoffDelay, type DurableBackoffOptions, type ResolvedBackoff } from './backoff.js';
import {
  isAttemptTimeoutError,
  isCircuitOpenError,
  isRetriesExhaustedError,
  isRetryAfterBeyondDeadlineError,
  isTotalTimeoutError,
} from '../errors.js';
import {
  headerMap,
  storeResponse,
  type DurableClient,
  type DurableRequest,
} from './client-port.js';
import type { DurableEvents, ScheduleReason } from './events.js';
import type {
  DurableStore,
  FailureOutcome,
  GiveUpFailure,
  HistoryEntry,
  OperationFailure,
  OperationRecord,
  Settlement,
  OperationResponse,
} from './types.js';

/** What hooks receive besides the response or failure. */
export interface OperationContext<I> {
  /** The operation id: use it to make hooks idempotent (they run at least once). */
  readonly id: string;
  readonly type: string;
  readonly input: I;
  /** Attempts made. */
  readonly attempts: number;
}

/** How one operation type behaves. Functions live in code; only the input is persisted. */
export interface OperationDefinition<I> {
  /** Builds the request from the input. Must be deterministic: it runs again on every attempt. */
  request(input: I, ctx: { readonly id: string }): DurableRequest;
  /** Overall deadline from start (and from each redrive), ms. Default 86 400 000 (24 h). */
  readonly deadline?: number;
  /** Give up after this many attempts (then `dead`). Default: no limit but the deadline. */
  readonly maxAttempts?: number;
  /** Backoff between attempts (capped; `Retry-After` wins). */
  readonly backoff?: DurableBackoffOptions;
  /** Timeout of one attempt, ms. Default from `createDurable` (the client's attempt timeout). */
  readonly attemptTimeout?: number;
  /** Default `wait` of `start`, ms. Default 2 000. */
  readonly wait?: number;
  /** Largest input `start` accepts, bytes of serialised JSON. Default from `createDurable` (1 MiB). */
  readonly maxInputBytes?: number;
  /** Runs at least once after the downstream accepted the call; then the operation is `completed`. */
  onSuccess?(response: OperationResponse, ctx: OperationContext<I>): unknown;
  /**
   * Compensation: runs at least once when the operation fails or dies. `failure.outcome` says
   * whether the effect is known not to have happened (`failed`: a final answer, or nothing ever
   * reached the downstream) or may have happened (`unknown`: a timeout, an in-flight `409`, a
   * lost response, a 5xx): compensate for "the effect may have happened" in the second case.
   */
  onGiveUp?(failure: GiveUpFailure, ctx: OperationContext<I>): unknown;
}

/** @internal An operation type with defaults resolved. */
export interface ResolvedType {
  readonly name: string;
  readonly def: OperationDefinition<unknown>;
  readonly deadline: number;
  readonly maxAttempts: number;
  readonly backoff: ResolvedBackoff;
  readonly attemptTimeout: number;
  readonly wait: number;
  readonly maxInputBytes: number;
}

/** @internal What a run needs from its durable instance. */
export interface RunEnv {
  readonly store: DurableStore;
  readonly client: DurableClient;
  readonly events: DurableEvents;
  readonly now: () => number;
  readonly random: () => number;
  readonly leaseMs: number;
  readonly maxResponseBytes: number;
  readonly probeJitterMs: number;
  /** Origin of the client's `baseUrl`, the target of path-only requests. */
  readonly baseOrigin: string | undefined;
}

/** @internal How a run ended, from the point of view of the lease holder. */
export type RunResult =
  | { readonly kind: 'completed'; readonly record: OperationRecord }
  | { readonly kind: 'failed' | 'dead'; readonly record: OperationRecord }
  | { readonly kind: 'pending'; readonly record: OperationRecord }
  | { readonly kind: 'lost' };

/** @internal Options of one run. */
export interface RunOptions {
  /** While now < syncUntil, transient failures are retried in place (the `wait` of start). */
  readonly syncUntil?: number;
  /** Aborted by a stopping worker that ran out of patience: release the operation. */
  readonly stopSignal?: AbortSignal;
  /** Per-target admission; `undefined` when the target is at its limit. */
  readonly admit?: (target: string) => (() => void) | undefined;
  /**
   * Called right after the write that ends this run (retry, release, finish) was sent, before
   * its reply (a worker claims the next operation in the same batched write), and for a retry
   * or release again once the store answered, with its due time by this process's clock (the
   * worker wakes up when it comes due).
   */
  readonly onSettling?: (dueAt?: number) => void;
  /**
   * The lease was taken over from a holder that died or stalled: it may have sent an attempt
   * whose outcome nobody learnt, so the effect is unknown from here on.
   */
  readonly takeover?: boolean;
}

type Attempt =
  | { kind: 'success'; response: OperationResponse; status: number }
  | {
      kind: 'transient';
      code: string;
      status?: number;
      retryAfter?: number;
      response?: OperationResponse;
      /** The request certainly never reached the downstream (connection refused, DNS). */
      notSent?: boolean;
    }
  | { kind: 'permanent'; failure: OperationFailure }
  | { kind: 'circuit-open'; nextProbeAt: number }
  | { kind: 'aborted' };

/**
 * @internal How a lease was granted: the token the store gave for this claim (or create), the
 * worker's name for history and events, and when the command that granted it was sent.
 */
export interface LeaseGrant {
  /** The lease token (`record.owner` of the claimed or created record). */
  readonly token: string;
  /** The worker's id (or `start:<process>`), shown in history and events. */
  readonly worker: string;
  /**
   * `performance.now()` when the claim (or create) was sent. The store granted the lease when it
   * executed the command, later, by its clock: the lease surely lasts until `sentAt + leaseMs`.
   */
  readonly sentAt: number;
  /** The lease length granted, ms (`leaseUntil - updatedAt` of the record). */
  readonly leaseMs: number;
}

/**
 * @internal A lease held on one operation: renewed in the background at a third of its length,
 * and marked lost (with the in-flight attempt aborted) when the store says another owner has it.
 *
 * It also knows how long the lease surely holds by this process's own clock: from when the
 * command that granted (or renewed) it was *sent*, which is before the store executed it. An
 * attempt starts only while that holds, and is aborted (`lapsed`) if renewals stop coming back
 * before it runs out: past that point another worker may have claimed the operation, and two
 * attempts of one operation must never be in flight at once.
 */
export class Lease {
  readonly controller = new AbortController();
  lost = false;
  /** The lease ran out by this process's measure during an attempt, which was aborted. */
  lapsed = false;
  readonly owner: string;
  readonly worker: string;
  readonly #timer: NodeJS.Timeout;
  #validUntil: number;
  readonly #margin: number;
  #ended = false;

  readonly #stopSignal: AbortSignal | undefined;
  readonly #onStop = (): void => this.controller.abort(STOPPING);

  /**
   * `stopSignal` (a stopping worker) also aborts `controller`, without marking the lease lost:
   * one signal per run instead of an `AbortSignal.any` per attempt.
   */
  constructor(
    readonly env: RunEnv,
    readonly id: string,
    readonly type: string,
    grant: LeaseGrant,
    stopSignal?: AbortSignal,
  ) {
    this.owner = grant.token;
    this.worker = grant.worker;
    this.#validUntil = grant.sentAt + Math.min(grant.leaseMs, env.leaseMs);
    // Room for the abort to reach the socket and for a loaded event loop.
    this.#margin = Math.min(1_000, Math.max(20, Math.floor(env.leaseMs / 10)));
    this.#timer = setInterval(() => void this.#renew(), Math.max(50, Math.floor(env.leaseMs / 3)));
    this.#timer.unref();
    this.#stopSignal = stopSignal;
    if (stopSignal?.aborted) this.#onStop();
    else stopSignal?.addEventListener('abort', this.#onStop, { once: true });
  }

  /** True while the lease surely holds by this process's clock (with a margin). */
  holds(): boolean {
    return performance.now() < this.#validUntil - this.#margin;
  }

  /** A write that extends the lease (renew, hook settle), sent at `sentAt`, succeeded. */
  extended(sentAt: number): void {
    this.#validUntil = Math.max(this.#validUntil, sentAt + this.env.leaseMs);
  }

  /**
   * Before an attempt: true when the lease surely holds, renewing it first when this process
   * cannot tell (the claim's reply came late). False when it still cannot (or the lease is lost).
   */
  async ensure(): Promise<boolean> {
    if (this.holds()) return true;
    await this.#renew();
    return !this.lost && this.holds();
  }

  /**
   * Arms the lapse check for the attempt about to be sent: when the lease runs out by this
   * process's measure, the attempt is aborted and `lapsed` set. Returns the disarm function.
   */
  guard(): () => void {
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      const left = this.#validUntil - this.#margin - performance.now();
      if (left > 0) {
        timer = setTimeout(check, left);
        timer.unref();
        return;
      }
      if (this.controller.signal.aborted) return;
      this.lapsed = true;
      this.controller.abort(LAPSED);
    };
    check();
    return () => clearTimeout(timer);
  }

  async #renew(): Promise<void> {
    if (this.lost) return;
    const sentAt = performance.now();
    try {
      const ok = await this.env.store.renew(this.id, this.owner, this.env.leaseMs);
      // A renewal that ran after the final write (queued behind it) finds nothing to renew.
      if (this.#ended) return;
      if (!ok) this.markLost();
      else this.extended(sentAt);
    } catch {
      // The store is unreachable: keep the lease as long as it lasts; the owner check decides.
    }
  }

  markLost(): void {
    if (this.lost) return;
    this.lost = true;
    this.controller.abort(new Error('lease lost'));
    this.env.events.emit('lease-lost', { id: this.id, type: this.type, worker: this.worker });
  }

  /** Stops renewing: the run ended, or its final write was sent. */
  end(): void {
    this.#ended = true;
    clearInterval(this.#timer);
    this.#stopSignal?.removeEventListener('abort', this.#onStop);
  }
}

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
    return await drive(env, t, record, lease, options);
  } finally {
    lease.end();
  }
}

async function drive(
  env: RunEnv,
  t: ResolvedType,
  initial: OperationRecord,
  lease: Lease,
  options: RunOptions,
): Promise<RunResult> {
  let rec: OperationRecord = initial;
  // Whether an attempt may have reached the downstream without its outcome being learnt: then
  // a give-up is `unknown` (the effect may have happened). Sticky, and persisted with lastError.
  let unknown =
    (initial.lastError !== undefined && initial.lastError.outcome !== 'failed') ||
    (options.takeover === true && initial.phase === 'attempt');
  const outcomeSoFar = (): FailureOutcome => (unknown ? 'unknown' : 'failed');
  // History and events name the worker; the store's owner checks use the lease token.
  const owner = lease.worker;
  const entries: HistoryEntry[] = [];

  const settle = async (s: Settlement): Promise<boolean> => {
    if (lease.lost) return false;
    const sentAt = performance.now();
    const now = env.now();
    const sent = env.store.settle(rec.id, lease.owner, now, s, entries.splice(0));
    // A final write: nothing to renew any more (a renewal queued behind it would find it gone).
    if (s.action !== 'hook') {
      lease.end();
      options.onSettling?.();
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
  };
  // The lease may have run out before anything was sent (the claim's reply came late, the
  // renewal too): send nothing, hand the operation back for a claim with a fresh lease.
  const lapsedBefore = (what: string): Promise<RunResult> => {
    entries.push({
      at: env.now(),
      kind: 'released',
      worker: owner,
      note: `lease lapsed before the ${what}: not sent`,
    });
    return schedule(env.now(), rec.attempts, 'released');
  };
  const schedule = async (
    dueAt: number,
    attempts: number,
    reason: ScheduleReason,
    lastError?: OperationFailure,
  ): Promise<RunResult> => {
    const s: Settlement = lastError
      ? { action: reason === 'released' ? 'release' : 'retry', dueAt, attempts, lastError }
      : { action: reason === 'released' ? 'release' : 'retry', dueAt, attempts };
    if (!(await settle(s))) return { kind: 'lost' };
    const now = env.now();
    env.events.emit('scheduled', {
      id: rec.id,
      type: rec.type,
      dueAt,
      delayMs: dueAt - now,
      reason,
    });
    rec = { ...rec, state: 'pending', attempts, dueAt, ...(lastError ? { lastError } : {}) };
    return { kind: 'pending', record: rec };
  };
  const giveUp = async (
    phase: 'failed-hook' | 'dead-hook',
    attempts: number,
    given: OperationFailure,
  ): Promise<RunResult> => {
    const state = phase === 'failed-hook' ? 'failed' : 'dead';
    const failure: GiveUpFailure = { ...given, outcome: given.outcome ?? outcomeSoFar() };
    if (t.def.onGiveUp === undefined) {
      if (!(await settle({ action: 'finish', state, attempts, lastError: failure })))
        return { kind: 'lost' };
      return finished(state, { ...rec, attempts, lastError: failure });
    }
    const leaseUntil = env.now() + env.leaseMs;
    if (!(await settle({ action: 'hook', phase, attempts, leaseUntil, lastError: failure })))
      return { kind: 'lost' };
    rec = { ...rec, phase, attempts, lastError: failure };
    return runHook();
  };
  // Waiting for the probe would pass the deadline: compensate now rather than after it.
  const circuitPastDeadline = (attempts: number, nextProbeAt: number): Promise<RunResult> => {
    entries.push({ at: env.now(), kind: 'deadline', worker: owner });
    return giveUp('dead-hook', attempts, {
      ...deadlineFailure(rec),
      message: `the circuit stays open until ${new Date(nextProbeAt).toISOString()}, past the deadline; last: ${rec.lastError?.message ?? 'none'}`,
    });
  };
  const finished = (state: 'completed' | 'failed' | 'dead', r: OperationRecord): RunResult => {
    rec = { ...r, state, phase: 'attempt', finishedAt: env.now() };
    delete (rec as { owner?: string }).owner;
    if (state === 'completed') {
      env.events.emit('succeeded', { id: rec.id, type: rec.type, attempts: rec.attempts });
      return { kind: 'completed', record: rec };
    }
    env.events.emit(state, { id: rec.id, type: rec.type, failure: giveUpFailure(rec.lastError) });
    return { kind: state, record: rec };
  };
  const runHook = async (): Promise<RunResult> => {
    const ctx = {
      id: rec.id,
      type: rec.type,
      input: JSON.parse(rec.input) as unknown,
      attempts: rec.attempts,
    };
    const success = rec.phase === 'success-hook';
    const state = success ? 'completed' : rec.phase === 'failed-hook' ? 'failed' : 'dead';
    const started = env.now();
    try {
      if (success)
        await t.def.onSuccess?.(rec.response ?? { status: 0, headers: {}, body: '' }, ctx);
      else await t.def.onGiveUp?.(giveUpFailure(rec.lastError), ctx);
    } catch (error) {
      env.events.emit('hook-error', {
        id: rec.id,
        type: rec.type,
        hook: success ? 'onSuccess' : 'onGiveUp',
        error,
      });
      const delay = backoffDelay(t.backoff, Math.max(1, rec.attempts), env.random);
      entries.push({
        at: env.now(),
        kind: 'hook',
        error: error instanceof Error ? error.message : String(error),
        durationMs: env.now() - started,
        delayMs: delay,
        delayReason: 'hook-retry',
        worker: owner,
      });
      return schedule(env.now() + delay, rec.attempts, 'hook-retry');
    }
    entries.push({
      at: env.now(),
      kind: 'hook',
      durationMs: env.now() - started,
      worker: owner,
      note: `${success ? 'onSuccess' : 'onGiveUp'} done`,
    });
    if (!(await settle({ action: 'finish', state }))) return { kind: 'lost' };
    return finished(state, rec);
  };

  for (;;) {
    if (lease.lost) return { kind: 'lost' };
    if (rec.phase !== 'attempt') {
      if (!(await lease.ensure())) return lease.lost ? { kind: 'lost' } : lapsedBefore('hook');
      return runHook();
    }
    const now = env.now();
    if (now >= rec.deadline) {
      entries.push({ at: now, kind: 'deadline', worker: owner });
      return giveUp('dead-hook', rec.attempts, deadlineFailure(rec));
    }
    if (rec.attempts >= t.maxAttempts) {
      return giveUp('dead-hook', rec.attempts, {
        code: 'attempts-exhausted',
        message: `gave up after ${rec.attempts} attempts; last: ${rec.lastError?.message ?? 'none'}`,
        ...(rec.lastError?.status !== undefined ? { status: rec.lastError.status } : {}),
      });
    }
    let request: DurableRequest;
    try {
      request = t.def.request(JSON.parse(rec.input) as unknown, { id: rec.id });
    } catch (error) {
      return giveUp('failed-hook', rec.attempts, {
        code: 'request-build-failed',
        message: error instanceof Error ? error.message : String(error),
      });
    }
    const target = targetOf(request, env.baseOrigin);
    const circuit = env.client.circuit?.(target);
    if (
      circuit?.state === 'open' &&
      circuit.nextProbeAt !== undefined &&
      circuit.nextProbeAt > now
    ) {
      const dueAt = circuit.nextProbeAt + Math.round(env.probeJitterMs * env.random());
      if (dueAt >= rec.deadline) return circuitPastDeadline(rec.attempts, circuit.nextProbeAt);
      entries.push({
        at: now,
        kind: 'circuit-open',
        delayMs: dueAt - now,
        delayReason: 'circuit-open',
        worker: owner,
      });
      return schedule(dueAt, rec.attempts, 'circuit-open');
    }
    if (options.syncUntil !== undefined && now >= options.syncUntil) {
      // The write-ahead of start took the whole `wait` (a slow store): an attempt now would get
      // no time at all. Hand it to the workers.
      entries.push({
        at: now,
        kind: 'released',
        worker: owner,
        note: 'the wait of start ran out before its first attempt',
      });
      return schedule(now, rec.attempts, 'released');
    }
    if (!(await lease.ensure())) return lease.lost ? { kind: 'lost' } : lapsedBefore('attempt');
    const release = options.admit ? options.admit(target) : () => undefined;
    if (release === undefined) {
      const dueAt = now + 50 + Math.round(200 * env.random());
      return schedule(dueAt, rec.attempts, 'target-busy');
    }
    const attemptNo = rec.attempts + 1;
    let outcome: Attempt;
    const started = env.now();
    const disarm = lease.guard();
    try {
      outcome = await callOnce(env, t, rec, request, lease, options);
    } finally {
      disarm();
      release();
    }
    const ended = env.now();
    const durationMs = ended - started;
    if (outcome.kind === 'aborted') {
      if (lease.lost) return { kind: 'lost' };
      if (lease.lapsed) {
        // Sent, outcome unknown; the owner check decides whether this holder may still say so.
        unknown = true;
        const lastError: OperationFailure = {
          code: 'lease-lapsed',
          message: 'the lease ran out during the attempt (the store did not answer its renewals)',
          outcome: 'unknown',
        };
        const entry = {
          attempt: attemptNo,
          durationMs,
          error: lastError.code,
          worker: owner,
        };
        env.events.emit('attempt', { id: rec.id, type: rec.type, ...entry });
        entries.push({ at: started, kind: 'attempt', ...entry });
        return schedule(ended, attemptNo, 'released', lastError);
      }
      entries.push({
        at: ended,
        kind: 'released',
        attempt: attemptNo,
        durationMs,
        worker: owner,
        note: 'worker stopping',
      });
      // Aborted in flight: it may have reached the downstream.
      unknown = true;
      const lastError: OperationFailure = {
        ...(rec.lastError ?? {
          code: 'released',
          message: 'the attempt was aborted by a stopping worker',
        }),
        outcome: 'unknown',
      };
      return schedule(ended, attemptNo, 'released', lastError);
    }
    if (outcome.kind === 'circuit-open') {
      const dueAt =
        Math.max(outcome.nextProbeAt, ended) + Math.round(env.probeJitterMs * env.random());
      if (dueAt >= rec.deadline) return circuitPastDeadline(rec.attempts, outcome.nextProbeAt);
      entries.push({
        at: ended,
        kind: 'circuit-open',
        delayMs: dueAt - ended,
        delayReason: 'circuit-open',
        worker: owner,
      });
      return schedule(dueAt, rec.attempts, 'circuit-open');
    }
    const status =
      outcome.kind === 'success'
        ? outcome.status
        : outcome.kind === 'transient'
          ? outcome.status
          : outcome.failure.status;
    const error =
      outcome.kind === 'success'
        ? undefined
        : outcome.kind === 'transient'
          ? outcome.code
          : outcome.failure.code;
    env.events.emit('attempt', {
      id: rec.id,
      type: rec.type,
      attempt: attemptNo,
      durationMs,
      worker: owner,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
    });
    const base: HistoryEntry = {
      at: started,
      kind: 'attempt',
      attempt: attemptNo,
      durationMs,
      worker: owner,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
    };
    if (outcome.kind === 'success') {
      entries.push(base);
      if (t.def.onSuccess === undefined) {
        if (
          !(await settle({
            action: 'finish',
            state: 'completed',
            attempts: attemptNo,
            response: outcome.response,
          }))
        )
          return { kind: 'lost' };
        return finished('completed', { ...rec, attempts: attemptNo, response: outcome.response });
      }
      const leaseUntil = env.now() + env.leaseMs;
      if (
        !(await settle({
          action: 'hook',
          phase: 'success-hook',
          attempts: attemptNo,
          leaseUntil,
          response: outcome.response,
        }))
      )
        return { kind: 'lost' };
      rec = { ...rec, phase: 'success-hook', attempts: attemptNo, response: outcome.response };
      return runHook();
    }
    if (outcome.kind === 'permanent') {
      entries.push(base);
      // A final answer: the effect did not happen, whatever earlier attempts met.
      return giveUp('failed-hook', attemptNo, { ...outcome.failure, outcome: 'failed' });
    }
    if (outcome.notSent !== true) unknown = true;
    const lastError: OperationFailure = {
      code: outcome.code,
      message:
        outcome.status !== undefined ? `downstream answered ${outcome.status}` : outcome.code,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      outcome: outcomeSoFar(),
    };
    // A Retry-After wins over the backoff, but never below its first step: `Retry-After: 0`
    // from an overloaded downstream must not turn the queue into a tight loop.
    let [delay, reason]: [number, ScheduleReason] =
      outcome.retryAfter !== undefined
        ? [Math.max(outcome.retryAfter, t.backoff.initialMs), 'retry-after']
        : [backoffDelay(t.backoff, attemptNo, env.random), 'backoff'];
    const last = attemptNo < t.maxAttempts ? lastAttempt(t, rec, started, ended, delay) : 'none';
    if (last === 'give-up') {
      entries.push({ ...base, delayMs: delay, delayReason: reason });
      rec = { ...rec, attempts: attemptNo, lastError };
      return giveUp('dead-hook', attemptNo, {
        ...deadlineFailure(rec),
        message: `next attempt (in ${delay} ms, ${reason}) would pass the deadline, and no other fits before it; last: ${lastError.message}`,
      });
    }
    // The backoff or a Retry-After points past the deadline: one last attempt before it instead
    // of giving up early (a slow downstream's effect may still be on its way).
    if (last !== 'none') [delay, reason] = [Math.max(0, last - ended), 'last-attempt'];
    entries.push({ ...base, delayMs: delay, delayReason: reason });
    rec = { ...rec, attempts: attemptNo, lastError };
    if (attemptNo >= t.maxAttempts) continue;
    if (options.syncUntil !== undefined && ended + delay < options.syncUntil) {
      await sleep(delay, lease.controller.signal);
      continue;
    }
    return schedule(ended + delay, attemptNo, reason, lastError);
  }
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

/**
 * @internal The failure of a failed or dead record, with its outcome: a record written before
 * outcomes were recorded (or missing its error) counts as `unknown`, the safe side.
 */
export function giveUpFailure(failure: OperationFailure | undefined): GiveUpFailure {
  const f = failure ?? { code: 'unknown', message: 'unknown failure' };
  return { ...f, outcome: f.outcome ?? 'unknown' };
}

function deadlineFailure(rec: OperationRecord): OperationFailure {
  return {
    code: 'deadline',
    message: `deadline ${new Date(rec.deadline).toISOString()} passed; last: ${rec.lastError?.message ?? 'none'}`,
    ...(rec.lastError?.status !== undefined ? { status: rec.lastError.status } : {}),
  };
}

/**
 * @internal The key the circuit and the per-target limit use: the origin of an absolute URL,
 * else the origin of the client's `baseUrl`, else the path.
 */
export function targetOf(request: DurableRequest, baseOrigin?: string): string {
  if (request.url !== undefined) {
    try {
      return new URL(request.url).origin;
    } catch {
      return String(request.url);
    }
  }
  return baseOrigin ?? request.path ?? '/';
}

async function callOnce(
  env: RunEnv,
  t: ResolvedType,
  rec: OperationRecord,
  request: DurableRequest,
  lease: Lease,
  options: RunOptions,
): Promise<Attempt> {
  const now = env.now();
  const limit = Math.min(
    t.attemptTimeout,
    rec.deadline - now,
    (options.syncUntil ?? Infinity) - now,
  );
  const total = Math.max(1, limit);
  const signal = lease.controller.signal;
  try {
    const res = await env.client.request({
      ...request,
      idempotencyKey: rec.id,
      signal,
      timeout: { total },
      retry: { maxRetries: 0 },
    });
    return answered(env, rec, await storeResponse(res, env.maxResponseBytes));
  } catch (error) {
    if (signal.aborted) return { kind: 'aborted' };
    if (isCircuitOpenError(error)) return { kind: 'circuit-open', nextProbeAt: error.nextProbeAt };
    if (isRetryAfterBeyondDeadlineError(error)) {
      return {
        kind: 'transient',
        code: `status ${error.status}`,
        status: error.status,
        retryAfter: error.retryAfterMs,
      };
    }
    if (isRetriesExhaustedError(error) && error.lastResponse !== undefined) {
      // The client throws, rather than returns, a transient answer it may not retry.
      const last = error.lastResponse;
      return answered(env, rec, {
        status: last.status,
        headers: headerMap(last.headers),
        body: last.body.slice(0, env.maxResponseBytes),
      });
    }
    // With `maxRetries: 0` the client reports a transient failure (a timeout included) as
    // RetriesExhaustedError: classify what the attempt met, not the wrapper.
    const met = isRetriesExhaustedError(error) ? (error.cause ?? error) : error;
    if (isAttemptTimeoutError(met) || isTotalTimeoutError(met)) {
      return { kind: 'transient', code: 'timeout' };
    }
    const c = classifyError(met);
    if (c.retryable)
      return {
        kind: 'transient',
        code: c.reason,
        ...(c.requestSent === 'no' ? { notSent: true } : {}),
      };
    return {
      kind: 'permanent',
      failure: { code: c.reason, message: error instanceof Error ? error.message : String(error) },
    };
  }
}

function answered(env: RunEnv, rec: OperationRecord, response: OperationResponse): Attempt {
  const status = response.status;
  const contentType = response.headers['content-type'] ?? '';
  let code: string | undefined;
  if (contentType.includes('json') && status >= 400) {
    try {
      code = problemCodeOf(JSON.parse(response.body));
    } catch {
      // Not JSON after all: classify on the status alone.
    }
  }
  const c = classifyStatus(status, code);
  if (c.kind === 'success') return { kind: 'success', response, status };
  if (c.retryable) {
    const retryAfter = parseRetryAfter(response.headers['retry-after'], {
      now: env.now(),
      maxMs: Math.max(0, rec.deadline - env.now()),
    });
    return {
      kind: 'transient',
      code: c.reason,
      status,
      response,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    };
  }
  return {
    kind: 'permanent',
    failure: { code: c.reason, message: `downstream answered ${status}`, status, response },
  };
}

/** Reason of the abort when a stopping worker ran out of patience (never thrown to users). */
const STOPPING = new Error('worker stopping');

/** Reason of the abort when the lease ran out during an attempt (never thrown to users). */
const LAPSED = new Error('lease lapsed');

/** @internal Sleeps `ms`, ending early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
