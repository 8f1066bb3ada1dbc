import type { OperationState } from '@unfazed/contract';

/**
 * Where an operation is inside its life: attempting (a saga: running its current step), running
 * a hook after it, or (a saga) compensating its steps in reverse.
 */
export type OperationPhase =
  'attempt' | 'success-hook' | 'failed-hook' | 'dead-hook' | 'compensate';

/**
 * Where one step of a saga is:
 * - `waiting`: not reached yet;
 * - `running`: the current step (attempted, or waiting for its next attempt);
 * - `sleeping`: a timer step waiting for its time;
 * - `completed`: done, its result journaled;
 * - `failed`: it gave a final answer: the effect did not happen (not compensated);
 * - `unknown`: the saga gave up while it was running: the effect may have happened (compensated);
 * - `compensating`: its compensation is running (or waiting for its next attempt);
 * - `compensated`: its compensation succeeded.
 */
export type StepState =
  | 'waiting'
  | 'running'
  | 'sleeping'
  | 'completed'
  | 'failed'
  | 'unknown'
  | 'compensating'
  | 'compensated';

/** One step of a saga as the store keeps it. */
export interface StepRecord {
  readonly name: string;
  readonly state: StepState;
  /** Attempts of the step (a request step: calls made; a local step: runs). */
  readonly attempts: number;
  /** Attempts of its compensation so far. */
  readonly compensationAttempts?: number;
  /** The step's last failure (or its compensation's, while compensating). */
  readonly lastError?: OperationFailure;
  /** Epoch ms the step (or its compensation) last changed state. */
  readonly at?: number;
  /**
   * Set when its compensation began: what was known of the step's effect (`completed`, or
   * `unknown`: the saga gave up while it ran).
   */
  readonly outcome?: 'completed' | 'unknown';
  /**
   * The trace context (a JSON W3C `traceparent` carrier) of the step's last attempt span, kept
   * when an OpenTelemetry tracer recorded it: the span its compensation links to.
   */
  readonly trace?: string;
}

/**
 * A saga's journal, written with every step transition in the same write: the step results so
 * far and each step's state. Absent on an operation defined with `operation()` and on a saga
 * that has not finished its first step.
 */
export interface SagaProgress {
  /** Forward: the step being run. Compensating: the step being compensated. */
  readonly step: number;
  /** Results of the completed steps, by step name (JSON values). */
  readonly results: Readonly<Record<string, unknown>>;
  readonly steps: readonly StepRecord[];
  /** The current timer step wakes at this time (epoch ms, the store's clock). */
  readonly wakeAt?: number;
  /**
   * A compensation has failed `stuckAfter` times in a row: it is still retried, and operators
   * see the saga in the dead-letter view.
   */
  readonly stuck?: boolean;
}

/** A response as the durable store keeps it: enough to answer a caller again later. */
export interface OperationResponse {
  readonly status: number;
  /** Response headers, lower-case names (content-type, location, ...). */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text (UTF-8), truncated at the store's `maxResponseBytes`. */
  readonly body: string;
}

/**
 * What is known of an operation's effect when it gave up:
 * - `failed`: known failed — the downstream gave a final answer (a 4xx other than the contract's
 *   transient ones, a permanent error), or no attempt ever reached it: the effect did not happen;
 * - `unknown`: an attempt may have reached it and its outcome was never learnt (a timeout, the
 *   in-flight `409`, a lost response or socket error, a 5xx, a worker lost mid-attempt): the
 *   effect may have happened. Compensation must cope with both.
 */
export type FailureOutcome = 'failed' | 'unknown';

/** Why an operation gave up. */
export interface OperationFailure {
  /** `status 404`, `ECONNRESET`, `deadline`, `attempts-exhausted`, `request-build-failed`, ... */
  readonly code: string;
  readonly message: string;
  /** The downstream's status, when the give-up was an answer. */
  readonly status?: number;
  /** The downstream's answer, when the give-up was an answer. */
  readonly response?: OperationResponse;
  /**
   * Whether the effect may have happened ({@link FailureOutcome}). Always set on the failure
   * of a failed or dead operation; on a pending one's `lastError`, what is known so far (once
   * `unknown`, it stays so).
   */
  readonly outcome?: FailureOutcome;
}

