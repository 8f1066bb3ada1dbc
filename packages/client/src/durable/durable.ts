import { randomUUID } from 'node:crypto';
import { validateOptions, type OperationStatus } from '@unfazed/contract';
import { resolveBackoff, type DurableBackoffOptions } from './backoff.js';
import type { ClientPolicy, DurableClient } from './client-port.js';
import {
  DurableKeyConflictError,
  DurableStoreUnavailableError,
  isDurabilityNotConfirmedError,
} from './errors.js';
import { DurableEvents } from './events.js';
import { serialiseInput } from './json-input.js';
import { memoryDurableStore } from './memory-store.js';
import {
  deadLetterQueryRule,
  definitionRule,
  durableOptionsRule,
  operationIdRule,
  operationNameRule,
  redriveManyOptionsRule,
  redriveOptionsRule,
  redriveQueryRule,
  startKeyRule,
  startOptionsRule,
  workerOptionsRule,
} from './options.js';
import { runLeased } from './operation-run.js';
import {
  giveUpFailure,
  targetOf,
  type OperationDefinition,
  type ResolvedType,
  type RunEnv,
} from './run.js';
import type {
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
  /** Random source in [0, 1) for jitter; pass a seeded one in tests. Default `Math.random`. */
  readonly random?: () => number;
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
      readonly response: OperationResponse;
      readonly existing: boolean;
    }
  | {
      readonly status: 'failed';
      readonly id: string;
      readonly state: 'failed' | 'dead';
      /** Why; `failure.outcome` says whether the effect may have happened (`unknown`). */
      readonly failure: GiveUpFailure;
      readonly existing: boolean;
    }
  | {
      readonly status: 'accepted';
      readonly id: string;
      readonly state: 'pending' | 'running';
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
  /** Failed/dead operations matching the filters, newest first, with cursor paging. */
  list(query?: DeadLetterQuery): Promise<DeadLetterPage>;
  /** One operation (any state) with every attempt. */
  get(id: string): Promise<OperationDetails | undefined>;
  /** Moves one failed/dead operation back to pending with a fresh deadline. False if it was not failed/dead. */
  redrive(id: string, options?: { at?: number }): Promise<boolean>;
  /**
   * Redrives every match of `query` (all pages), spreading due times at `rate` per second
   * (default 10) so a large batch does not hit the downstream at once. Resolves to the count.
   */
  redriveMany(
    query: Omit<DeadLetterQuery, 'cursor' | 'limit'>,
    options?: { rate?: number; max?: number },
  ): Promise<number>;
  /** Deletes a failed/dead operation and its history. False if it was not failed/dead. */
  discard(id: string): Promise<boolean>;
}

/** The durable retry queue. */
export interface Durable {
  /** Defines an operation type. Every process that starts or works it must define it. */
  operation<I>(name: string, definition: OperationDefinition<I>): DurableOperation<I>;
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
  const store = o.store ?? memoryDurableStore();
  const leaseMs = o.leaseMs;
  const policy = policyOf(o.client);
  const attemptTimeout = o.attemptTimeout ?? policy?.timeout?.attempt ?? 10_000;
  const deadline = o.deadline;
  const storeTimeout = o.storeTimeout;
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
  const nameRule = operationNameRule.refine((name, fail) =>
    types.has(name) ? fail(undefined, 'is already defined in this durable instance') : name,
  );
  const defRule = definitionRule({ deadline, attemptTimeout, maxInputBytes: o.maxInputBytes });
  const events = new DurableEvents();
  const env: RunEnv = {
    store,
    client: options.client,
    events,
    now: Date.now,
    random: o.random ?? Math.random,
    leaseMs,
    maxResponseBytes: o.maxResponseBytes,
    probeJitterMs: o.probeJitter,
    baseOrigin: originOf(policy),
  };
  const types = new Map<string, ResolvedType>();
  const wakers = new Set<() => void>();
  const wakeWorkers = (): void => {
    for (const wake of wakers) wake();
  };
  const processId = randomUUID();

