import { UnfazedError, errorGuard } from '@unfazed/contract';

/** Why the client waited before an attempt. */
export type DelayReason = 'backoff' | 'retry-after' | 'circuit-open';

/** What happened in one attempt, as kept in error summaries and events. */
export interface AttemptRecord {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The HTTP status, when the attempt got an answer. */
  readonly status?: number;
  /** The error code (e.g. `ECONNRESET`, `UNFAZED_ERR_ATTEMPT_TIMEOUT`), when it got none. */
  readonly error?: string;
  /** The contract's verdict, e.g. `status 503`, `ECONNRESET`, `status 409 request-in-flight`. */
  readonly outcome: string;
  /** How long the attempt took, in ms. */
  readonly durationMs: number;
  /** The server's `Retry-After`, in ms, when it sent one. */
  readonly retryAfterMs?: number;
  /** The wait chosen before the next attempt, in ms, when there was one. */
  readonly delayMs?: number;
  /** Why that wait was chosen. */
  readonly delayReason?: DelayReason;
}

/** Method, URL and key of the call an error belongs to. */
export interface CallInfo {
  readonly method: string;
  readonly url: string;
  readonly idempotencyKey: string | undefined;
}

/** Why the client stopped retrying a call that failed transiently. */
export type StopReason =
  /** `retry.maxRetries` retries were spent. */
  | 'max-retries'
  /** A POST or PATCH (or another non-idempotent method) without an Idempotency-Key may have reached the server. */
  | 'idempotency-key-missing'
  /** The request body was a one-shot stream: it cannot be sent again. */
  | 'one-shot-body';

/** The last answer of a call that ended in {@link RetriesExhaustedError}. */
export interface LastResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The start of the body as text (at most 64 KiB), e.g. a problem+json document. */
  readonly body: string;
}

const at = (call: CallInfo): string => `${call.method} ${call.url}`;

/**
 * The circuit for this origin (or breaker key) is open: the call failed at once, without
 * opening a socket. `nextProbeAt` says when a probe call will be let through.
 */
export class CircuitOpenError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_CIRCUIT_OPEN';
  /** The breaker key, by default the origin. */
  readonly key: string;
  /** Epoch ms from which a probe is let through (an estimate while a probe is running). */
  readonly nextProbeAt: number;
  /** `open`: waiting for the break to end; `half-open`: probes are running and all slots are taken. */
  readonly circuitState: 'open' | 'half-open';
  /** Attempts made by this call before the circuit refused it. */
  readonly attempts: readonly AttemptRecord[];

  constructor(
    call: CallInfo,
    key: string,
    nextProbeAt: number,
    circuitState: 'open' | 'half-open',
    attempts: readonly AttemptRecord[],
  ) {
    const wait = Math.max(0, nextProbeAt - Date.now());
    super(
      CircuitOpenError.code,
      circuitState === 'open'
        ? `${at(call)}: circuit "${key}" is open; next probe allowed in ${wait} ms`
        : `${at(call)}: circuit "${key}" is half-open and its probe slots are taken; retry in ${wait} ms`,
    );
    this.key = key;
    this.nextProbeAt = nextProbeAt;
    this.circuitState = circuitState;
    this.attempts = attempts;
  }
}

/** Guard for {@link CircuitOpenError}. */
export const isCircuitOpenError = errorGuard<CircuitOpenError>(CircuitOpenError.code);

/**
 * One attempt took longer than `timeout.attempt`. Transient: it is retried when the request may
 * be retried, and appears as the `cause` of {@link RetriesExhaustedError} otherwise.
 */
export class AttemptTimeoutError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_ATTEMPT_TIMEOUT';
  /** The attempt timeout, in ms. */
  readonly timeoutMs: number;
  /** 1-based attempt number. */
  readonly attempt: number;

  constructor(call: CallInfo, timeoutMs: number, attempt: number) {
    super(
      AttemptTimeoutError.code,
      `${at(call)}: attempt ${attempt} timed out after ${timeoutMs} ms`,
    );
    this.timeoutMs = timeoutMs;
    this.attempt = attempt;
  }
}

