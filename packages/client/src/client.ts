import {
  ConstantBackoff,
  ExponentialBackoff,
  TimeoutStrategy,
  decorrelatedJitterGenerator,
  handleWhenResult,
  retry,
  timeout,
  type RetryPolicy,
} from 'cockatiel';
import type { Span } from '@opentelemetry/api';
import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import {
  HEADERS,
  IDEMPOTENT_METHODS,
  KEYED_METHODS,
  classifyError,
  classifyStatus,
  errorCodeOf,
  parseRetryAfter,
  problemCodeOf,
  type Classification,
} from '@unfazed/contract';
import { abortableSleep } from './abortable-sleep.js';
import { classifyAnswer, type AttemptOptions, type AttemptResult } from './attempt-result.js';
import { AttemptTimer, AttemptTimers } from './attempt-timer.js';
import {
  isDurationMs,
  joinPath,
  prepareCall,
  type Call,
  type MutableRecord,
  type RequestOptions,
} from './call.js';
import {
  CircuitRefusal,
  CircuitRegistry,
  type Circuit,
  type CircuitStatus,
} from './circuit-breaker.js';
import {
  AbortedError,
  AttemptTimeoutError,
  CircuitOpenError,
  ClientClosedError,
  RetriesExhaustedError,
  RetryAfterBeyondDeadlineError,
  RetryBudgetExhaustedError,
  TotalTimeoutError,
  type DelayReason,
  type StopReason,
} from './errors.js';
import { Events, type ClientEventName, type ClientListener } from './events.js';
import { resolveOptions, type ClientOptions, type ResolvedOptions } from './options.js';
import {
  MAX_PROBLEM_BYTES,
  PROBLEM_STATUSES,
  isProblem,
  lastResponse,
  type Outcome,
  type Step,
} from './outcome.js';
import { readBounded } from './read-bounded.js';
import { RetryBudgets } from './retry-budget.js';
import type { WireBody } from './request-body.js';
import { UnfazedResponse, discardBody } from './response.js';
import { ClientTelemetry, errorTypeOf, type AttemptEnding } from './telemetry/client-telemetry.js';

export type { RequestOptions, QueryValue } from './call.js';

/** The effective policy of a client, from {@link Client.describe}. */
export interface ClientDescription {
  readonly baseUrl: string | undefined;
  /** Outermost first. */
  readonly policyOrder: readonly string[];
  readonly timeout: ResolvedOptions['timeout'];
  readonly retry: Omit<ResolvedOptions['retry'], 'budget'> & {
    /** The retry budget per origin, with the tokens each origin met so far has left. */
    readonly budget:
      | {
          readonly maxTokens: number;
          readonly tokenRatio: number;
          readonly refillPerSecond: number;
          readonly retryCost: 1;
          /** `fleet`: one bucket per origin in Redis (`sharedRetryBudget`); `local`: this client's. */
          readonly scope: 'local' | 'fleet';
          readonly prefix?: string;
          /** How often a fleet bucket syncs (its staleness), ms. */
          readonly syncMs?: number;
          readonly tokens: Readonly<Record<string, number>>;
        }
      | false;
    readonly jitter: 'decorrelated';
    readonly retryAfter: string;
    readonly retriedStatuses: readonly number[];
    readonly idempotentMethods: readonly string[];
    readonly keyedMethods: readonly string[];
  };
  readonly breaker:
    | (Omit<Exclude<ResolvedOptions['breaker'], false>, 'key' | 'shared'> & {
        readonly key: 'origin' | 'custom';
        /** The fleet-wide state (`sharedCircuit`), or `false`: this client's breakers only. */
        readonly shared:
          | {
              readonly prefix: string;
              readonly channel: string;
              /** This client's id in the fleet's messages and probe leases. */
              readonly instance: string;
              /** False while Redis does not answer: the local breakers decide alone. */
              readonly connected: boolean;
            }
          | false;
      })
    | false;
  readonly idempotency: ResolvedOptions['idempotency'];
  readonly dispatcher: 'pool-per-origin' | 'custom';
  readonly worstCase: {
    /** Most attempts one call can make. */
    readonly attempts: number;
    /** Longest a call can take until `request()` settles: the total deadline. */
    readonly latencyMs: number;
    /** The same bound when no server sends `Retry-After`: attempts × attempt timeout + backoff caps. */
    readonly latencyWithoutRetryAfterMs: number;
  };
}

