import { leaseClock } from './lease-clock.js';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { validateOptions } from '@unfazed/contract';
import { stopOptionsRule, type ResolvedWorkerOptions } from './options.js';
import type { DurableStore, OperationRecord } from './types.js';
import type { LeaseGrant } from './lease.js';
import { runLeased } from './operation-run.js';
import type { ResolvedType, RunEnv } from './run.js';

/** Options of `durable.startWorker()`. */
export interface WorkerOptions {
  /**
   * Operations run at once by this worker. Default 8. A slot is reused as soon as the write
   * that ends its operation has been sent (the next claim goes out with it).
   */
  readonly concurrency?: number;
  /** Wait between polls when nothing is due, ms. Default 250. */
  readonly pollInterval?: number;
  /**
   * Most attempts in flight at once to one target (origin, or path for relative requests) in
   * this worker. Default: no limit beyond `concurrency`.
   */
  readonly targetConcurrency?: number;
  /** Name shown in history and events; a random suffix keeps lease tokens unique. */
  readonly name?: string;
}

/** A running worker. */
export interface DurableWorker {
  /**
   * This worker's id (`<name>:<uuid>`), shown in history and events. Each operation it claims is
   * leased under a token of its own derived from it (`<id>#...`, the record's `owner`).
   */
  readonly id: string;
  /** Operations this worker holds right now. */
  readonly inFlight: number;
  /**
   * Stops claiming, waits up to `timeout` ms (default 30 000) for held operations to finish,
   * then aborts the rest and releases them (due at once, for another worker). Resolves when
   * nothing is held — or, when the store cannot be reached to release them, after another
   * `timeout`, leaving their leases to expire.
   */
  stop(options?: { timeout?: number }): Promise<void>;
}

/** @internal Starts the claim loop. */
export function startWorker(
  env: RunEnv,
  types: ReadonlyMap<string, ResolvedType>,
  options: ResolvedWorkerOptions,
  wakers?: Set<() => void>,
): DurableWorker {
  return new QueueWorker(env, types, options, wakers);
}

/**
 * @internal A worker: claims due operations into free slots and runs each as an
 * {@link OperationRun}. Its slot accounting (`active`, `reserved`, `leaving`), the per-target
 * counts and the wake-up state are here and nowhere else.
 */
export class QueueWorker implements DurableWorker {
  readonly id: string;
  readonly #active = new Set<Promise<void>>();
  readonly #perTarget = new Map<string, number>();
  readonly #targetLimit: number;
  /** Aborts held operations when a stopping worker runs out of patience. */
  readonly #stopController = new AbortController();
  /** Ends the loop's current idle wait (a plain callback: an abort per wake-up costs more). */
  #endIdle: (() => void) | undefined;
  #wakeRequested = false;
  #stopping = false;
  #partition: number;
  /** Slots promised to claims in flight. */
  #reserved = 0;
  /**
   * Held operations whose final write is on its way: their slots are free for the next claim,
   * which then goes out in the same batched write as that settle (one round trip for both).
   */
  #leaving = 0;
  readonly #dueWakeups: DueWakeups;
  readonly #running: Promise<void>;
  readonly #waker = (): void => this.#wakeUp();

  constructor(
    private readonly env: RunEnv,
    private readonly types: ReadonlyMap<string, ResolvedType>,
    private readonly options: ResolvedWorkerOptions,
    private readonly wakers?: Set<() => void>,
  ) {
    this.id = `${options.name ?? 'worker'}:${randomUUID()}`;
    this.#targetLimit = options.targetConcurrency ?? Infinity;
    // Every held operation listens to it (`concurrency` listeners).
    setMaxListeners(Infinity, this.#stopController.signal);
    this.#partition = Math.floor(env.random() * env.store.partitions);
    this.#dueWakeups = new DueWakeups(env.now, this.#waker);
    // Operations started in this process wake the loop at once instead of at the next poll.
    wakers?.add(this.#waker);
    this.#running = this.#loop();
  }

  get inFlight(): number {
    return this.#active.size;
  }

  async stop(given?: { timeout?: number }): Promise<void> {
    const { timeout } = validateOptions(stopOptionsRule, given, { name: 'worker.stop' });
    this.#stopping = true;
    this.#dueWakeups.stop();
    this.wakers?.delete(this.#waker);
    this.#endIdle?.();
    const now = (): number => this.env.now();
    const deadline = now() + timeout;
    // A poll stuck on an unreachable store must not hold stop() forever.
    await within(this.#running, timeout);
    const active = this.#active;
    const abort = (): void => this.#stopController.abort();
    const timer = setTimeout(abort, Math.max(0, deadline - now()));
    try {
      await within(settleAll(active), Math.max(0, deadline - now()));
      abort();
      // Releasing needs the store; past another `timeout` the leases are left to expire.
      await within(settleAll(active), timeout);
    } finally {
      clearTimeout(timer);
    }
  }

  #wakeUp(): void {
    this.#wakeRequested = true;
    const endIdle = this.#endIdle;
    this.#endIdle = undefined;
    endIdle?.();
  }

  /** Waits `ms`, or until the next wake-up. */
  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.#endIdle === done) this.#endIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#endIdle = done;
    });
  }

