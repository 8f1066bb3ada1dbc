import type { ResolvedBackoff, DurableBackoffOptions } from './backoff.js';
import { DurableStoreUnavailableError, isDurabilityNotConfirmedError } from './errors.js';
import type { ResolvedType, RunEnv } from './run.js';
import type { HistoryEntry, OperationRecord } from './types.js';
import { redriveCounted } from './telemetry.js';

/**
 * @internal What the parts of one durable instance share: the run environment, the defined
 * types, the workers to wake, and the defaults that operation types inherit.
 */
export class QueueContext {
  readonly types = new Map<string, ResolvedType>();
  /** Wake-ups of this process's workers: a start due now wakes them instead of the next poll. */
  readonly wakers = new Set<() => void>();

  constructor(
    readonly env: RunEnv,
    /** Names this process in the owner of the leases `start` takes. */
    readonly processId: string,
    readonly storeTimeout: number,
    readonly deadline: number,
    /** Backoff layers, later ones winning key by key: the client's, createDurable's. */
    readonly backoffLayers: readonly DurableBackoffOptions[],
    readonly backoff: ResolvedBackoff,
  ) {}

  wakeWorkers(): void {
    for (const wake of this.wakers) wake();
  }

  /**
   * `p`, a store write about `operationId`, within `storeTimeout`; any failure becomes a
   * {@link DurableStoreUnavailableError} naming the operation (a durability error stays itself).
   */
  async withTimeout<T>(what: string, p: Promise<T>, operationId: string): Promise<T> {
    const { store } = this.env;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const message = `The durable store (${store.kind}) did not answer ${what} of ${operationId} within ${this.storeTimeout} ms; the write may still land`;
      timer = setTimeout(
        () => reject(new DurableStoreUnavailableError(message, undefined, operationId)),
        this.storeTimeout,
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
  }

  /**
   * A write-ahead `start` gave up on may still land, leased to a first attempt that will never
   * run: hand it to the workers then, rather than after a whole lease.
   */
  async releaseLate(
    write: Promise<{ created: boolean; record: OperationRecord }>,
    owner: string,
  ): Promise<void> {
    const { env } = this;
    try {
      const { created, record } = await write;
      if (!created || record.owner !== owner) return;
      const now = env.now();
      const entry: HistoryEntry = {
        at: now,
        kind: 'released',
        worker: `start:${this.processId}`,
        note: 'start gave up waiting for its write-ahead, which landed later',
      };
      const s = { action: 'release', dueAt: now, attempts: 0 } as const;
      if (await env.store.settle(record.id, owner, now, s, [entry])) this.wakeWorkers();
    } catch {
      // Not written, or not released: its lease expires and a worker takes it over.
    }
  }

  /**
   * Moves a failed/dead operation back to pending, due at `dueAt`, with a fresh deadline (and,
   * given `input`, an edited input already serialised by `serialiseInput`).
   */
  async redrive(
    rec: OperationRecord,
    dueAt: number,
    reason: string,
    input?: string,
  ): Promise<boolean> {
    const { env } = this;
    const now = env.now();
    const t = this.types.get(rec.type);
    const newDeadline = Math.max(dueAt, now) + (t?.deadline ?? this.deadline);
    const entry: HistoryEntry = {
      at: now,
      kind: 'redriven',
      delayMs: dueAt - now,
      delayReason: reason,
      note: input === undefined ? `from ${rec.state}` : `from ${rec.state}, with an edited input`,
    };
    const ok = await env.store.redrive(rec.id, now, dueAt, newDeadline, entry, input);
    if (ok) {
      env.events.emit('redriven', { id: rec.id, type: rec.type, dueAt });
      redriveCounted(rec.type, reason);
    }
    return ok;
  }
}
