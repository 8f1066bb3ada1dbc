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
import type { DurableEvents } from './events.js';
import type {
  DurableStore,
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
  /** Runs at least once after the downstream accepted the call; then the operation is `completed`. */
  onSuccess?(response: OperationResponse, ctx: OperationContext<I>): unknown;
  /** Compensation: runs at least once when the operation fails or dies. */
  onGiveUp?(failure: OperationFailure, ctx: OperationContext<I>): unknown;
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
   * its reply, with the due time of a retry or release: a worker uses it to claim the next
   * operation in the same batched write, and to wake up when the retry comes due.
   */
  readonly onSettling?: (dueAt?: number) => void;
}

type Attempt =
  | { kind: 'success'; response: OperationResponse; status: number }
  | {
      kind: 'transient';
      code: string;
      status?: number;
      retryAfter?: number;
      response?: OperationResponse;
    }
  | { kind: 'permanent'; failure: OperationFailure }
  | { kind: 'circuit-open'; nextProbeAt: number }
  | { kind: 'aborted' };

/**
 * @internal A lease held on one operation: renewed in the background at a third of its length,
 * and marked lost (with the in-flight attempt aborted) when the store says another owner has it.
 */
export class Lease {
  readonly controller = new AbortController();
  lost = false;
  readonly #timer: NodeJS.Timeout;

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
    readonly owner: string,
    stopSignal?: AbortSignal,
  ) {
    this.#timer = setInterval(() => void this.#renew(), Math.max(50, Math.floor(env.leaseMs / 3)));
    this.#timer.unref();
    this.#stopSignal = stopSignal;
    if (stopSignal?.aborted) this.#onStop();
    else stopSignal?.addEventListener('abort', this.#onStop, { once: true });
  }

  async #renew(): Promise<void> {
    if (this.lost) return;
    try {
      const ok = await this.env.store.renew(this.id, this.owner, this.env.now() + this.env.leaseMs);
      if (!ok) this.markLost();
    } catch {
      // The store is unreachable: keep the lease as long as it lasts; the owner check decides.
    }
  }

  markLost(): void {
    if (this.lost) return;
    this.lost = true;
    this.controller.abort(new Error('lease lost'));
    this.env.events.emit('lease-lost', { id: this.id, type: this.type, worker: this.owner });
  }

  end(): void {
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
  owner: string,
  options: RunOptions = {},
): Promise<RunResult> {
  const lease = new Lease(env, record.id, record.type, owner, options.stopSignal);
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
  const owner = lease.owner;
  const entries: HistoryEntry[] = [];

  const settle = async (s: Settlement): Promise<boolean> => {
    if (lease.lost) return false;
    const sent = env.store.settle(rec.id, owner, env.now(), s, entries.splice(0));
    if (s.action !== 'hook')
      options.onSettling?.(s.action === 'retry' || s.action === 'release' ? s.dueAt : undefined);
    const ok = await sent;
    if (!ok) lease.markLost();
    return ok;
  };
  const schedule = async (
    dueAt: number,
    attempts: number,
    reason: 'backoff' | 'retry-after' | 'circuit-open' | 'released' | 'hook-retry' | 'target-busy',
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
    failure: OperationFailure,
  ): Promise<RunResult> => {
    const state = phase === 'failed-hook' ? 'failed' : 'dead';
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
    const failure = rec.lastError ?? { code: 'unknown', message: 'unknown failure' };
    env.events.emit(state, { id: rec.id, type: rec.type, failure });
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
      else
        await t.def.onGiveUp?.(
          rec.lastError ?? { code: 'unknown', message: 'unknown failure' },
          ctx,
        );
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
    if (rec.phase !== 'attempt') return runHook();
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
    const release = options.admit ? options.admit(target) : () => undefined;
    if (release === undefined) {
      const dueAt = now + 50 + Math.round(200 * env.random());
      return schedule(dueAt, rec.attempts, 'target-busy');
    }
    const attemptNo = rec.attempts + 1;
    let outcome: Attempt;
    const started = env.now();
    try {
      outcome = await callOnce(env, t, rec, request, lease, options);
    } finally {
      release();
    }
    const ended = env.now();
    const durationMs = ended - started;
    if (outcome.kind === 'aborted') {
      if (lease.lost) return { kind: 'lost' };
      entries.push({
        at: ended,
        kind: 'released',
        attempt: attemptNo,
        durationMs,
        worker: owner,
        note: 'worker stopping',
      });
      return schedule(ended, attemptNo, 'released');
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
      return giveUp('failed-hook', attemptNo, outcome.failure);
    }
    const lastError: OperationFailure = {
      code: outcome.code,
      message:
        outcome.status !== undefined ? `downstream answered ${outcome.status}` : outcome.code,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
    };
    const [delay, reason] =
      outcome.retryAfter !== undefined
        ? [outcome.retryAfter, 'retry-after' as const]
        : [backoffDelay(t.backoff, attemptNo, env.random), 'backoff' as const];
    entries.push({ ...base, delayMs: delay, delayReason: reason });
    rec = { ...rec, attempts: attemptNo, lastError };
    if (attemptNo >= t.maxAttempts) continue;
    if (ended + delay >= rec.deadline) {
      return giveUp('dead-hook', attemptNo, {
        ...deadlineFailure(rec),
        message: `next attempt (in ${delay} ms, ${reason}) would pass the deadline; last: ${lastError.message}`,
      });
    }
    if (options.syncUntil !== undefined && ended + delay < options.syncUntil) {
      await sleep(delay, lease.controller.signal);
      continue;
    }
    return schedule(ended + delay, attemptNo, reason, lastError);
  }
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
    if (c.retryable) return { kind: 'transient', code: c.reason };
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
