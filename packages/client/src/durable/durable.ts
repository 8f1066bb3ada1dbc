import { randomUUID } from 'node:crypto';
import { validateOptions, type OperationStatus } from '@unfazed/contract';
import { resolveBackoff, type DurableBackoffOptions } from './backoff.js';
import type { ClientPolicy, DurableClient } from './client-port.js';
import { DeadLetterView } from './dead-letter-view.js';
import { DefinedOperation } from './defined-operation.js';
import { DurableEvents } from './events.js';
import { memoryDurableStore } from './memory-store.js';
import {
  definitionRule,
  durableOptionsRule,
  operationIdRule,
  operationNameRule,
  workerOptionsRule,
} from './options.js';
import { publicStatus } from './public-status.js';
import { QueueContext } from './queue-context.js';
import {
  resolveSteps,
  sagaDefinitionRule,
  type SagaDefinition,
  type SagaStep,
} from './saga-definition.js';
import type { OperationDefinition, ResolvedType, RunEnv } from './run.js';
import type {
  DurableClock,
  DeadLetterPage,
  DeadLetterQuery,
  DurableStore,
  GiveUpFailure,
  HistoryEntry,
  OperationRecord,
  QueueGauges,
  StateCounts,
  OperationResponse,
} from './types.js';
import { QueueGaugeObserver } from './telemetry.js';
import { startWorker, type DurableWorker, type WorkerOptions } from './worker.js';

/** Options of {@link createDurable}. */
export interface DurableOptions {
  /** The resilient client (`createClient(...)`) or anything with its `request` (and `circuit`). */
  readonly client: DurableClient;
  /** Where operations live. Default `memoryDurableStore()` (one process, nothing survives a restart). */
  readonly store?: DurableStore;
  /** Lease length, ms; renewed every third while an attempt or hook runs. Default 30 000. */
  readonly leaseMs?: number;
  /** Default timeout of one attempt, ms. Default: the client's attempt timeout, else 10 000. */
  readonly attemptTimeout?: number;
  /** Default deadline of an operation, ms. Default 86 400 000 (24 h). */
  readonly deadline?: number;
  /**
   * Default backoff of every operation type. Default: the client's backoff (`initialMs`,
   * `exponent`, `maxMs` as the cap), else 1 s × 2 capped at 5 min; `equal` jitter.
   */
  readonly backoff?: DurableBackoffOptions;
  /** How long `start` waits for the store before failing with a clear error, ms. Default 5 000. */
  readonly storeTimeout?: number;
  /** Largest response body kept for `completed` operations, bytes. Default 65 536. */
  readonly maxResponseBytes?: number;
  /**
   * Largest input `start` accepts, bytes of serialised JSON (each type may set its own).
   * Default 1 048 576 (1 MiB).
   */
  readonly maxInputBytes?: number;
  /** Spread added to a circuit's next probe time when rescheduling, ms. Default 1 000. */
  readonly probeJitter?: number;
  /**
   * Random source in [0, 1) for every jitter (backoff, circuit probe, busy target, the first
   * partition a worker polls); pass a seeded one in tests. Default `Math.random`.
   */
  readonly random?: () => number;
  /**
   * The clock of every time the queue computes (deadlines, due times, backoff, history, the
   * default memory store's leases). Default `Date`. See {@link DurableClock}.
   */
  readonly clock?: DurableClock;
}

/** Options of `op.start()`. */
export interface StartOptions {
  /**
   * Makes start idempotent: the same key (for this type) always gives the same operation,
   * even when started concurrently. Derive it from your own incoming `Idempotency-Key`
   * (`req.idempotencyKey` behind `@unfazed/server`'s middleware). `undefined` means no key.
   */
  readonly key?: string | undefined;
  /** How long to try synchronously before answering `accepted`, ms. 0 = never try here. */
  readonly wait?: number;
}

/** What `start` answers. `existing` is true when `key` had been used before. */
export type StartOutcome =
  | {
      readonly status: 'completed';
      readonly id: string;
      /** The response (a saga: its last step's; a local last step's result as a JSON body). */
      readonly response: OperationResponse;
      /** A saga's step results, by step name. */
      readonly results?: Readonly<Record<string, unknown>>;
      readonly existing: boolean;
    }
  | {
      readonly status: 'failed';
      readonly id: string;
      /** `compensated`: a saga that gave up and undid its completed steps. */
      readonly state: 'failed' | 'dead' | 'compensated';
      /** Why; `failure.outcome` says whether the effect may have happened (`unknown`). */
      readonly failure: GiveUpFailure;
      readonly existing: boolean;
    }
  | {
      readonly status: 'accepted';
      readonly id: string;
      /** `compensating`: a saga that gave up and is undoing its steps. */
      readonly state: 'pending' | 'running' | 'compensating';
      /** When the next attempt is due, epoch ms (pending only). */
      readonly nextAttemptAt?: number;
      readonly existing: boolean;
    };