/** A resilient HTTP client. */
export interface Client {
  /**
   * Sends a request through total deadline → retry → circuit breaker → attempt timeout → undici.
   * Resolves with the answer (any status); rejects with the client's typed errors.
   */
  request(req: RequestOptions): Promise<UnfazedResponse>;
  /**
   * Sends one attempt (no retries) through the circuit breaker and the attempt timeout, and
   * resolves with how it ended as one classified value; never rejects. For callers that run their
   * own retry loop (the durable queue): `req.timeout` and `req.retry` are replaced by `options`.
   */
  attempt(req: RequestOptions, options?: AttemptOptions): Promise<AttemptResult>;
  /**
   * Where the circuit of a URL, origin or path (joined to `baseUrl`) stands; `nextProbeAt`
   * (epoch ms) while open. Never throws: a target that names no origin reports `closed`.
   */
  circuit(urlOrOrigin: string | URL): CircuitStatus;
  /** The effective policy, its worst-case latency and attempt count. */
  describe(): ClientDescription;
  /** Listens to an event; returns a function that removes the listener. */
  on<E extends ClientEventName>(event: E, listener: ClientListener<E>): () => void;
  /** Removes a listener. */
  off<E extends ClientEventName>(event: E, listener: ClientListener<E>): void;
  /** Closes the pools the client created (not a user-supplied dispatcher); later calls fail. */
  close(): Promise<void>;
}