  // `operationId`: the operation the write is about, named by every error it throws.
  const withTimeout = async <T>(what: string, p: Promise<T>, operationId: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DurableStoreUnavailableError(
              `The durable store (${store.kind}) did not answer ${what} of ${operationId} within ${storeTimeout} ms; the write may still land`,
              undefined,
              operationId,
            ),
          ),
        storeTimeout,
      );
    });
    try {
      return await Promise.race([p, timeout]);
    } catch (error) {
      if (error instanceof DurableStoreUnavailableError || isDurabilityNotConfirmedError(error))
        throw error;
      throw new DurableStoreUnavailableError(
        `The durable store (${store.kind}) failed ${what} of ${operationId}: ${error instanceof Error ? error.message : String(error)}`,
        error,
        operationId,
      );
    } finally {
      clearTimeout(timer);
    }
  };

  const releaseLate = async (
    write: Promise<{ created: boolean; record: OperationRecord }>,
    owner: string,
  ): Promise<void> => {
    try {
      const { created, record } = await write;
      if (!created || record.owner !== owner) return;
      const now = env.now();
      const entry: HistoryEntry = {
        at: now,
        kind: 'released',
        worker: `start:${processId}`,
        note: 'start gave up waiting for its write-ahead, which landed later',
      };
      const s = { action: 'release', dueAt: now, attempts: 0 } as const;
      if (await store.settle(record.id, owner, now, s, [entry])) wakeWorkers();
    } catch {
      // Not written, or not released: its lease expires and a worker takes it over.
    }
  };

  const outcomeOf = (rec: OperationRecord, existing: boolean): StartOutcome => {
    if (rec.state === 'completed') {
      return {
        status: 'completed',
        id: rec.id,
        response: rec.response ?? { status: 0, headers: {}, body: '' },
        existing,
      };
    }
    if (rec.state === 'failed' || rec.state === 'dead') {
      return {
        status: 'failed',
        id: rec.id,
        state: rec.state,
        failure: giveUpFailure(rec.lastError),
        existing,
      };
    }
    return rec.state === 'pending'
      ? { status: 'accepted', id: rec.id, state: 'pending', nextAttemptAt: rec.dueAt, existing }
      : { status: 'accepted', id: rec.id, state: 'running', existing };
  };

  const durable: Durable = {
    events,
    store,
    operation<I>(name: string, definition: OperationDefinition<I>): DurableOperation<I> {
      validateOptions(nameRule, name, { name: 'durable.operation', path: 'name' });
      const where = `durable.operation('${name}')`;
      const d = validateOptions(defRule, definition, { name: where });
      const t: ResolvedType = {
        name,
        def: definition as OperationDefinition<unknown>,
        deadline: d.deadline,
        maxAttempts: d.maxAttempts ?? Infinity,
        backoff: d.backoff
          ? resolveBackoff([...backoffLayers, d.backoff], { name: where, path: 'backoff' })
          : backoff,
        attemptTimeout: d.attemptTimeout,
        wait: d.wait,
        maxInputBytes: d.maxInputBytes,
      };
      types.set(name, t);
      return {
        name,
        async find(key: string): Promise<OperationStatus | undefined> {
          validateOptions(startKeyRule, key, { name: `${name}.find`, path: 'key' });
          const rec = await store.findByKey(name, key);
          return rec ? publicStatus(rec) : undefined;
        },
        async start(input: I, given?: StartOptions): Promise<StartOutcome> {
          const startOptions = validateOptions(startOptionsRule, given, { name: `${name}.start` });
          // Checked before anything is written (or built from it).
          const serialised = serialiseInput(name, input, t.maxInputBytes);
          const waitMs = startOptions.wait ?? t.wait;
          const now = env.now();
          let dueAt = now;
          let sync = waitMs > 0;
          if (sync) {
            // An open circuit: persist for its probe time and do not fire now.
            const circuit = (() => {
              try {
                return options.client.circuit?.(
                  targetOf(definition.request(input, { id: '' }), env.baseOrigin),
                );
              } catch {
                return undefined;
              }
            })();
            if (
              circuit?.state === 'open' &&
              circuit.nextProbeAt !== undefined &&
              circuit.nextProbeAt > now
            ) {
              sync = false;
              dueAt = circuit.nextProbeAt + Math.round(env.probeJitterMs * env.random());
            }
          }
          const owner = `start:${processId}:${randomUUID()}`;
          // Chosen before the write, so that every error below can name it.
          const id = store.newId(name, startOptions.key);
          const sentAt = performance.now();
          const write = store.create({
            id,
            type: name,
            input: serialised,
            now,
            deadline: now + t.deadline,
            dueAt,
            ...(startOptions.key !== undefined ? { key: startOptions.key } : {}),
            ...(sync ? { owner, leaseUntil: now + leaseMs } : {}),
          });
          let created: boolean;
          let record: OperationRecord;
          try {
            ({ created, record } = await withTimeout('the write-ahead of start', write, id));
          } catch (error) {
            // Given up on, the write may still land, leased to this start's first attempt that
            // will never run: hand it to the workers then, rather than after a whole lease.
            if (sync) void releaseLate(write, owner);
            throw error;
          }
          if (!created) {
            if (record.input !== serialised)
              throw new DurableKeyConflictError(name, startOptions.key ?? '', record.id, id);
            events.emit('started', {
              id: record.id,
              type: name,
              key: startOptions.key ?? '',
              existing: true,
            });
            return outcomeOf(record, true);
          }
          events.emit('started', {
            id: record.id,
            type: name,
            existing: false,
            ...(startOptions.key !== undefined ? { key: startOptions.key } : {}),
          });
          if (!sync) {
            if (dueAt <= now) wakeWorkers();
            if (dueAt > now)
              events.emit('scheduled', {
                id: record.id,
                type: name,
                dueAt,
                delayMs: dueAt - now,
                reason: 'circuit-open',
              });
            return outcomeOf(record, false);
          }
          let result: Awaited<ReturnType<typeof runLeased>>;
          try {
            const grant = {
              token: owner,
              worker: `start:${processId}`,
              sentAt,
              leaseMs:
                record.leaseUntil !== undefined ? record.leaseUntil - record.updatedAt : leaseMs,
            };
            result = await runLeased(env, t, record, grant, { syncUntil: now + waitMs });
          } catch {
            // The operation is persisted; a store failure while trying it here leaves it to the
            // workers once this lease expires, so the truthful answer is `accepted`.
            return { status: 'accepted', id: record.id, state: 'running', existing: false };
          }
          if (result.kind === 'lost') {
            const current = await store.get(record.id).catch(() => undefined);
            return current
              ? outcomeOf(current, false)
              : { status: 'accepted', id: record.id, state: 'pending', existing: false };
          }
          return outcomeOf(result.record, false);
        },
      };
    },
    startWorker(workerOptions?: WorkerOptions) {
      const resolved = validateOptions(workerOptionsRule, workerOptions, {
        name: 'durable.startWorker',
      });
      return startWorker(env, types, resolved, wakers);
    },
    async status(id) {
      validateOptions(operationIdRule, id, { name: 'durable.status', path: 'id' });
      const rec = await store.get(id);
      return rec ? publicStatus(rec) : undefined;
    },
    counts: () => store.counts(),
    gauges: () => store.gauges(env.now()),
    deadLetters: {
      list: async (query) => {
        validateOptions(deadLetterQueryRule, query, { name: 'deadLetters.list', path: 'query' });
        return store.listDeadLetters(query ?? {});
      },
      async get(id) {
        validateOptions(operationIdRule, id, { name: 'deadLetters.get', path: 'id' });
        const record = await store.get(id);
        if (!record) return undefined;
        return { record, history: await store.history(id) };
      },
      async redrive(id, given) {
        validateOptions(operationIdRule, id, { name: 'deadLetters.redrive', path: 'id' });
        const { at } = validateOptions(redriveOptionsRule, given, { name: 'deadLetters.redrive' });
        const rec = await store.get(id);
        if (!rec) return false;
        return redriveOne(rec, at ?? env.now(), 'redrive');
      },
      async redriveMany(query, given) {
        const where = { name: 'deadLetters.redriveMany' };
        validateOptions(redriveQueryRule, query, { ...where, path: 'query' });
        const { rate, max = Infinity } = validateOptions(redriveManyOptionsRule, given, where);
        const start = env.now();
        const matches: OperationRecord[] = [];
        // Collect first: redriven operations leave the view, which would shift the pages.
        let cursor: string | undefined;
        do {
          const page = await store.listDeadLetters({
            ...query,
            limit: 500,
            ...(cursor !== undefined ? { cursor } : {}),
          });
          matches.push(...page.items);
          cursor = page.cursor;
        } while (cursor !== undefined && matches.length < max);
        let n = 0;
        for (const rec of matches.slice(0, max === Infinity ? undefined : max)) {
          if (await redriveOne(rec, start + Math.round((n * 1000) / rate), 'redrive-pacing')) n++;
        }
        return n;
      },
      async discard(id) {
        validateOptions(operationIdRule, id, { name: 'deadLetters.discard', path: 'id' });
        return store.discard(id);
      },
    },
  };

  const redriveOne = async (
    rec: OperationRecord,
    dueAt: number,
    reason: string,
  ): Promise<boolean> => {
    const now = env.now();
    const t = types.get(rec.type);
    const newDeadline = Math.max(dueAt, now) + (t?.deadline ?? deadline);
    const ok = await store.redrive(rec.id, now, dueAt, newDeadline, {
      at: now,
      kind: 'redriven',
      delayMs: dueAt - now,
      delayReason: reason,
      note: `from ${rec.state}`,
    });
    if (ok) events.emit('redriven', { id: rec.id, type: rec.type, dueAt });
    return ok;
  };

  return durable;
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

/** The public, contract-shaped state of an operation record. */
export function publicStatus(rec: OperationRecord): OperationStatus {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    id: rec.id,
    type: rec.type,
    state: rec.state,
    attempts: rec.attempts,
    createdAt: iso(rec.createdAt),
    updatedAt: iso(rec.updatedAt),
    deadline: iso(rec.deadline),
    ...(rec.state === 'pending' ? { nextAttemptAt: iso(rec.dueAt) } : {}),
    ...(rec.lastError
      ? {
          lastError: {
            code: rec.lastError.code,
            message: rec.lastError.message,
            ...(rec.lastError.status !== undefined ? { status: rec.lastError.status } : {}),
            ...(rec.state === 'failed' || rec.state === 'dead'
              ? { outcome: giveUpFailure(rec.lastError).outcome }
              : {}),
          },
        }
      : {}),
    ...(rec.response && (rec.state === 'completed' || rec.state === 'failed')
      ? { resultStatus: rec.response.status }
      : {}),
  };
}
