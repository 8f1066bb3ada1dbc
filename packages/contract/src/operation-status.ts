/**
 * The public state of a durable operation, as a status resource serves it (`GET /operations/:id`)
 * and as the `202 Accepted` body describes it. Both the durable queue (@unfazed/client) and the
 * status helpers (@unfazed/server) speak this shape.
 */

/** Every state a durable operation can be in. */
export const OPERATION_STATES = [
  'pending',
  'running',
  'completed',
  'failed',
  'dead',
  'compensating',
  'compensated',
] as const;

/**
 * - `pending`: persisted, waiting for its next attempt (or for a hook, or a saga's next step);
 * - `running`: a worker holds its lease and is attempting it (or running its hook or step);
 * - `completed`: the downstream accepted it and `onSuccess` ran (a saga: every step completed);
 * - `failed`: the downstream gave a final answer (e.g. a 4xx) and `onGiveUp` ran;
 * - `dead`: its deadline passed (or its attempts ran out) and `onGiveUp` ran;
 * - `compensating`: a saga gave up and is undoing its steps in reverse (retried until each undo
 *   succeeds; `stuck` when one keeps failing);
 * - `compensated`: a saga gave up and every step that needed it was compensated.
 */
export type OperationState = (typeof OPERATION_STATES)[number];

/** States after which nothing happens unless an operator redrives the operation. */
export const TERMINAL_OPERATION_STATES: ReadonlySet<OperationState> = new Set([
  'completed',
  'failed',
  'dead',
  'compensated',
]);

/** True when `state` is `completed`, `failed`, `dead` or `compensated`. */
export function isTerminalOperationState(state: OperationState): boolean {
  return TERMINAL_OPERATION_STATES.has(state);
}

/** What went wrong last, without internals. */
export interface OperationError {
  /** Stable code: an HTTP status as `status 503`, a network code such as `ECONNRESET`, or `deadline`. */
  readonly code: string;
  /** Human-readable detail. */
  readonly message: string;
  /** The downstream's HTTP status, when it answered. */
  readonly status?: number;
  /**
   * On a `failed` or `dead` operation: `failed` when the effect is known not to have happened
   * (a final answer, or nothing ever reached the downstream), `unknown` when it may have (a
   * timeout, an in-flight 409, a lost response, a 5xx).
   */
  readonly outcome?: 'failed' | 'unknown';
}

/** One step of a saga, as its status shows it. */
export interface OperationStepStatus {
  readonly name: string;
  /**
   * `waiting`, `running`, `sleeping`, `completed`, `failed` (a final answer: not compensated),
   * `unknown` (the saga gave up while it ran: the effect may have happened), `compensating`,
   * `compensated`.
   */
  readonly state: string;
  readonly attempts: number;
  /** Attempts of its compensation, once it has one. */
  readonly compensationAttempts?: number;
  readonly lastError?: OperationError;
}

/** The public state of one durable operation. Times are ISO-8601 strings. */
export interface OperationStatus {
  /** Operation id; also the `Idempotency-Key` the downstream saw on every attempt. */
  readonly id: string;
  /** Operation type name, e.g. `send-boarding-pass`. */
  readonly type: string;
  readonly state: OperationState;
  /** Attempts made so far. */
  readonly attempts: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** When the operation gives up if it has not succeeded. */
  readonly deadline: string;
  /** When the next attempt is due, while `pending`. */
  readonly nextAttemptAt?: string;
  /** The last failure, if any. */
  readonly lastError?: OperationError;
  /** The downstream's final HTTP status, once `completed` or `failed` on an answer. */
  readonly resultStatus?: number;
  /** A saga's steps, in order. */
  readonly steps?: readonly OperationStepStatus[];
  /** A saga's compensation keeps failing (it is still retried; operators should look). */
  readonly stuck?: boolean;
}

/** True when `value` looks like an {@link OperationStatus}. */
export function isOperationStatus(value: unknown): value is OperationStatus {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['id'] === 'string' &&
    typeof v['type'] === 'string' &&
    typeof v['state'] === 'string' &&
    (OPERATION_STATES as readonly string[]).includes(v['state']) &&
    typeof v['attempts'] === 'number'
  );
}
