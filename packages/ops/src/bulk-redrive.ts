import { randomUUID } from 'node:crypto';
import type {
  DeadLetterQuery,
  DeadLetterState,
  Durable,
  OperationRecord,
} from '@unfazed/client/durable';

/** The filter of a bulk redrive: the search's filters (no paging). */
export interface BulkRedriveFilter {
  readonly type?: string;
  /** Default both redrivable states, `failed` and `dead`. */
  readonly states?: readonly ('failed' | 'dead')[];
  readonly errorCode?: string;
  readonly status?: number;
  readonly since?: number;
  readonly until?: number;
  /** In the input or in the last error's message. */
  readonly text?: string;
}

/** The clock of bulk redrives: injectable so pacing and holds are tested without real waits. */
export interface OpsClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: OpsClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};

/** A circuit as the console reads it: the shape of the client's `circuit(target)`. */
export interface CircuitView {
  readonly state: string;
  readonly nextProbeAt?: number | undefined;
}

/** One item a bulk redrive could not redrive. */
export interface BulkRedriveFailure {
  readonly id: string;
  readonly error: string;
}

/**
 * A bulk redrive job: `running` (redriving), `held` (the target's circuit is open), then
 * `completed` or `cancelled` (or `failed`: the store failed, see `error`).
 */
export interface BulkRedriveJob {
  readonly id: string;
  readonly state: 'running' | 'held' | 'completed' | 'cancelled' | 'failed';
  readonly filter: BulkRedriveFilter;
  /** Redrives per second. */
  readonly rate: number;
  /** The origin whose circuit holds the job back, when one is watched. */
  readonly target?: string;
  /** Operations matched when the job started (at most `max`). */
  readonly total: number;
  readonly redriven: number;
  /** Items that failed to redrive (no longer failed/dead, or the store refused). */
  readonly failed: readonly BulkRedriveFailure[];
  readonly createdBy: string;
  readonly reason: string;
  readonly startedAt: number;
  readonly finishedAt?: number;
  /** While `held`: when the circuit's next probe is due. */
  readonly heldUntil?: number;
  /** Total time spent held, ms. */
  readonly heldMs: number;
  readonly cancelledBy?: string;
  readonly cancelReason?: string;
  /** Why a `failed` job stopped. */
  readonly error?: string;
}

/** The query a bulk filter searches with: both texts, redrivable states. */
export function filterQuery(filter: BulkRedriveFilter): Omit<DeadLetterQuery, 'cursor' | 'limit'> {
  const states: DeadLetterState[] = filter.states ? [...filter.states] : ['failed', 'dead'];
  return {
    ...filter,
    states,
    ...(filter.text !== undefined ? { textIn: ['input', 'error'] as const } : {}),
  };
}

/**
 * Every match of `filter`, up to `max`, newest first: collected before redriving (a redriven
 * operation leaves the view, which would shift the pages).
 */
export async function collectMatches(
  durable: Durable,
  filter: BulkRedriveFilter,
  max: number,
  keep: (record: OperationRecord) => boolean,
): Promise<{ records: OperationRecord[]; capped: boolean }> {
  const records: OperationRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await durable.deadLetters.list({
      ...filterQuery(filter),
      limit: 1000,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    for (const r of page.items) if (keep(r)) records.push(r);
    cursor = page.cursor;
  } while (cursor !== undefined && records.length <= max);
  return { records: records.slice(0, max), capped: records.length > max };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * @internal One running bulk redrive: redrives its matches one by one, `rate` a second, waiting
 * while `circuit()` says the target's circuit is open, until done or cancelled.
 */
export class BulkRedriveRun {
  readonly #job: Mutable<BulkRedriveJob> & { failed: BulkRedriveFailure[] };
  readonly #abort = new AbortController();
  readonly done: Promise<void>;

  constructor(
    private readonly durable: Durable,
    private readonly clock: OpsClock,
    private readonly circuit: (() => CircuitView | undefined) | undefined,
    ids: readonly string[],
    job: Omit<
      BulkRedriveJob,
      'id' | 'state' | 'redriven' | 'failed' | 'startedAt' | 'heldMs' | 'total'
    >,
  ) {
    this.#job = {
      ...job,
      id: randomUUID(),
      state: 'running',
      total: ids.length,
      redriven: 0,
      failed: [],
      startedAt: clock.now(),
      heldMs: 0,
    };
    this.done = this.#run(ids);
  }

  get id(): string {
    return this.#job.id;
  }

  get finished(): boolean {
    const s = this.#job.state;
    return s === 'completed' || s === 'cancelled' || s === 'failed';
  }

  snapshot(): BulkRedriveJob {
    return structuredClone(this.#job);
  }

  cancel(who: string, reason: string): void {
    if (this.finished) return;
    this.#job.cancelledBy = who;
    this.#job.cancelReason = reason;
    this.#abort.abort();
  }

  async #run(ids: readonly string[]): Promise<void> {
    const job = this.#job;
    const signal = this.#abort.signal;
    const gap = 1000 / job.rate;
    let next = this.clock.now();
    try {
      for (const id of ids) {
        await this.#holdWhileOpen(signal);
        const wait = next - this.clock.now();
        if (wait > 0 && !signal.aborted) await this.clock.sleep(wait, signal);
        if (signal.aborted) break;
        next = Math.max(next, this.clock.now()) + gap;
        try {
          if (await this.durable.deadLetters.redrive(id)) job.redriven++;
          else job.failed.push({ id, error: await this.#whyNot(id) });
        } catch (error) {
          job.failed.push({ id, error: error instanceof Error ? error.message : String(error) });
        }
      }
      job.state = signal.aborted ? 'cancelled' : 'completed';
    } catch (error) {
      job.state = 'failed';
      job.error = error instanceof Error ? error.message : String(error);
    }
    delete job.heldUntil;
    job.finishedAt = this.clock.now();
  }

  /** Waits while the target's circuit is open (checking at its probe time, at least every second). */
  async #holdWhileOpen(signal: AbortSignal): Promise<void> {
    const job = this.#job;
    for (;;) {
      const c = this.circuit?.();
      const now = this.clock.now();
      if (signal.aborted || c === undefined || c.state !== 'open') break;
      const until = c.nextProbeAt ?? now + 1000;
      job.state = 'held';
      job.heldUntil = until;
      const wait = Math.min(Math.max(until - now, 1), 1000);
      await this.clock.sleep(wait, signal);
      job.heldMs += this.clock.now() - now;
    }
    job.state = 'running';
    delete job.heldUntil;
  }

  async #whyNot(id: string): Promise<string> {
    const rec = await this.durable.deadLetters.get(id).catch(() => undefined);
    return rec === undefined
      ? 'the operation no longer exists (discarded)'
      : `the operation is ${rec.record.state}, not failed or dead`;
  }
}