/** A defined operation type. */
export interface DurableOperation<I> {
  readonly name: string;
  /**
   * Persists the operation (one round trip, before any attempt), then tries it for up to
   * `wait` ms. `accepted` is only ever returned for a persisted operation. Throws
   * {@link DurableStoreUnavailableError} when the store did not confirm the write in time: the
   * write may still land, so the operation `error.operationId` may or may not exist (and runs if
   * it does): check `status(error.operationId)`, or pass a `key` so a retried start finds it.
   * Every error thrown once the write was tried carries `operationId`.
   */
  start(input: I, options?: StartOptions): Promise<StartOutcome>;
  /**
   * The public state of the operation that `start` created with this `key`, or undefined.
   * Lets a service answer a retried request (or a status query) by its incoming key alone.
   */
  find(key: string): Promise<OperationStatus | undefined>;
}

/** An operation with its full history, for the dead-letter view. */
export interface OperationDetails {
  readonly record: OperationRecord;
  readonly history: readonly HistoryEntry[];
}

/** The "message hospital": failed and dead operations. */
export interface DeadLetters {
  /**
   * Failed/dead operations, compensated sagas and sagas whose compensation is stuck
   * (`compensating`) matching the filters, newest first, with cursor paging.
   */
  list(query?: DeadLetterQuery): Promise<DeadLetterPage>;
  /** One operation (any state) with every attempt. */
  get(id: string): Promise<OperationDetails | undefined>;
  /**
   * Moves one failed/dead operation back to pending with a fresh deadline. False if it was not
   * failed/dead. `input` replaces its input, checked as `start` checks one (the type must be
   * defined here): an {@link InvalidOperationInputError} names what is wrong.
   */
  redrive(id: string, options?: { at?: number; input?: unknown }): Promise<boolean>;
  /**
   * Redrives every match of `query` (all pages), spreading due times at `rate` per second
   * (default 10) so a large batch does not hit the downstream at once. Resolves to the count.
   */
  redriveMany(
    query: Omit<DeadLetterQuery, 'cursor' | 'limit'>,
    options?: { rate?: number; max?: number },
  ): Promise<number>;
  /** Deletes a failed/dead operation (or compensated saga) and its history; false otherwise. */
  discard(id: string): Promise<boolean>;
}

/** The durable retry queue. */
export interface Durable {
  /** Defines an operation type. Every process that starts or works it must define it. */
  operation<I>(name: string, definition: OperationDefinition<I>): DurableOperation<I>;
  /**
   * Defines a saga type: steps run in order, each step's result journaled before the next
   * starts, the completed steps compensated in reverse when a step fails finally or the deadline
   * passes. Started, found and watched like an operation (same `start`, `find`, `status`).
   */
  saga<I>(name: string, definition: SagaDefinition<I>): DurableOperation<I>;
  /** Starts a worker in this process. */
  startWorker(options?: WorkerOptions): DurableWorker;
  /** The public state of an operation (what a status route serves), or undefined. */
  status(id: string): Promise<OperationStatus | undefined>;
  readonly deadLetters: DeadLetters;
  /** Counts by state per type. */
  counts(): Promise<StateCounts>;
  /** Due and in-flight operations per type. */
  gauges(): Promise<QueueGauges>;
  /** Typed events: `durable.events.on('dead', e => ...)`. */
  readonly events: DurableEvents;
  readonly store: DurableStore;
}