/**
 * Creates a client. Options are validated here.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function createClient(options: ClientOptions = {}): Client {
  return new ResilientClient(resolveOptions(options));
}

const TIMEOUT_OPTIONS = { strategy: TimeoutStrategy.Cooperative, abortOnReturn: false } as const;
const NEVER_ABORTED = new AbortController().signal;

class ResilientClient implements Client {
  private readonly events = new Events();
  private readonly pools = new Map<string, Pool>();
  /** @internal Read by {@link Attempt}. */
  readonly timers = new AttemptTimers();
  private readonly circuits: CircuitRegistry | undefined;
  private readonly budgets: RetryBudgets | undefined;
  private readonly retryPolicies = new Map<number, RetryPolicy>();
  private readonly backoffFactory: ExponentialBackoff<unknown>;
  private readonly breakerKeyOf: 'origin' | ((url: URL, method: string) => string) | undefined;
  private closed = false;
  /** @internal Spans and metrics, when an OpenTelemetry SDK is registered. */
  readonly telemetry: ClientTelemetry;

  constructor(private readonly options: ResolvedOptions) {
    this.circuits = options.breaker ? new CircuitRegistry(options.breaker, this.events) : undefined;
    const circuits = this.circuits;
    const budget = options.retry.budget;
    this.budgets = budget ? new RetryBudgets(budget, this.events) : undefined;
    const budgets = this.budgets;
    this.telemetry = new ClientTelemetry(
      () => circuits?.states() ?? [],
      () => budgets?.levels() ?? [],
      budgets?.scope ?? 'local',
    );
    // State changes are rare: counting them costs the healthy path nothing.
    if (circuits)
      this.events.on('circuit', (e) => this.telemetry.circuitChanged(e.key, e.from, e.to));
    this.breakerKeyOf = options.breaker ? (options.breaker.key ?? 'origin') : undefined;
    this.backoffFactory = new ExponentialBackoff({
      generator: decorrelatedJitterGenerator,
      initialDelay: options.retry.backoff.initialMs,
      maxDelay: options.retry.backoff.maxMs,
      exponent: options.retry.backoff.exponent,
    });
  }

  on<E extends ClientEventName>(event: E, listener: ClientListener<E>): () => void {
    return this.events.on(event, listener);
  }

  off<E extends ClientEventName>(event: E, listener: ClientListener<E>): void {
    this.events.off(event, listener);
  }

  request(req: RequestOptions): Promise<UnfazedResponse> {
    let call: Call;
    try {
      if (this.closed) throw new ClientClosedError();
      call = prepareCall(req, this.options, this.breakerKeyOf);
    } catch (error) {
      return Promise.reject(error);
    }
    // The first attempt needs no total-deadline signal: its timeout is already clamped to the
    // deadline and nothing waits before it. cockatiel's total-deadline and retry policies are
    // entered only when a retry is due, which spares the common call an AbortController.
    const outside = call.callerSignal ?? NEVER_ABORTED;
    if (outside.aborted) return Promise.reject(this.abortError(call, undefined));
    const circuit =
      call.breakerKey === undefined || !this.circuits
        ? undefined
        : this.circuits.get(call.breakerKey);
    if (circuit !== undefined && !circuit.closed)
      return this.metered(call, this.guardedRequest(call, outside));
    // The healthy path: the breaker is closed (or there is none), so the first attempt goes
    // straight to undici and its verdict is recorded afterwards, with no promise of ours
    // between undici's callback and the caller's but the one returned here.
    return new Promise<UnfazedResponse>((resolve, reject) => {
      const attempt = this.attemptOf(call, 1, outside);
      attempt.circuit = circuit;
      attempt.resolveCall = resolve;
      attempt.rejectCall = reject;
      this.dispatch(attempt);
    });
  }

  /** The outcome of the first attempt of `request()`: recorded on the breaker, then judged. */
  private firstDone(attempt: Attempt, outcome: Outcome): void {
    const circuit = attempt.circuit;
    if (circuit !== undefined) {
      if (!outcome.breakerFailure) circuit.succeeded();
      else {
        const recorded = circuit.failed(outcome);
        if (recorded !== undefined) {
          recorded.then(
            () => this.afterFirst(attempt, outcome),
            (error: unknown) => attempt.rejectCall?.(error),
          );
          return;
        }
      }
    }
    this.afterFirst(attempt, outcome);
  }

  /** Judges the first attempt of `request()`: its answer, its error, or the retries. */
  private afterFirst(attempt: Attempt, outcome: Outcome): void {
    const { call, resolveCall, rejectCall } = attempt;
    try {
      const first = this.judge(call, 0, outcome, call.deadline - call.totalMs);
      if (!first.retry || first.stop !== undefined) {
        const result = this.finish(call, first, attempt.totalSignal);
        if (result instanceof UnfazedResponse) this.telemetry.callEnded(call, 0, undefined);
        else void this.metered(call, result);
        resolveCall?.(result);
      } else resolveCall?.(this.metered(call, this.retries(call, first)));
    } catch (error) {
      this.telemetry.callEnded(call, Math.max(0, call.records.length - 1), error);
      rejectCall?.(error);
    }
  }

  /** `promise`, its settling counted in the call metrics when a meter provider is registered. */
  private metered<T>(call: Call, promise: Promise<T>): Promise<T> {
    if (this.telemetry.instruments() === undefined) return promise;
    promise.then(
      () => this.telemetry.callEnded(call, Math.max(0, call.records.length - 1), undefined),
      (error: unknown) =>
        this.telemetry.callEnded(call, Math.max(0, call.records.length - 1), error),
    );
    return promise;
  }

  /** `request()` when the breaker is not closed: every attempt goes through cockatiel's. */
  private async guardedRequest(call: Call, outside: AbortSignal): Promise<UnfazedResponse> {
    const started = call.deadline - call.totalMs;
    let outcome: Outcome;
    try {
      outcome = await this.send(call, 1, outside);
    } catch (error) {
      throw this.sendError(call, error, outside);
    }
    const first = this.judge(call, 0, outcome, started);
    if (!first.retry || first.stop !== undefined) return this.finish(call, first, outside);
    return this.retries(call, first);
  }

  /** The retry loop after a first attempt that asked for one, under the total deadline. */
  private retries(call: Call, first: Step): Promise<UnfazedResponse> {
    const left = Math.max(1, Math.ceil(call.deadline - performance.now()));
    return timeout(left, TIMEOUT_OPTIONS).execute(async ({ signal }) => {
      const step = await this.retryPolicy(call.maxRetries).execute(
        ({ attempt }) => (attempt === 0 ? first : this.step(call, attempt, signal)),
        signal,
      );
      return this.finish(call, step, signal);
    }, call.callerSignal);
  }

  async attempt(req: RequestOptions, options: AttemptOptions = {}): Promise<AttemptResult> {
    const signal = options.signal;
    let call: Call;
    try {
      if (this.closed) throw new ClientClosedError();
      const { timeout: _t, retry: _r, signal: _s, ...rest } = req;
      const ms = options.timeout === undefined ? undefined : Math.max(1, options.timeout);
      const own = signal !== undefined ? { ...rest, signal } : rest;
      // The attempt's limits go beside the request, which keeps its fast check; a duration the
      // rule would refuse goes through the rule, which words the error.
      call =
        ms === undefined || isDurationMs(ms)
          ? prepareCall(own, this.options, this.breakerKeyOf, { totalMs: ms })
          : prepareCall(
              { ...own, timeout: { total: ms }, retry: { maxRetries: 0 } },
              this.options,
              this.breakerKeyOf,
            );
    } catch (error) {
      return errorResult(error, false);
    }
    if (signal?.aborted) return { kind: 'aborted' };
    if (options.retry === true && this.budgets !== undefined) {
      const grant = this.budgets.get(call.origin).take();
      if (grant === false || (grant !== true && !(await grant))) {
        const refusal = this.budgets.refused(call.origin, call.info, 1);
        return { kind: 'retry-budget-exhausted', retryAt: refusal.retryAt };
      }
    }
    let outcome: Outcome;
    try {
      outcome = await this.send(call, 1, signal ?? NEVER_ABORTED);
    } catch (error) {
      if (signal?.aborted) return { kind: 'aborted' };
      if (error instanceof CircuitRefusal) {
        this.telemetry.notPermitted(error.key, error.circuitState);
        return { kind: 'circuit-open', nextProbeAt: error.nextProbeAt };
      }
      return errorResult(error, false);
    }
    if (outcome.kind === 'aborted') {
      if (signal?.aborted) return { kind: 'aborted' };
      // The attempt was clamped to the call's total timeout, which ran out.
      return errorResult(this.abortError(call, outcome.error), true);
    }
    if (outcome.kind === 'error')
      return errorResult(outcome.error, outcome.error instanceof AttemptTimeoutError, outcome.cls);
    // A queued retry that succeeds gives its token back: the budget throttles the retries of a
    // failing origin, not the draining of a backlog once it answers again (gRPC's throttling
    // likewise spends tokens on failures, not on retries that succeed).
    if (!outcome.cls.retryable) this.budgets?.earn(call.origin, options.retry === true ? 1 : 0);
    return this.answered(call, outcome, signal);
  }

  /** Reads a response of `attempt()` whole and classifies it, problem code included. */
  private async answered(
    call: Call,
    outcome: Extract<Outcome, { kind: 'response' }>,
    signal: AbortSignal | undefined,
  ): Promise<AttemptResult> {
    const { status, headers } = outcome;
    let body: string;
    try {
      if (Buffer.isBuffer(outcome.body)) body = outcome.body.toString('utf8');
      else {
        if (signal) followCallerSignal(outcome.body, call);
        body = await new UnfazedResponse(
          {
            status,
            headers,
            url: call.info.url,
            attempts: 1,
            idempotencyKey: call.info.idempotencyKey,
            notRetried: undefined,
          },
          outcome.body,
        ).text();
      }
    } catch (error) {
      if (signal?.aborted) return { kind: 'aborted' };
      return errorResult(error, false);
    }
    const classification = classifyAnswer(status, headers, body);
    return { kind: 'response', status, headers, body, classification };
  }

  circuit(urlOrOrigin: string | URL): CircuitStatus {
    if (!this.circuits) return { state: 'closed' };
    let url: URL;
    try {
      url =
        typeof urlOrOrigin === 'string' && urlOrOrigin.startsWith('/') && this.options.baseUrl
          ? joinPath(this.options.baseUrl, urlOrOrigin)
          : new URL(urlOrOrigin);
    } catch {
      // A status query never throws: a target that names no origin has no breaker, and a
      // request to it fails with its own clear error.
      return { state: 'closed' };
    }
    return this.circuits.status(this.circuits.keyOf(url, 'GET'));
  }

  describe(): ClientDescription {
    const { timeout: t, retry: r, breaker: b } = this.options;
    const n = r.maxRetries;
    return {
      baseUrl: this.options.baseUrl?.href,
      policyOrder: ['total-timeout', 'retry', 'circuit-breaker', 'attempt-timeout', 'undici'],
      timeout: { ...t },
      retry: {
        maxRetries: n,
        backoff: { ...r.backoff },
        budget: this.describeBudget(),
        jitter: 'decorrelated',
        retryAfter:
          'replaces the backoff; a Retry-After beyond the deadline stops the call (RetryAfterBeyondDeadlineError)',
        retriedStatuses: [408, 409, 425, 429, 500, 502, 503, 504],
        idempotentMethods: IDEMPOTENT_METHODS,
        keyedMethods: KEYED_METHODS,
      },
      breaker: b ? this.describeBreaker(b) : false,
      idempotency: { ...this.options.idempotency },
      dispatcher: this.options.dispatcher ? 'custom' : 'pool-per-origin',
      worstCase: {
        attempts: n + 1,
        latencyMs: t.total,
        latencyWithoutRetryAfterMs: Math.min(t.total, (n + 1) * t.attempt + n * r.backoff.maxMs),
      },
    };
  }

  private describeBreaker(
    b: Exclude<ResolvedOptions['breaker'], false>,
  ): Exclude<ClientDescription['breaker'], false> {
    const { key, shared: _shared, ...policy } = b;
    const fleet = this.circuits?.fleet;
    return {
      ...policy,
      key: key ? 'custom' : 'origin',
      shared: fleet
        ? {
            prefix: fleet.shared.prefix,
            channel: fleet.channel,
            instance: fleet.id,
            connected: fleet.connected,
          }
        : false,
    };
  }

  private describeBudget(): ClientDescription['retry']['budget'] {
    const budgets = this.budgets;
    if (budgets === undefined) return false;
    const { maxTokens, tokenRatio, refillPerSecond, shared } = budgets.config;
    return {
      maxTokens,
      tokenRatio,
      refillPerSecond,
      retryCost: 1,
      scope: budgets.scope,
      ...(shared ? { prefix: shared.prefix, syncMs: shared.syncMs } : {}),
      tokens: Object.fromEntries(budgets.levels()),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.telemetry.close();
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([
      ...pools.map((pool) => pool.close()),
      this.circuits?.close(),
      this.budgets?.close(),
    ]);
  }

  private retryPolicy(maxRetries: number): RetryPolicy {
    let policy = this.retryPolicies.get(maxRetries);
    if (!policy) {
      // cockatiel runs the loop and counts retries (its `maxAttempts` counts retries, not
      // calls); its own sleep cannot be cancelled, so it gets 0 and `step` waits abortably.
      policy = retry(
        handleWhenResult((step) => (step as Step).retry),
        { maxAttempts: maxRetries, backoff: new ConstantBackoff(0) },
      );
      this.retryPolicies.set(maxRetries, policy);
    }
    return policy;
  }

  /** One pass of the retry loop: the abortable backoff wait, then one attempt through the breaker. */
  private async step(call: Call, attemptIndex: number, totalSignal: AbortSignal): Promise<Step> {
    if (attemptIndex > 0 && call.pendingDelay > 0) {
      try {
        await abortableSleep(call.pendingDelay, totalSignal);
      } catch {
        throw this.abortError(call, undefined);
      }
    }
    if (totalSignal.aborted) throw this.abortError(call, undefined);
    const grant = call.pendingGrant;
    if (grant !== undefined) {
      call.pendingGrant = undefined;
      if (!(await grant)) {
        const last = call.records[call.records.length - 1];
        throw this.budgetError(call, attemptIndex, last?.status, undefined);
      }
    }
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome = await this.send(call, attemptIndex + 1, totalSignal);
    } catch (error) {
      throw this.sendError(call, error, totalSignal);
    }
    return this.judge(call, attemptIndex, outcome, started);
  }

  /** One attempt through the breaker (when there is one); refusals reject with CircuitRefusal. */
  private send(call: Call, n: number, totalSignal: AbortSignal): Promise<Outcome> {
    if (call.breakerKey === undefined || !this.circuits)
      return this.onTheWire(call, n, totalSignal);
    return this.circuits
      .get(call.breakerKey)
      .run(() => this.onTheWire(call, n, totalSignal), totalSignal, call.attemptMs);
  }

  /** The error a call ends with when send() rejected. */
  private sendError(call: Call, error: unknown, totalSignal: AbortSignal): unknown {
    if (totalSignal.aborted) return this.abortError(call, undefined);
    if (error instanceof CircuitRefusal) {
      this.telemetry.notPermitted(error.key, error.circuitState);
      return new CircuitOpenError(call.info, error.key, error.nextProbeAt, error.circuitState, [
        ...call.records,
      ]);
    }
    return error;
  }

  /**
   * Records an attempt and decides what comes next: the answer, a stop, or a retry after a
   * delay (set on the call). Throws the errors that end the call at once.
   */
  private judge(call: Call, attemptIndex: number, outcome: Outcome, started: number): Step {
    const n = attemptIndex + 1;
    const record = this.record(call, n, outcome, performance.now() - started);

    if (outcome.kind === 'aborted') throw this.abortError(call, outcome.error);
    if (!outcome.cls.retryable) {
      if (outcome.kind === 'response') this.budgets?.earn(call.origin);
      return { outcome, retry: false, stop: undefined };
    }
    const blocked = !call.body.replayable
      ? 'one-shot-body'
      : call.safeToResend || outcome.cls.requestSent === 'no'
        ? undefined
        : 'idempotency-key-missing';
    if (blocked) return { outcome, retry: false, stop: blocked };
    if (attemptIndex >= call.maxRetries) return { outcome, retry: true, stop: 'max-retries' };

    const remaining = call.deadline - performance.now();
    let delay: number;
    let reason: DelayReason;
    if (outcome.kind === 'response' && outcome.retryAfterMs !== undefined) {
      if (outcome.retryAfterMs >= remaining) {
        discardBody(outcome.body);
        throw new RetryAfterBeyondDeadlineError(
          call.info,
          outcome.status,
          outcome.retryAfterMs,
          remaining,
          [...call.records],
        );
      }
      delay = outcome.retryAfterMs;
      reason = 'retry-after';
    } else {
      call.backoff = call.backoff ? call.backoff.next(undefined) : this.backoffFactory.next();
      delay = call.backoff.duration;
      reason = 'backoff';
    }
    const circuit =
      call.breakerKey === undefined ? undefined : this.circuits?.status(call.breakerKey);
    if (circuit?.state === 'open' && circuit.nextProbeAt !== undefined) {
      // Waiting less would only meet the open circuit; wait for the probe slot instead.
      const untilProbe = circuit.nextProbeAt - Date.now() + 1;
      // A break opened by this very Retry-After ends with it: keep calling it a retry-after.
      if (untilProbe > delay + 5) reason = 'circuit-open';
      delay = Math.max(delay, untilProbe);
    }
    if (delay >= remaining) {
      if (outcome.kind === 'response') discardBody(outcome.body);
      if (reason === 'circuit-open' && circuit?.nextProbeAt !== undefined) {
        throw new CircuitOpenError(call.info, call.breakerKey ?? '', circuit.nextProbeAt, 'open', [
          ...call.records,
        ]);
      }
      throw new TotalTimeoutError(
        call.info,
        call.totalMs,
        'backoff-beyond-deadline',
        [...call.records],
        outcome.kind === 'error' ? outcome.error : undefined,
      );
    }
    if (this.budgets !== undefined) {
      const grant = this.budgets.get(call.origin).take();
      if (grant === false) {
        if (outcome.kind === 'response') discardBody(outcome.body);
        throw this.budgetError(
          call,
          n,
          outcome.kind === 'response' ? outcome.status : undefined,
          outcome.kind === 'error' ? outcome.error : undefined,
        );
      }
      // A fleet bucket's share was spent: its top-up is awaited after the wait, in step().
      if (grant !== true) call.pendingGrant = grant;
    }
    record.delayMs = Math.round(delay);
    record.delayReason = reason;
    this.telemetry.retryScheduled(call, delay, reason);
    if (outcome.kind === 'response') discardBody(outcome.body);
    if (this.events.has('retry')) {
      this.events.emit('retry', {
        ...call.info,
        nextAttempt: n + 1,
        delayMs: delay,
        delayReason: reason,
        cause: outcome.cls.reason,
      });
    }
    call.pendingDelay = delay;
    return { outcome, retry: true, stop: undefined };
  }

  /** The error of a call whose retry after attempt `n` the budget refused. */
  private budgetError(
    call: Call,
    n: number,
    status: number | undefined,
    cause: unknown,
  ): RetryBudgetExhaustedError {
    const refusal = (this.budgets as RetryBudgets).refused(call.origin, call.info, n);
    return new RetryBudgetExhaustedError(call.info, refusal, [...call.records], status, cause);
  }

  /** One attempt on the wire. Never rejects: every ending is an outcome the breaker can judge. */
  private onTheWire(call: Call, n: number, totalSignal: AbortSignal): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const attempt = this.attemptOf(call, n, totalSignal);
      attempt.resolveOutcome = resolve;
      this.dispatch(attempt);
    });
  }

  /** A new attempt of `call`, its timer started. */
  private attemptOf(call: Call, n: number, totalSignal: AbortSignal): Attempt {
    const started = performance.now();
    // The attempt is not linked to the total deadline's signal (each link costs an
    // AbortSignal listener): its timeout is clamped to what is left of the deadline, which
    // ends it at the same moment. The timer doubles as undici's abort signal.
    const left = call.deadline - started;
    const clampedToDeadline = left < call.attemptMs;
    return new Attempt(
      this,
      call,
      n,
      totalSignal,
      started,
      clampedToDeadline,
      clampedToDeadline ? Math.max(1, Math.ceil(left)) : call.attemptMs,
      this.timers,
    );
  }

  /**
   * Sends an attempt; its outcome goes to {@link end}, once. Never throws. An answer is judged
   * inside undici's callback, and the attempt object is that callback's `opaque` and undici's
   * abort signal: the common call costs no closure and no promise here (a problem body to
   * read, a body factory and a user-supplied dispatcher take their own).
   */
  private dispatch(attempt: Attempt): void {
    const call = attempt.call;
    if (this.events.has('attempt-start'))
      this.events.emit('attempt-start', { ...call.info, attempt: attempt.n });
    const traced = this.telemetry.startAttempt(call, attempt.n);
    if (traced !== undefined) {
      attempt.span = traced.span;
      attempt.headers = traced.headers;
    }
    try {
      if (attempt.aborted) throw call.callerSignal?.reason;
      const pending = call.body.forAttempt();
      // Only a body factory is async: a buffered body costs no extra turn.
      if (pending instanceof Promise) {
        pending.then(
          (body) => this.transmit(attempt, body),
          (error: unknown) => this.fail(attempt, error),
        );
      } else this.transmit(attempt, pending);
    } catch (error) {
      this.fail(attempt, error);
    }
  }

  private transmit(attempt: Attempt, body: WireBody): void {
    const call = attempt.call;
    try {
      const options: Dispatcher.RequestOptions<Attempt> = {
        origin: call.origin,
        path: call.path,
        method: call.method,
        headers: attempt.headers ?? call.headers,
        body,
        signal: attempt,
        opaque: attempt,
      };
      const custom = this.options.dispatcher;
      if (custom) {
        // As `await` did: a dispatcher whose request() returns a plain value works too.
        Promise.resolve(custom.request(options)).then(
          (res) => this.onResponse(attempt, res),
          (error: unknown) => this.fail(attempt, error),
        );
      } else {
        // The client's own pool takes undici's callback form: no promise per attempt.
        this.poolFor(call.origin).request(options, ResilientClient.onAnswer);
      }
    } catch (error) {
      this.fail(attempt, error);
    }
  }

  /** undici's callback, shared by every attempt: the attempt comes back as `opaque`. */
  private static onAnswer(
    error: Error | null,
    data: Dispatcher.ResponseData<Attempt> | { opaque: Attempt },
  ): void {
    const attempt = data.opaque;
    if (error) attempt.client.fail(attempt, error);
    else attempt.client.onResponse(attempt, data as Dispatcher.ResponseData<Attempt>);
  }

  private onResponse(attempt: Attempt, res: Dispatcher.ResponseData<Attempt>): void {
    try {
      const status = res.statusCode;
      if (PROBLEM_STATUSES.has(status) && isProblem(res.headers['content-type'])) {
        readBounded(res.body, MAX_PROBLEM_BYTES).then(
          (read) => {
            const code = read.overflow ? undefined : problemCodeOf(read.head.toString('utf8'));
            this.end(attempt, answer(res, read.overflow ?? read.head, code));
          },
          (error: unknown) => this.fail(attempt, error),
        );
        return;
      }
      this.end(attempt, answer(res, res.body, undefined));
    } catch (error) {
      this.fail(attempt, error);
    }
  }

  private fail(attempt: Attempt, error: unknown): void {
    this.end(attempt, this.failure(attempt, error));
  }

  /** An attempt ended: stops its timer, reports it, and hands its outcome on. */
  private end(attempt: Attempt, outcome: Outcome): void {
    if (attempt.settled) return;
    attempt.settled = true;
    attempt.clear();
    if (this.events.has('attempt-end')) this.emitAttemptEnd(attempt, outcome);
    if (attempt.span !== undefined || this.telemetry.instruments() !== undefined) {
      const duration = performance.now() - attempt.started;
      this.telemetry.attemptEnded(attempt.call, attempt.span, endingOf(outcome), duration);
    }
    if (attempt.resolveOutcome) attempt.resolveOutcome(outcome);
    else this.firstDone(attempt, outcome);
  }

  /** The outcome of an attempt that got no answer (or whose answer could not be read). */
  private failure(attempt: Attempt, error: unknown): Outcome {
    const { call, n, totalSignal } = attempt;
    if (
      totalSignal.aborted ||
      call.callerSignal?.aborted === true ||
      (attempt.clampedToDeadline && attempt.aborted)
    ) {
      // An aborted probe proves nothing: count it as a failure so that cockatiel does not
      // close the circuit on it (it closes on any unhandled error while half-open).
      const probing =
        call.breakerKey !== undefined &&
        this.circuits?.status(call.breakerKey).state === 'half-open';
      return { kind: 'aborted', error, breakerFailure: probing, forceOpenMs: undefined };
    }
    if (attempt.aborted) {
      const timeoutError = new AttemptTimeoutError(call.info, call.attemptMs, n);
      this.emitTimeout(call, 'attempt', call.attemptMs, n);
      return {
        kind: 'error',
        error: timeoutError,
        cls: {
          kind: 'transient',
          retryable: true,
          reason: AttemptTimeoutError.code,
          requestSent: 'maybe',
        },
        breakerFailure: true,
        forceOpenMs: undefined,
      };
    }
    const cls = classifyError(error);
    return { kind: 'error', error, cls, breakerFailure: cls.retryable, forceOpenMs: undefined };
  }

  private emitAttemptEnd(attempt: Attempt, outcome: Outcome): void {
    this.events.emit('attempt-end', {
      ...attempt.call.info,
      attempt: attempt.n,
      durationMs: performance.now() - attempt.started,
      outcome: outcome.kind === 'aborted' ? 'aborted' : outcome.cls.kind,
      reason: outcome.kind === 'aborted' ? 'aborted' : outcome.cls.reason,
      ...(outcome.kind === 'response' ? { status: outcome.status } : { error: outcome.error }),
    });
  }

  /**
   * The answer of a call, or the error it ends with. Synchronous unless the last transient
   * answer must be quoted in a RetriesExhaustedError: an `async` layer here would cost every
   * call extra microtask turns.
   */
  private finish(
    call: Call,
    step: Step,
    totalSignal: AbortSignal,
  ): UnfazedResponse | Promise<never> {
    const { outcome, stop } = step;
    if (totalSignal.aborted) {
      if (outcome.kind === 'response') discardBody(outcome.body);
      throw this.abortError(call, undefined);
    }
    if (outcome.kind === 'aborted') throw this.abortError(call, outcome.error);
    if (stop === 'max-retries' || (stop !== undefined && outcome.kind === 'error')) {
      return this.exhausted(call, outcome, stop);
    }
    if (outcome.kind === 'error') throw outcome.error;
    const response = new UnfazedResponse(
      {
        status: outcome.status,
        headers: outcome.headers,
        url: call.info.url,
        attempts: call.records.length,
        idempotencyKey: call.info.idempotencyKey,
        notRetried:
          stop === undefined
            ? undefined
            : {
                reason: stop,
                message:
                  stop === 'one-shot-body'
                    ? `${outcome.cls.reason} was not retried: the request body was a one-shot stream`
                    : `${outcome.cls.reason} was not retried: ${call.info.method} without an Idempotency-Key is not safe to resend`,
              },
      },
      outcome.body,
    );
    if (call.callerSignal && !Buffer.isBuffer(outcome.body)) followCallerSignal(outcome.body, call);
    return response;
  }

  private async exhausted(call: Call, outcome: Outcome, stop: StopReason): Promise<never> {
    const last =
      outcome.kind === 'response' ? await lastResponse(outcome, call.deadline) : undefined;
    throw new RetriesExhaustedError(
      call.info,
      stop,
      [...call.records],
      last,
      outcome.kind === 'error' ? outcome.error : undefined,
    );
  }

  private record(call: Call, n: number, outcome: Outcome, durationMs: number): MutableRecord {
    const record: MutableRecord = {
      attempt: n,
      outcome: outcome.kind === 'aborted' ? 'aborted' : outcome.cls.reason,
      durationMs: Math.round(durationMs),
    };
    if (outcome.kind === 'response') {
      record.status = outcome.status;
      if (outcome.retryAfterMs !== undefined) record.retryAfterMs = outcome.retryAfterMs;
    } else {
      record.error =
        errorCodeOf(outcome.error) ?? (outcome.error as Error | undefined)?.name ?? 'unknown';
    }
    call.records.push(record);
    return record;
  }

  /** Emits a `timeout` event when someone listens. */
  private emitTimeout(
    call: Call,
    kind: 'attempt' | 'total',
    timeoutMs: number,
    attempt: number,
  ): void {
    if (!this.events.has('timeout')) return;
    this.events.emit('timeout', {
      method: call.info.method,
      url: call.info.url,
      kind,
      timeoutMs,
      attempt,
    });
  }

  private abortError(call: Call, cause: unknown): AbortedError | TotalTimeoutError {
    const records = [...call.records];
    if (call.callerSignal?.aborted)
      return new AbortedError(call.info, records, call.callerSignal.reason);
    this.emitTimeout(call, 'total', call.totalMs, records.length);
    return new TotalTimeoutError(call.info, call.totalMs, 'elapsed', records, cause);
  }

  private poolFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      if (this.closed) throw new ClientClosedError();
      pool = new Pool(origin, this.options.pool);
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