  #free(): number {
    return this.options.concurrency - this.#active.size - this.#reserved + this.#leaving;
  }

  /** Takes a slot of `target`'s limit; `undefined` when the target is at its limit. */
  #admit = (target: string): (() => void) | undefined => {
    const perTarget = this.#perTarget;
    const n = perTarget.get(target) ?? 0;
    if (n >= this.#targetLimit) return undefined;
    perTarget.set(target, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (perTarget.get(target) ?? 1) - 1;
      if (left === 0) perTarget.delete(target);
      else perTarget.set(target, left);
    };
  };

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let claimed = 0;
      // This round answers every wake-up so far; only one that comes while it claims asks for
      // another (an idle worker woken once claimed twice: one empty round trip per operation).
      this.#wakeRequested = false;
      try {
        claimed = await this.#claimRound();
      } catch (error) {
        this.env.events.emit('worker-error', { worker: this.id, error });
      }
      if (this.#stopping) break;
      if (this.#free() <= 0 || claimed === 0) {
        if (this.#wakeRequested) {
          // Something finished or was started while we were claiming: look again at once.
          this.#wakeRequested = false;
          if (this.#free() > 0) continue;
        }
        // Operations that finish (when their final write is sent) and starts in this process
        // wake the loop at once; otherwise it polls.
        const idle = claimed === 0 ? this.options.pollInterval : 60_000;
        await this.#idle(idle);
      }
    }
  }

  /** One round of claims, the way the store supports best; returns how many were claimed. */
  async #claimRound(): Promise<number> {
    const { env } = this;
    const store = env.store;
    const partitions = store.partitions;
    if (store.claimAny) {
      const ask = this.#free();
      if (ask <= 0) return 0;
      const p = this.#partition;
      const claimAny = store.claimAny.bind(store);
      const got = await this.#claimWith(ask, (now) => claimAny(p, now, ask, this.id, env.leaseMs));
      this.#partition = (p + 1) % partitions;
      return got;
    }
    let claimed = 0;
    if (store.dueCounts && this.#free() > 0) {
      const due = await store.dueCounts(env.now());
      const start = this.#partition;
      this.#partition = (start + 1) % partitions;
      for (let i = 0; i < partitions && !this.#stopping; i++) {
        const p = (start + i) % partitions;
        const slots = this.#free();
        if (slots <= 0) break;
        if ((due[p] ?? 0) === 0) continue;
        claimed += await this.#claimFrom(p, Math.min(slots, due[p] ?? slots));
      }
      return claimed;
    }
    for (let i = 0; i < partitions && !this.#stopping; i++) {
      const ask = this.#free();
      if (ask <= 0) break;
      const p = this.#partition;
      this.#partition = (p + 1) % partitions;
      claimed += await this.#claimFrom(p, ask);
    }
    return claimed;
  }

  /** Claims up to `ask` due operations of partition `p`. */
  #claimFrom(p: number, ask: number): Promise<number> {
    const { env } = this;
    return this.#claimWith(ask, (now) => env.store.claim(p, now, ask, this.id, env.leaseMs));
  }

  /** Runs one claim with `ask` slots reserved meanwhile, and takes what it got. */
  async #claimWith(ask: number, claim: (now: number) => Promise<ClaimedList>): Promise<number> {
    this.#reserved += ask;
    let got: ClaimedList = [];
    // When the claim was sent, from which its lease surely runs.
    const sentAt = leaseClock();
    try {
      got = await claim(this.env.now());
    } finally {
      this.#reserved -= ask;
    }
    for (const { record, takeover } of got) this.#take(record, sentAt, takeover);
    return got.length;
  }

  /** A claim that returns after stop() began hands its operations straight back. */
  #take(record: OperationRecord, sentAt: number, takeover: boolean): void {
    if (!this.#stopping) return this.#spawn(record, sentAt, takeover);
    const now = this.env.now();
    const release = { action: 'release', dueAt: now, attempts: record.attempts } as const;
    this.env.store.settle(record.id, record.owner ?? this.id, now, release, []).catch(() => false);
  }

  #spawn(record: OperationRecord, sentAt: number, takeover: boolean): void {
    let settling = false;
    // Called when the final write is sent (with the earliest due time of a retry or release),
    // and again with its latest once the store answered it. A claim of this operation cancels
    // the wake-up at the latest time it still had.
    const wakeups = this.#dueWakeups;
    wakeups.claimed(record.id);
    const onSettling = (dueAt?: number, earliest?: number): void => {
      if (earliest !== undefined) wakeups.add(earliest);
      if (dueAt !== undefined) wakeups.add(dueAt, record.id);
      if (settling) return;
      settling = true;
      this.#leaving++;
      this.#wakeUp();
    };
    const p = this.#hold(record, sentAt, takeover, onSettling)
      .catch((error: unknown) => this.env.events.emit('worker-error', { worker: this.id, error }))
      .finally(() => {
        this.#active.delete(p);
        if (settling) this.#leaving--;
        // The loop already counted this slot as free when the final write was sent.
        else this.#wakeUp();
      });
    this.#active.add(p);
  }

  /** Runs a claimed operation under its lease. */
  async #hold(
    record: OperationRecord,
    sentAt: number,
    takeover: boolean,
    onSettling: (dueAt?: number, earliest?: number) => void,
  ): Promise<void> {
    const { env } = this;
    const t = this.types.get(record.type);
    const token = record.owner ?? this.id;
    if (!t) {
      // A type this process does not know (e.g. a rolling deploy): hand it back for a while.
      const now = env.now();
      const later = { action: 'release', dueAt: now + 30_000, attempts: record.attempts } as const;
      await env.store.settle(record.id, token, now, later, []).catch(() => false);
      return;
    }
    const leaseMs =
      record.leaseUntil !== undefined ? record.leaseUntil - record.updatedAt : env.leaseMs;
    const grant: LeaseGrant = { token, worker: this.id, sentAt, leaseMs };
    await runLeased(env, t, record, grant, {
      stopSignal: this.#stopController.signal,
      admit: this.#admit,
      onSettling,
      takeover,
    });
  }
}