/** Guard for {@link AttemptTimeoutError}. */
export const isAttemptTimeoutError = errorGuard<AttemptTimeoutError>(AttemptTimeoutError.code);

/**
 * The call's total deadline (`timeout.total`) passed, or the next retry could only start after it
 * (`reason: 'backoff-beyond-deadline'`: the client stopped at once instead of waiting in vain).
 */
export class TotalTimeoutError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_TOTAL_TIMEOUT';
  /** The total deadline, in ms. */
  readonly timeoutMs: number;
  /** `elapsed`: the deadline passed; `backoff-beyond-deadline`: the next wait would pass it. */
  readonly reason: 'elapsed' | 'backoff-beyond-deadline';
  /** Every attempt made. */
  readonly attempts: readonly AttemptRecord[];

  constructor(
    call: CallInfo,
    timeoutMs: number,
    reason: 'elapsed' | 'backoff-beyond-deadline',
    attempts: readonly AttemptRecord[],
    cause?: unknown,
  ) {
    super(
      TotalTimeoutError.code,
      reason === 'elapsed'
        ? `${at(call)}: total deadline of ${timeoutMs} ms passed after ${attempts.length} attempt(s)`
        : `${at(call)}: the next retry would start after the total deadline of ${timeoutMs} ms (${attempts.length} attempt(s) made)`,
      cause === undefined ? {} : { cause },
    );
    this.timeoutMs = timeoutMs;
    this.reason = reason;
    this.attempts = attempts;
  }
}

/** Guard for {@link TotalTimeoutError}. */
export const isTotalTimeoutError = errorGuard<TotalTimeoutError>(TotalTimeoutError.code);

/**
 * The call ended on a transient failure and the client could not try again: the retry budget is
 * spent, or the request was not safe to resend (`stopReason`). `attempts` summarises every
 * attempt (status or error code, duration, the wait chosen and why); `cause` is the last error
 * and `lastResponse` the last answer, whichever the last attempt produced.
 */
export class RetriesExhaustedError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_RETRIES_EXHAUSTED';
  /** Every attempt made. */
  readonly attempts: readonly AttemptRecord[];
  /** Why no further attempt was made. */
  readonly stopReason: StopReason;
  /** The last answer, when the last attempt got one. */
  readonly lastResponse: LastResponse | undefined;

  constructor(
    call: CallInfo,
    stopReason: StopReason,
    attempts: readonly AttemptRecord[],
    lastResponse: LastResponse | undefined,
    cause?: unknown,
  ) {
    const last = attempts[attempts.length - 1];
    super(
      RetriesExhaustedError.code,
      `${at(call)}: failed after ${attempts.length} attempt(s), last: ${last?.outcome ?? 'none'}; ${STOP_MESSAGES[stopReason]}`,
      cause === undefined ? {} : { cause },
    );
    this.attempts = attempts;
    this.stopReason = stopReason;
    this.lastResponse = lastResponse;
  }
}

const STOP_MESSAGES: Record<StopReason, string> = {
  'max-retries': 'no retries left',
  'idempotency-key-missing':
    'not retried: the request may have reached the server and its method is not idempotent without an Idempotency-Key',
  'one-shot-body': 'not retried: the request body was a one-shot stream that cannot be sent again',
};

/** Guard for {@link RetriesExhaustedError}. */
export const isRetriesExhaustedError = errorGuard<RetriesExhaustedError>(
  RetriesExhaustedError.code,
);

/** The caller's `AbortSignal` aborted the call (running attempt or backoff wait). `cause` is the signal's reason. */
export class AbortedError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_ABORTED';
  /** Attempts made before the abort. */
  readonly attempts: readonly AttemptRecord[];

  constructor(call: CallInfo, attempts: readonly AttemptRecord[], cause?: unknown) {
    super(
      AbortedError.code,
      `${at(call)}: aborted by the caller after ${attempts.length} attempt(s)`,
      cause === undefined ? {} : { cause },
    );
    this.attempts = attempts;
  }
}