/**
 * Creates a durable retry queue over a client and a store.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function createDurable(options: DurableOptions): Durable {
  const o = validateOptions(durableOptionsRule, options, { name: 'createDurable' });
  const clock = o.clock ?? Date;
  const store = o.store ?? memoryDurableStore({ clock });
  const policy = policyOf(o.client);
  const attemptTimeout = o.attemptTimeout ?? policy?.timeout?.attempt ?? 10_000;
  const clientBackoff = policy?.retry?.backoff;
  // Backoff layers, later ones winning key by key: the client's, createDurable's, the type's.
  const backoffLayers: DurableBackoffOptions[] = [
    clientBackoff
      ? {
          initialMs: clientBackoff.initialMs,
          exponent: clientBackoff.exponent,
          maxMs: clientBackoff.maxMs,
        }
      : {},
    o.backoff ?? {},
  ];
  const backoff = resolveBackoff(backoffLayers, { name: 'createDurable', path: 'backoff' });
  const env: RunEnv = {
    store,
    client: options.client,
    events: new DurableEvents(),
    now: () => clock.now(),
    random: o.random ?? Math.random,
    leaseMs: o.leaseMs,
    maxResponseBytes: o.maxResponseBytes,
    probeJitterMs: o.probeJitter,
    baseOrigin: originOf(policy),
  };
  const ctx = new QueueContext(
    env,
    randomUUID(),
    o.storeTimeout,
    o.deadline,
    backoffLayers,
    backoff,
  );
  const defaults = { deadline: o.deadline, attemptTimeout, maxInputBytes: o.maxInputBytes };
  const gauges = new QueueGaugeObserver(store, env.now);
  gauges.watch();
  return new DurableQueue(ctx, definitionRule(defaults), sagaDefinitionRule(defaults), gauges);
}

/** @internal A durable instance: defines types, starts workers, answers status queries. */
class DurableQueue implements Durable {
  readonly events: DurableEvents;
  readonly store: DurableStore;
  readonly deadLetters: DeadLetters;
  readonly #nameRule = operationNameRule.refine((name, fail) =>
    this.ctx.types.has(name)
      ? fail(undefined, 'is already defined in this durable instance')
      : name,
  );

  constructor(
    private readonly ctx: QueueContext,
    private readonly defRule: ReturnType<typeof definitionRule>,
    private readonly sagaRule: ReturnType<typeof sagaDefinitionRule>,
    /** The queue gauges, observed while a meter provider is registered. */
    private readonly queueGauges: QueueGaugeObserver,
  ) {
    this.events = ctx.env.events;
    this.store = ctx.env.store;
    this.deadLetters = new DeadLetterView(ctx);
  }

  operation<I>(name: string, definition: OperationDefinition<I>): DurableOperation<I> {
    validateOptions(this.#nameRule, name, { name: 'durable.operation', path: 'name' });
    const where = `durable.operation('${name}')`;
    const d = validateOptions(this.defRule, definition, { name: where });
    const { backoffLayers } = this.ctx;
    const def = definition as OperationDefinition<unknown>;
    const t: ResolvedType = {
      name,
      def,
      deadline: d.deadline,
      maxAttempts: d.maxAttempts ?? Infinity,
      backoff: d.backoff
        ? resolveBackoff([...backoffLayers, d.backoff], { name: where, path: 'backoff' })
        : this.ctx.backoff,
      attemptTimeout: d.attemptTimeout,
      wait: d.wait,
      maxInputBytes: d.maxInputBytes,
      steps: [],
    };
    // One engine: an operation is a saga of one request step, keyed by the operation id.
    const steps = [
      {
        kind: 'request' as const,
        name,
        maxAttempts: t.maxAttempts,
        attemptTimeout: t.attemptTimeout,
        backoff: t.backoff,
        request: (input: unknown, ctx: { id: string }) => def.request(input, { id: ctx.id }),
      },
    ];
    const resolved: ResolvedType = { ...t, steps };
    this.ctx.types.set(name, resolved);
    return new DefinedOperation<I>(this.ctx, resolved);
  }

  saga<I>(name: string, definition: SagaDefinition<I>): DurableOperation<I> {
    validateOptions(this.#nameRule, name, { name: 'durable.saga', path: 'name' });
    const where = `durable.saga('${name}')`;
    const d = validateOptions(this.sagaRule, definition, { name: where });
    const { backoffLayers } = this.ctx;
    const backoff = d.backoff
      ? resolveBackoff([...backoffLayers, d.backoff], { name: where, path: 'backoff' })
      : this.ctx.backoff;
    const maxAttempts = d.maxAttempts ?? Infinity;
    const layers = d.backoff ? [...backoffLayers, d.backoff] : backoffLayers;
    const steps = resolveSteps(
      d.steps as readonly SagaStep<unknown>[],
      { maxAttempts, attemptTimeout: d.attemptTimeout, backoff },
      layers,
      where,
    );
    const t: ResolvedType = {
      name,
      def: {},
      steps,
      saga: { stuckAfter: d.stuckAfter },
      deadline: d.deadline,
      maxAttempts,
      backoff,
      attemptTimeout: d.attemptTimeout,
      wait: d.wait,
      maxInputBytes: d.maxInputBytes,
    };
    this.ctx.types.set(name, t);
    return new DefinedOperation<I>(this.ctx, t);
  }

  startWorker(workerOptions?: WorkerOptions): DurableWorker {
    const resolved = validateOptions(workerOptionsRule, workerOptions, {
      name: 'durable.startWorker',
    });
    // A meter provider registered after createDurable is seen here.
    this.queueGauges.watch();
    return startWorker(this.ctx.env, this.ctx.types, resolved, this.ctx.wakers);
  }

  async status(id: string): Promise<OperationStatus | undefined> {
    validateOptions(operationIdRule, id, { name: 'durable.status', path: 'id' });
    const rec = await this.store.get(id);
    return rec ? publicStatus(rec, this.ctx.types.get(rec.type)) : undefined;
  }

  readonly counts = (): Promise<StateCounts> => this.store.counts();

  readonly gauges = (): Promise<QueueGauges> => this.store.gauges(this.ctx.env.now());
}

function policyOf(client: DurableClient): ClientPolicy | undefined {
  try {
    return client.describe?.();
  } catch {
    return undefined;
  }
}

function originOf(policy: ClientPolicy | undefined): string | undefined {
  try {
    return policy?.baseUrl ? new URL(policy.baseUrl).origin : undefined;
  } catch {
    return undefined;
  }
}

export { publicStatus } from './public-status.js';