/** The failure `onGiveUp`, the `failed`/`dead` events and a failed `start` report. */
export interface GiveUpFailure extends OperationFailure {
  readonly outcome: FailureOutcome;
}

/** One line of an operation's history. */
export interface HistoryEntry {
  /** Epoch ms. */
  readonly at: number;
  /**
   * `attempt` (a call was made), `circuit-open` (skipped, rescheduled to the probe time),
   * `retry-budget` (a retry the client's retry budget refused, rescheduled to when a token is due),
   * `lease-expired` (a worker died or stalled; another took over), `hook` (a hook ran or failed),
   * `redriven`, `released` (a stopping worker handed it back), `deadline`.
   */
  readonly kind:
    | 'attempt'
    | 'circuit-open'
    | 'retry-budget'
    | 'lease-expired'
    | 'hook'
    | 'redriven'
    | 'released'
    | 'deadline'
    | 'step'
    | 'compensation';
  /** The saga step it concerns (a saga's `attempt`, `step` and `compensation` entries). */
  readonly step?: string;
  /** Attempt number (1-based) for `attempt`. */
  readonly attempt?: number;
  /** Answer status of an attempt. */
  readonly status?: number;
  /** Error code / reason of a failed attempt or hook. */
  readonly error?: string;
  /** Duration of the attempt or hook in ms. */
  readonly durationMs?: number;
  /** Delay chosen before the next attempt, in ms. */
  readonly delayMs?: number;
  /** Why that delay: `backoff`, `retry-after`, `circuit-open`, `retry-budget`, `redrive-pacing`. */
  readonly delayReason?: string;
  /** The worker that did it (its id, or `start:<process>` for the first attempt of `start`). */
  readonly worker?: string;
  /** Free text. */
  readonly note?: string;
}

/** An operation as the store keeps it. */
export interface OperationRecord {
  readonly id: string;
  readonly type: string;
  /** The caller's idempotency key for `start`, if any (not the downstream key: that is `id`). */
  readonly key?: string;
  /** The JSON input, serialised. */
  readonly input: string;
  readonly state: OperationState;
  readonly phase: OperationPhase;
  readonly attempts: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly deadline: number;
  /** When the next attempt is due (pending) — epoch ms. */
  readonly dueAt: number;
  /** Lease owner token while running: fresh for every claim (not the worker's id). */
  readonly owner?: string;
  /** Lease expiry while running, by the store's clock. */
  readonly leaseUntil?: number;
  readonly lastError?: OperationFailure;
  /** The success response (or the final failing answer). */
  readonly response?: OperationResponse;
  /** When it reached a terminal state. */
  readonly finishedAt?: number;
  /** A saga's journal ({@link SagaProgress}). */
  readonly saga?: SagaProgress;
  /**
   * The trace context of the request that started it (the JSON of a W3C `traceparent` /
   * `tracestate` carrier), when an OpenTelemetry tracer was active: every later attempt's span
   * links to it.
   */
  readonly trace?: string;
}

/**
 * Fields a store writes when an operation is created. Times are the caller's clock: a store with
 * a clock of its own (Redis) writes them as offsets from `now` applied to its clock when the
 * write executes, and answers the record with its times.
 */
export interface NewOperation {
  /** From the store's `newId(type, key)`: known before the write, so every error can name it. */
  readonly id: string;
  readonly type: string;
  readonly key?: string;
  readonly input: string;
  readonly now: number;
  readonly deadline: number;
  readonly dueAt: number;
  /** Create it already leased by this owner (the synchronous first attempt of `start`). */
  readonly owner?: string;
  readonly leaseUntil?: number;
  /** The starting request's trace context ({@link OperationRecord.trace}). */
  readonly trace?: string;
}