/** Guard for {@link AbortedError}. */
export const isAbortedError = errorGuard<AbortedError>(AbortedError.code);

/**
 * The server asked to retry later (`Retry-After`) than the call's deadline allows; the client
 * stopped at once. `retryAfterMs` is the hint, for a caller (or the durable queue) that can wait.
 */
export class RetryAfterBeyondDeadlineError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_RETRY_AFTER_BEYOND_DEADLINE';
  /** The server's `Retry-After`, in ms from when the answer arrived. */
  readonly retryAfterMs: number;
  /** Epoch ms the server asked to wait until. */
  readonly retryAt: number;
  /** What was left of the total deadline, in ms. */
  readonly remainingMs: number;
  /** Status of the answer that carried the hint. */
  readonly status: number;
  /** Every attempt made. */
  readonly attempts: readonly AttemptRecord[];

  constructor(
    call: CallInfo,
    status: number,
    retryAfterMs: number,
    remainingMs: number,
    attempts: readonly AttemptRecord[],
  ) {
    super(
      RetryAfterBeyondDeadlineError.code,
      `${at(call)}: status ${status} asks to retry in ${retryAfterMs} ms, beyond the ${Math.max(0, Math.round(remainingMs))} ms left before the deadline`,
    );
    this.retryAfterMs = retryAfterMs;
    this.retryAt = Date.now() + retryAfterMs;
    this.remainingMs = remainingMs;
    this.status = status;
    this.attempts = attempts;
  }
}

/** Guard for {@link RetryAfterBeyondDeadlineError}. */
export const isRetryAfterBeyondDeadlineError = errorGuard<RetryAfterBeyondDeadlineError>(
  RetryAfterBeyondDeadlineError.code,
);

/**
 * A retry was due but the origin's retry budget had no token left (too many calls to it are
 * retrying, here or, with a shared budget, across the fleet): the client stopped at once.
 * `cause` is the last error, `status` the last answer's status, whichever ended the last attempt.
 */
export class RetryBudgetExhaustedError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_RETRY_BUDGET_EXHAUSTED';
  /** The origin whose budget is spent. */
  readonly key: string;
  /** Tokens left (below 1). */
  readonly tokens: number;
  /** Epoch ms by which a token should be back. */
  readonly retryAt: number;
  /** `local`: this client's bucket; `fleet`: the bucket shared in Redis. */
  readonly scope: 'local' | 'fleet';
  /** The last answer's status, when the last attempt got one. */
  readonly status: number | undefined;
  /** Every attempt made. */
  readonly attempts: readonly AttemptRecord[];

  constructor(
    call: CallInfo,
    budget: { key: string; tokens: number; retryAt: number; scope: 'local' | 'fleet' },
    attempts: readonly AttemptRecord[],
    status: number | undefined,
    cause?: unknown,
  ) {
    const last = attempts[attempts.length - 1];
    super(
      RetryBudgetExhaustedError.code,
      `${at(call)}: not retried after ${attempts.length} attempt(s), last: ${last?.outcome ?? 'none'}; the ${budget.scope} retry budget of ${budget.key} is exhausted (${budget.tokens.toFixed(2)} tokens)`,
      cause === undefined ? {} : { cause },
    );
    this.key = budget.key;
    this.tokens = budget.tokens;
    this.retryAt = budget.retryAt;
    this.scope = budget.scope;
    this.status = status;
    this.attempts = attempts;
  }
}

/** Guard for {@link RetryBudgetExhaustedError}. */
export const isRetryBudgetExhaustedError = errorGuard<RetryBudgetExhaustedError>(
  RetryBudgetExhaustedError.code,
);

/** `request()` was called after `close()`. */
export class ClientClosedError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_CLIENT_CLOSED';

  constructor() {
    super(ClientClosedError.code, 'the client is closed');
  }
}

/** Guard for {@link ClientClosedError}. */
export const isClientClosedError = errorGuard<ClientClosedError>(ClientClosedError.code);
