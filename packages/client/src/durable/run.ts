import type { ResolvedBackoff, DurableBackoffOptions } from './backoff.js';
import type { DurableClient, DurableRequest } from './client-port.js';
import type { DurableEvents } from './events.js';
import type { ResolvedStep } from './saga-definition.js';
import type {
  DurableStore,
  GiveUpFailure,
  OperationFailure,
  OperationRecord,
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
  /** The hooks of an `operation()` (a saga has none: its steps have compensations). */
  readonly def: Pick<OperationDefinition<unknown>, 'onSuccess' | 'onGiveUp'>;
  /**
   * What it runs, in order: an `operation()` is a saga of one request step (keyed by the
   * operation id), a saga its steps (each keyed `<id>:<step>`).
   */
  readonly steps: readonly ResolvedStep[];
  /** Set on a saga (`durable.saga`). */
  readonly saga?: { readonly stuckAfter: number };
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
  | { readonly kind: 'failed' | 'dead' | 'compensated'; readonly record: OperationRecord }
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
   * its reply (a worker claims the next operation in the same batched write), for a retry or
   * release with the earliest its due time can be by this process's clock (`earliest`, counted
   * from the send); and for those again once the store answered, with the latest (`dueAt`,
   * counted from the reply: the store ran the write in between). The worker wakes up at the
   * earliest, and at the latest only if it has not claimed the operation again by then.
   */
  readonly onSettling?: (dueAt?: number, earliest?: number) => void;
  /**
   * The lease was taken over from a holder that died or stalled: it may have sent an attempt
   * whose outcome nobody learnt, so the effect is unknown from here on.
   */
  readonly takeover?: boolean;
}

/**
 * @internal The failure of a failed or dead record, with its outcome: a record written before
 * outcomes were recorded (or missing its error) counts as `unknown`, the safe side.
 */
export function giveUpFailure(failure: OperationFailure | undefined): GiveUpFailure {
  const f = failure ?? { code: 'unknown', message: 'unknown failure' };
  return { ...f, outcome: f.outcome ?? 'unknown' };
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