/**
 * How the owner of a lease settles an attempt:
 * - `retry`: back to `pending`, due at `dueAt`;
 * - `release`: back to `pending` due at `dueAt`, attempt count unchanged (a stopping worker);
 * - `hook`: keep the lease (extended to `leaseUntil`) and go on in `phase` here: run the hook of
 *   that phase, a saga's next step (`attempt`) or its compensations (`compensate`);
 * - `finish`: terminal `state` reached (hook done, or no hook defined; `compensated`: a saga gave
 *   up and every step that needed it was compensated).
 * A saga's settlements carry its journal (`saga`), written in the same round trip.
 */
export type Settlement =
  | {
      readonly action: 'retry' | 'release';
      readonly dueAt: number;
      readonly attempts: number;
      readonly lastError?: OperationFailure;
      readonly saga?: SagaProgress;
    }
  | {
      readonly action: 'hook';
      readonly phase: 'success-hook' | 'failed-hook' | 'dead-hook' | 'attempt' | 'compensate';
      readonly attempts: number;
      readonly leaseUntil: number;
      readonly lastError?: OperationFailure;
      readonly response?: OperationResponse;
      readonly saga?: SagaProgress;
    }
  | {
      readonly action: 'finish';
      readonly state: 'completed' | 'failed' | 'dead' | 'compensated';
      readonly attempts?: number;
      readonly lastError?: OperationFailure;
      readonly response?: OperationResponse;
      readonly saga?: SagaProgress;
    };

/**
 * What the dead-letter view lists: failed and dead operations, compensated sagas, and sagas whose
 * compensation is stuck (`compensating`).
 */
export type DeadLetterState = 'failed' | 'dead' | 'compensated' | 'compensating';

/** A filter over the dead-letter view. */
export interface DeadLetterQuery {
  /** Default all four {@link DeadLetterState}s. */
  readonly states?: readonly DeadLetterState[];
  readonly type?: string;
  /** Match `lastError.code` exactly (e.g. `status 404`, `deadline`). */
  readonly errorCode?: string;
  /** Finished at or after (epoch ms). */
  readonly since?: number;
  /** Finished at or before (epoch ms). */
  readonly until?: number;
  /** Match `lastError.status` exactly (the downstream's answer, e.g. 503). */
  readonly status?: number;
  /** Substring (case-sensitive) of the serialised JSON input, or where `textIn` says. */
  readonly text?: string;
  /**
   * Where `text` is looked for: the serialised input, the last error's message, or either.
   * Default `['input']`.
   */
  readonly textIn?: readonly ('input' | 'error')[];
  /** Page size (default 50, max 1000). */
  readonly limit?: number;
  /** From a previous page's `cursor`. */
  readonly cursor?: string;
}

/**
 * One page of the dead-letter view, newest first. The Redis store reads a bounded part of the
 * index per page, so a sparse filter can give a short (even empty) page that still has a
 * `cursor`: page on until it is absent.
 */
export interface DeadLetterPage {
  readonly items: readonly OperationRecord[];
  /** Pass back for the next page; absent on the last page. */
  readonly cursor?: string;
}

/** Counts by state, per operation type. `completed` counts every completion ever recorded. */
export type StateCounts = Record<string, Record<OperationState, number>>;

/**
 * The clock the durable queue reads: `now()` in epoch ms (default `Date`). Inject one to test
 * timing without wall-clock margins. Lease safety is measured on the process's own clocks
 * regardless (the larger of the monotonic and the wall clock's elapsed time, so a paused process
 * sees its lease run out), and timers still run in real time.
 */
export interface DurableClock {
  now(): number;
}

/** Due and in-flight operations per type, for gauges. */
export interface QueueGauges {
  /** Pending operations whose due time has come, per type. */
  readonly due: Record<string, number>;
  /** Operations held under a live lease, per type. */
  readonly inFlight: Record<string, number>;
}

/**
 * Storage behind `createDurable`. `memoryDurableStore()` and `redisDurableStore()` implement it; every method
 * that changes a leased operation checks the owner token atomically.
 *
 * Clock: every time argument is the caller's clock, and `now` is the caller's now. A store with a
 * clock of its own (Redis) reads its clock when the command executes and applies each time as an
 * offset from `now` to it (a lease of `leaseMs` from then, a due time `dueAt - now` from then), so a
 * command that reaches the store late never grants a lease that has already expired.
 */