/**
 * One attempt in flight: its timer (which is undici's abort signal for it), the call it belongs
 * to, and who waits for its outcome: the first attempt of `request()` resolves the call itself;
 * any other resolves `resolveOutcome`.
 */
class Attempt extends AttemptTimer {
  settled = false;
  /** The closed breaker the first attempt of `request()` records its verdict on. */
  circuit: Circuit | undefined = undefined;
  resolveCall: ((response: UnfazedResponse | Promise<UnfazedResponse>) => void) | undefined =
    undefined;
  rejectCall: ((error: unknown) => void) | undefined = undefined;
  resolveOutcome: ((outcome: Outcome) => void) | undefined = undefined;
  /** The attempt's CLIENT span, when a tracer provider is registered. */
  span: Span | undefined = undefined;
  /** The call's headers plus the trace context, when the attempt has a span. */
  headers: Record<string, string | string[]> | undefined = undefined;

  constructor(
    readonly client: ResilientClient,
    readonly call: Call,
    /** 1-based. */
    readonly n: number,
    readonly totalSignal: AbortSignal,
    /** `performance.now()` at the start. */
    readonly started: number,
    /** True when the attempt timeout was cut to what was left of the total deadline. */
    readonly clampedToDeadline: boolean,
    ms: number,
    timers: AttemptTimers,
  ) {
    super(ms, call.callerSignal, timers, started);
  }
}

