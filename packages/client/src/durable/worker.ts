import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { validateOptions } from '@unfazed/contract';
import { stopOptionsRule, type ResolvedWorkerOptions } from './options.js';
import type { DurableStore, OperationRecord } from './types.js';
import type { LeaseGrant } from './lease.js';
import { runLeased } from './operation-run.js';
import { sleep, type ResolvedType, type RunEnv } from './run.js';

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
  const { concurrency, pollInterval } = options;
  const targetLimit = options.targetConcurrency ?? Infinity;

  const id = `${options.name ?? 'worker'}:${randomUUID()}`;
  const active = new Set<Promise<void>>();
  const perTarget = new Map<string, number>();
  const stopController = new AbortController();
  // Every held operation listens to it (`concurrency` listeners).
  setMaxListeners(Infinity, stopController.signal);
  const wake = { controller: new AbortController() };
  let stopping = false;
  let wakeRequested = false;
  const wakeUp = (): void => {
    wakeRequested = true;
    // A fixed reason: abort() without one builds a DOMException (with a stack) on every wake.
    if (!wake.controller.signal.aborted) wake.controller.abort(WAKE);
  };
  let partition = Math.floor(env.random() * env.store.partitions);
  // A retry this worker scheduled wakes it when it comes due, rather than at the next poll
  // (up to `pollInterval` late): the due times it scheduled, with one timer for the earliest.
  let dueTimes: number[] = [];
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeTimerAt = Infinity;
  const armWakeTimer = (): void => {
    const now = env.now();
    dueTimes = dueTimes.filter((t) => t > now);
    let next = Infinity;
    for (const t of dueTimes) if (t < next) next = t;
    if (next === wakeTimerAt) return;
    clearTimeout(wakeTimer);
    wakeTimer = undefined;
    wakeTimerAt = next;
    if (next === Infinity || stopping) return;
    // +1: a timer may fire within the millisecond before `next`, when the claim would miss it.
    wakeTimer = setTimeout(
      () => {
        wakeTimerAt = Infinity;
        wakeUp();
        armWakeTimer();
      },
      next - now + 1,
    );
    wakeTimer.unref();
  };
  const wakeAt = (at: number): void => {
    if (stopping || at <= env.now() || dueTimes.length >= MAX_WAKE_TIMES) return;
    dueTimes.push(at);
    if (at < wakeTimerAt) armWakeTimer();
  };

  const admit = (target: string): (() => void) | undefined => {
    const n = perTarget.get(target) ?? 0;
    if (n >= targetLimit) return undefined;
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

  // Slots promised to claims in flight.
  let reserved = 0;
  // Held operations whose final write is on its way: their slots are free for the next claim,
  // which then goes out in the same batched write as that settle (one round trip for both).
  let leaving = 0;
  const free = (): number => concurrency - active.size - reserved + leaving;

  const spawn = (record: OperationRecord, sentAt: number, takeover: boolean): void => {
    const t = types.get(record.type);
    const token = record.owner ?? id;
    let settling = false;
    // Called when the final write is sent, and again with the due time of a retry or release
    // once the store answered it.
    const onSettling = (dueAt?: number): void => {
      if (dueAt !== undefined) wakeAt(dueAt);
      if (settling) return;
      settling = true;
      leaving++;
      wakeUp();
    };
    const p = (async () => {
      if (!t) {
        // A type this process does not know (e.g. a rolling deploy): hand it back for a while.
        await env.store
          .settle(
            record.id,
            token,
            env.now(),
            { action: 'release', dueAt: env.now() + 30_000, attempts: record.attempts },
            [],
          )
          .catch(() => false);
        return;
      }
      const grant: LeaseGrant = {
        token,
        worker: id,
        sentAt,
        leaseMs:
          record.leaseUntil !== undefined ? record.leaseUntil - record.updatedAt : env.leaseMs,
      };
      await runLeased(env, t, record, grant, {
        stopSignal: stopController.signal,
        admit,
        onSettling,
        takeover,
      });
    })()
      .catch((error: unknown) => env.events.emit('worker-error', { worker: id, error }))
      .finally(() => {
        active.delete(p);
        if (settling) leaving--;
        // The loop already counted this slot as free when the final write was sent.
        else wakeUp();
      });
    active.add(p);
  };

  // A poll that returns after stop() began hands its operations straight back.
  // `sentAt`: when the claim was sent (performance.now()), from which its lease surely runs.
  const take = (record: OperationRecord, sentAt: number, takeover: boolean): void => {
    if (!stopping) return spawn(record, sentAt, takeover);
    const now = env.now();
    env.store
      .settle(
        record.id,
        record.owner ?? id,
        now,
        { action: 'release', dueAt: now, attempts: record.attempts },
        [],
      )
      .catch(() => false);
  };

  // Claims up to `ask` due operations of partition `p`; their slots stay reserved meanwhile.
  const claimFrom = async (p: number, ask: number): Promise<number> => {
    reserved += ask;
    let got: Awaited<ReturnType<DurableStore['claim']>> = [];
    const sentAt = performance.now();
    try {
      got = await env.store.claim(p, env.now(), ask, id, env.leaseMs);
    } finally {
      reserved -= ask;
    }
    for (const { record, takeover } of got) take(record, sentAt, takeover);
    return got.length;
  };

  const loop = async (): Promise<void> => {
    while (!stopping) {
      let claimed = 0;
      try {
        const partitions = env.store.partitions;
        const store = env.store;
        if (store.claimAny) {
          const ask = free();
          if (ask > 0) {
            reserved += ask;
            let got: Awaited<ReturnType<typeof store.claimAny>> = [];
            const sentAt = performance.now();
            try {
              got = await store.claimAny(partition, env.now(), ask, id, env.leaseMs);
            } finally {
              reserved -= ask;
            }
            partition = (partition + 1) % partitions;
            for (const { record, takeover } of got) take(record, sentAt, takeover);
            claimed += got.length;
          }
        } else if (store.dueCounts && free() > 0) {
          const due = await store.dueCounts(env.now());
          const start = partition;
          partition = (partition + 1) % partitions;
          for (let i = 0; i < partitions && !stopping; i++) {
            const p = (start + i) % partitions;
            const slots = free();
            if (slots <= 0) break;
            if ((due[p] ?? 0) === 0) continue;
            claimed += await claimFrom(p, Math.min(slots, due[p] ?? slots));
          }
        } else {
          for (let i = 0; i < partitions && !stopping; i++) {
            const ask = free();
            if (ask <= 0) break;
            const p = partition;
            partition = (partition + 1) % partitions;
            claimed += await claimFrom(p, ask);
          }
        }
      } catch (error) {
        env.events.emit('worker-error', { worker: id, error });
      }
      if (stopping) break;
      if (free() <= 0 || claimed === 0) {
        if (wakeRequested) {
          // Something finished or was started while we were claiming: look again at once.
          wakeRequested = false;
          if (free() > 0) continue;
        }
        wake.controller = new AbortController();
        // Operations that finish (when their final write is sent) and starts in this process
        // wake the loop at once; otherwise it polls.
        await sleep(claimed === 0 ? pollInterval : 60_000, wake.controller.signal);
      }
    }
  };
  // Operations started in this process wake the loop at once instead of at the next poll.
  const waker = wakeUp;
  wakers?.add(waker);
  const running = loop();

  return {
    id,
    get inFlight() {
      return active.size;
    },
    async stop(given) {
      const { timeout } = validateOptions(stopOptionsRule, given, { name: 'worker.stop' });
      stopping = true;
      clearTimeout(wakeTimer);
      wakers?.delete(waker);
      wake.controller.abort(WAKE);
      const deadline = Date.now() + timeout;
      // A poll stuck on an unreachable store must not hold stop() forever.
      await within(running, timeout);
      const timer = setTimeout(() => stopController.abort(), Math.max(0, deadline - Date.now()));
      try {
        await within(settleAll(active), Math.max(0, deadline - Date.now()));
        stopController.abort();
        // Releasing needs the store; past another `timeout` the leases are left to expire.
        await within(settleAll(active), timeout);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Most retry due times a worker remembers to wake up for (the rest are found by polling). */
const MAX_WAKE_TIMES = 10_000;

/** Reason of the wake-up aborts (never thrown). */
const WAKE = new Error('wake');

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