type ClaimedList = Awaited<ReturnType<DurableStore['claim']>>;

/** A time to wake up at; with `id`, only if that operation was not claimed here since. */
interface Wakeup {
  readonly at: number;
  readonly id: string | undefined;
}

/**
 * A retry this worker scheduled wakes it when it comes due, rather than at the next poll (up to
 * `pollInterval` late): the due times it scheduled, with one timer for the earliest.
 *
 * The store counts a due time from when it ran the write, between its send and its reply. The
 * worker wakes at the earliest time (counted from the send), and at the latest (from the reply)
 * only if this worker has not claimed the operation by then: the store ran the write late, and
 * the claim at the earliest time did not find it due yet.
 */
class DueWakeups {
  /** The wake-ups not yet past, as a binary min-heap: O(log n) each, whatever the backlog. */
  readonly #heap: Wakeup[] = [];
  /** The latest wake-up of each operation that has one (a later claim cancels it). */
  readonly #latest = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #stopped = false;

  constructor(
    private readonly now: () => number,
    private readonly wake: () => void,
  ) {}

  /** Wake up at `at`; with `id`, only if operation `id` is not claimed here before then. */
  add(at: number, id?: string): void {
    if (this.#stopped || at <= this.now() || this.#heap.length >= MAX_WAKE_TIMES) return;
    if (id !== undefined) this.#latest.set(id, at);
    this.#push({ at, id });
    if (at < this.#timerAt && this.#arm()) this.wake();
  }

  /** This worker claimed operation `id`: its latest wake-up is not needed. */
  claimed(id: string): void {
    if (this.#latest.size > 0) this.#latest.delete(id);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** A wake-up that still counts: a plain one, or the latest of an operation not yet claimed. */
  #live(w: Wakeup): boolean {
    return w.id === undefined || this.#latest.get(w.id) === w.at;
  }

  /** Drops what is past (true when a live one was among it) and times the next live one. */
  #arm(): boolean {
    const now = this.now();
    const heap = this.#heap;
    let due = false;
    for (let top = heap[0]; top !== undefined; top = heap[0]) {
      const live = this.#live(top);
      if (live && top.at > now) break;
      if (live) {
        due = true;
        if (top.id !== undefined) this.#latest.delete(top.id);
      }
      this.#pop();
    }
    const next = heap[0]?.at ?? Infinity;
    if (next === this.#timerAt) return due;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === Infinity || this.#stopped) return due;
    // No wake-up before this process's clock reads `next` (a timer may fire within the
    // millisecond before it: #arm then only times the rest), so Redis's clock, the same wall
    // clock read later, has reached it when the claim runs.
    const fire = (): void => {
      this.#timerAt = Infinity;
      if (this.#arm()) this.wake();
    };
    this.#timer = setTimeout(fire, next - now);
    this.#timer.unref();
    return due;
  }

  #push(w: Wakeup): void {
    const heap = this.#heap;
    let i = heap.push(w) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = heap[parent] as Wakeup;
      if (up.at <= w.at) break;
      heap[i] = up;
      i = parent;
    }
    heap[i] = w;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop() as Wakeup;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && (heap[r] as Wakeup).at < (heap[l] as Wakeup).at ? r : l;
      if ((heap[c] as Wakeup).at >= last.at) break;
      heap[i] = heap[c] as Wakeup;
      i = c;
    }
    heap[i] = last;
  }
}

/** Most retry due times a worker remembers to wake up for (the rest are found by polling). */
const MAX_WAKE_TIMES = 10_000;

async function settleAll(active: Set<Promise<void>>): Promise<void> {
  while (active.size > 0) await Promise.allSettled([...active]);
}

/** Waits for `p`, or at most `ms`; never rejects. */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
