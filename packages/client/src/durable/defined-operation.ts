import { leaseClock } from './lease-clock.js';
import { randomUUID } from 'node:crypto';
import { validateOptions, type OperationStatus } from '@unfazed/contract';
import type { DurableClient } from './client-port.js';
import type { DurableOperation, StartOptions, StartOutcome } from './durable.js';
import { DurableKeyConflictError } from './errors.js';
import { serialiseInput } from './json-input.js';
import { runLeased } from './operation-run.js';
import { startKeyRule, startOptionsRule } from './options.js';
import { publicStatus, startOutcomeOf } from './public-status.js';
import type { QueueContext } from './queue-context.js';
import { targetOf, type ResolvedType, type RunResult } from './run.js';
import { captureTrace } from './telemetry.js';

/** The signal of a request built only to find its target. */
const NEVER_ABORTED = new AbortController().signal;
import type { OperationRecord } from './types.js';

/** How `start` persists an operation: due when, and whether it tries it here first. */
interface StartPlan {
  readonly now: number;
  readonly dueAt: number;
  /** Try it here for up to `waitMs` (false: the circuit is open, or `wait` is 0). */
  readonly sync: boolean;
  readonly waitMs: number;
}

/**
 * @internal An operation type defined on a durable instance: `start` persists an operation
 * (write-ahead, one round trip) and tries it here for up to `wait` ms; `find` looks a key up.
 */
export class DefinedOperation<I> implements DurableOperation<I> {
  readonly name: string;

  constructor(
    private readonly ctx: QueueContext,
    private readonly t: ResolvedType,
  ) {
    this.name = t.name;
  }

  async find(key: string): Promise<OperationStatus | undefined> {
    validateOptions(startKeyRule, key, { name: `${this.name}.find`, path: 'key' });
    const rec = await this.ctx.env.store.findByKey(this.name, key);
    return rec ? publicStatus(rec, this.t) : undefined;
  }

  async start(input: I, given?: StartOptions): Promise<StartOutcome> {
    const { ctx, name, t } = this;
    const { env } = ctx;
    const startOptions = validateOptions(startOptionsRule, given, { name: `${name}.start` });
    // Checked before anything is written (or built from it).
    const serialised = serialiseInput(name, input, t.maxInputBytes);
    const plan = this.#plan(input, startOptions.wait ?? t.wait);
    const { now, dueAt, sync } = plan;
    const key = startOptions.key;
    // The lease owner of a first attempt here (none when the workers get it).
    const owner = sync ? `start:${ctx.processId}:${randomUUID()}` : '';
    // Chosen before the write, so that every error below can name it.
    const id = env.store.newId(name, key);
    const sentAt = leaseClock();
    const trace = captureTrace();
    const write = env.store.create({
      id,
      type: name,
      input: serialised,
      now,
      deadline: now + t.deadline,
      dueAt,
      ...(key !== undefined ? { key } : {}),
      ...(trace !== undefined ? { trace } : {}),
      ...(sync ? { owner, leaseUntil: now + env.leaseMs } : {}),
    });
    let created: boolean;
    let record: OperationRecord;
    try {
      ({ created, record } = await ctx.withTimeout('the write-ahead of start', write, id));
    } catch (error) {
      if (sync) void ctx.releaseLate(write, owner);
      throw error;
    }
    if (!created) return this.#existing(record, serialised, key, id);
    if (env.events.has('started')) {
      const started = { id: record.id, type: name, existing: false };
      env.events.emit('started', { ...started, ...(key !== undefined ? { key } : {}) });
    }
    if (!sync) return this.#scheduled(record, plan);
    return this.#tryHere(record, plan, owner, sentAt);
  }

  /** Due now and tried here, unless `wait` is 0 or the target's circuit is open. */
  #plan(input: I, waitMs: number): StartPlan {
    const { env } = this.ctx;
    const now = env.now();
    if (waitMs <= 0) return { now, dueAt: now, sync: false, waitMs };
    const circuit = this.#circuitOf(input);
    if (
      circuit?.state === 'open' &&
      circuit.nextProbeAt !== undefined &&
      circuit.nextProbeAt > now
    ) {
      // An open circuit: persist for its probe time and do not fire now.
      const dueAt = circuit.nextProbeAt + Math.round(env.probeJitterMs * env.random());
      return { now, dueAt, sync: false, waitMs };
    }
    return { now, dueAt: now, sync: true, waitMs };
  }

  /** The circuit of the first step's target, when the first step is a request. */
  #circuitOf(input: I): ReturnType<NonNullable<DurableClient['circuit']>> | undefined {
    const { env } = this.ctx;
    const first = this.t.steps[0];
    if (first?.kind !== 'request' || env.client.circuit === undefined) return undefined;
    try {
      const probe = {
        id: '',
        step: first.name,
        stepKey: '',
        results: {},
        attempts: 0,
        signal: NEVER_ABORTED,
      };
      return env.client.circuit(targetOf(first.request(input, probe), env.baseOrigin));
    } catch {
      return undefined;
    }
  }

  /** The key was used before: the same input gives that operation, another is a conflict. */
  #existing(
    record: OperationRecord,
    serialised: string,
    key: string | undefined,
    id: string,
  ): StartOutcome {
    if (record.input !== serialised)
      throw new DurableKeyConflictError(this.name, key ?? '', record.id, id);
    const started = { id: record.id, type: this.name, key: key ?? '', existing: true };
    this.ctx.env.events.emit('started', started);
    return startOutcomeOf(record, true);
  }

  /** Persisted for the workers: wake them if it is due now. */
  #scheduled(record: OperationRecord, { now, dueAt }: StartPlan): StartOutcome {
    if (dueAt <= now) this.ctx.wakeWorkers();
    if (dueAt > now) {
      this.ctx.env.events.emit('scheduled', {
        id: record.id,
        type: this.name,
        dueAt,
        delayMs: dueAt - now,
        reason: 'circuit-open',
      });
    }
    return startOutcomeOf(record, false);
  }

  /** Runs the first attempts under the lease the write-ahead took, for up to `wait`. */
  async #tryHere(
    record: OperationRecord,
    { now, waitMs }: StartPlan,
    owner: string,
    sentAt: number,
  ): Promise<StartOutcome> {
    const { env, processId } = this.ctx;
    let result: RunResult;
    try {
      const grant = {
        token: owner,
        worker: `start:${processId}`,
        sentAt,
        leaseMs:
          record.leaseUntil !== undefined ? record.leaseUntil - record.updatedAt : env.leaseMs,
      };
      result = await runLeased(env, this.t, record, grant, { syncUntil: now + waitMs });
    } catch {
      // The operation is persisted; a store failure while trying it here leaves it to the
      // workers once this lease expires, so the truthful answer is `accepted`.
      return { status: 'accepted', id: record.id, state: 'running', existing: false };
    }
    if (result.kind === 'lost') {
      const current = await env.store.get(record.id).catch(() => undefined);
      return current
        ? startOutcomeOf(current, false)
        : { status: 'accepted', id: record.id, state: 'pending', existing: false };
    }
    return startOutcomeOf(result.record, false);
  }
}