export interface DurableStore {
  /** Number of schedule partitions; workers claim from each. */
  readonly partitions: number;
  /** Short description for logs (`memory`, `redis`, `redis-cluster`). */
  readonly kind: string;
  /** A fresh operation id for `create` (Redis: a UUIDv7 ending in `.<partition>`). */
  newId(type: string, key?: string): string;
  /**
   * Writes a new operation in one round trip, or returns the existing one when `key` was used
   * before for this type (`created: false`).
   */
  create(op: NewOperation): Promise<{ created: boolean; record: OperationRecord }>;
  /**
   * Leases up to `limit` due operations of a partition (due, or with an expired lease) to the
   * worker `owner`. Each leased record carries a fresh lease token in `owner` (derived from the
   * worker's, unique to this claim): renew and settle must present it, so two claims of one
   * operation by one worker are told apart. `updatedAt` is the store's now when the lease was
   * granted and `leaseUntil` its expiry, both by the store's clock.
   */
  claim(
    partition: number,
    now: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): Promise<{ record: OperationRecord; takeover: boolean }[]>;
  /**
   * Optional: leases up to `limit` due operations from all partitions in one round trip, trying
   * them from `startPartition` on. Stores that can (memory, standalone Redis) implement it;
   * workers then poll with one call instead of one per partition.
   */
  claimAny?(
    startPartition: number,
    now: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): Promise<{ record: OperationRecord; takeover: boolean }[]>;
  /**
   * Optional: how many schedule entries of each partition have come due (due operations and
   * expired leases), read in parallel. Workers on a cluster use it to claim only from
   * partitions that have work instead of asking every partition in turn.
   */
  dueCounts?(now: number): Promise<number[]>;
  /** Extends a lease to `leaseMs` from the store's now; false when `owner` no longer holds it. */
  renew(id: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Applies a settlement if `owner` still holds the lease; false otherwise. */
  settle(
    id: string,
    owner: string,
    now: number,
    settlement: Settlement,
    entries: readonly HistoryEntry[],
  ): Promise<boolean>;
  get(id: string): Promise<OperationRecord | undefined>;
  /** The operation a `start` key created for this type (until the record expires). */
  findByKey(type: string, key: string): Promise<OperationRecord | undefined>;
  history(id: string): Promise<HistoryEntry[]>;
  /**
   * Moves a failed/dead operation back to pending; false when it is not failed/dead. With
   * `input` (serialised JSON, checked by the caller as `start` checks it), the operation runs
   * with that input from now on.
   */
  redrive(
    id: string,
    now: number,
    dueAt: number,
    deadline: number,
    entry: HistoryEntry,
    input?: string,
  ): Promise<boolean>;
  /** Deletes a failed/dead operation with its history; false when it is not failed/dead. */
  discard(id: string): Promise<boolean>;
  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage>;
  counts(): Promise<StateCounts>;
  gauges(now: number): Promise<QueueGauges>;
  /**
   * Optional: the oldest due time of the due pending operations, per type (how long the
   * longest-waiting one has waited for a worker), by the store's clock.
   */
  oldestDue?(now: number): Promise<Record<string, number>>;
  /**
   * Optional: pauses a type. Workers stop leasing its pending operations (the Redis store parks
   * them when they come due, the memory store skips them); an operation held under a lease
   * finishes its attempt, and one whose lease expired is still taken over.
   */
  pauseType?(type: string): Promise<void>;
  /** Optional: resumes a paused type; its parked operations are due at once. */
  resumeType?(type: string): Promise<void>;
  /** Optional: the paused types. */
  pausedTypes?(): Promise<string[]>;
  /**
   * Releases what the store holds and refuses every later call: the Redis store sends the
   * scripts waiting for its next batched write and waits for their replies (the connection is
   * the caller's and stays open); the memory store drops its operations. Call it after the
   * workers using the store have stopped.
   */
  close(): Promise<void>;
}