/** How an attempt ended, as its span and metrics say it. */
function endingOf(outcome: Outcome): AttemptEnding {
  if (outcome.kind === 'response') {
    const status = outcome.status;
    return {
      status,
      errorType: status >= 400 ? String(status) : undefined,
      outcome: outcome.cls.kind,
    };
  }
  return {
    status: undefined,
    errorType: outcome.error === undefined ? 'aborted' : errorTypeOf(outcome.error),
    outcome: outcome.kind === 'aborted' ? 'aborted' : outcome.cls.kind,
  };
}

/** The outcome of an answer (its body, or what was read of it, in `payload`). */
function answer(
  res: Dispatcher.ResponseData<unknown>,
  payload: Readable | Buffer,
  problemCode: string | undefined,
): Outcome {
  const status = res.statusCode;
  const cls = problemCode === undefined ? classOf(status) : classifyStatus(status, problemCode);
  const retryAfterMs = cls.retryable ? parseRetryAfter(res.headers[HEADERS.retryAfter]) : undefined;
  return {
    kind: 'response',
    status,
    headers: res.headers,
    body: payload,
    cls,
    retryAfterMs,
    breakerFailure: cls.kind === 'transient',
    forceOpenMs:
      (status === 429 || status === 503) && retryAfterMs !== undefined && retryAfterMs > 0
        ? retryAfterMs
        : undefined,
  };
}

/** The contract's verdicts on statuses without a problem code, made once per status. */
const statusClasses = new Map<number, Classification>();

function classOf(status: number): Classification {
  let cls = statusClasses.get(status);
  if (!cls) statusClasses.set(status, (cls = Object.freeze(classifyStatus(status))));
  return cls;
}

/** The `error` result of `attempt()`: classified by the contract unless `cls` is given. */
function errorResult(error: unknown, timedOut: boolean, cls?: Classification): AttemptResult {
  return {
    kind: 'error',
    classification: timedOut
      ? { kind: 'transient', retryable: true, reason: 'timeout', requestSent: 'maybe' }
      : (cls ?? classifyError(error)),
    message: error instanceof Error ? error.message : String(error),
    timedOut,
  };
}

/** A caller's abort after `request()` returned still stops a body being read, as with fetch. */
function followCallerSignal(body: Readable, call: Call): void {
  const signal = call.callerSignal;
  if (!signal) return;
  const onAbort = (): void => {
    body.destroy(new AbortedError(call.info, [...call.records], signal.reason));
  };
  if (signal.aborted) return onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  body.once('close', () => signal.removeEventListener('abort', onAbort));
}
