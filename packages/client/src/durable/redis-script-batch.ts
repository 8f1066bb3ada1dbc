import type { Cluster, Redis } from 'ioredis';
import { DurableStoreUnavailableError } from './errors.js';

/** A script waiting for the next batched write. */
interface Pending {
  readonly name: string;
  readonly args: (string | number)[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type ScriptCall = (...args: unknown[]) => unknown;

/**
 * @internal Sends the store's scripts. On a standalone Redis the scripts asked for in one turn
 * of the event loop (e.g. the settles of every attempt whose response arrived in one poll phase)
 * go out in one write, as a pipeline: one syscall and one reply parse instead of one per script.
 * Not ioredis's `enableAutoPipelining`: only these scripts are batched, and a lone script is
 * sent as is. On a cluster every script goes out at once.
 */
export class ScriptBatch {
  #pending: Pending[] = [];
  #flushing: NodeJS.Immediate | undefined;
  /** Scripts sent and not yet answered, so that `close()` can wait for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly batched: boolean,
  ) {}

  /** Runs the script `name` (defined with `defineCommand`) with `args`. */
  send<T>(name: string, ...args: (string | number)[]): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const reply = !this.batched
      ? (this.#direct(name)(...args) as Promise<T>)
      : new Promise<T>((resolve, reject) => {
          if (this.#pending.length === 0) this.#flushing = setImmediate(() => this.flush());
          this.#pending.push({ name, args, resolve: resolve as (v: unknown) => void, reject });
        });
    const tracked = reply.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
    return reply;
  }

  /**
   * Sends what waits for the next batch at once, refuses every later script, and resolves when
   * every script sent has been answered (or failed).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.flush();
    await Promise.all([...this.#inFlight]);
  }

  /** Sends the scripts waiting for the next batch now (also what `close()` of the store does). */
  flush(): void {
    clearImmediate(this.#flushing);
    this.#flushing = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const lone = batch.length === 1 ? batch[0] : undefined;
    if (lone) {
      (this.#direct(lone.name)(...lone.args) as Promise<unknown>).then(lone.resolve, lone.reject);
      return;
    }
    const pipeline = this.redis.pipeline() as unknown as Record<string, ScriptCall> & {
      exec(): Promise<unknown>;
    };
    // A callback per script settles its caller as soon as its own reply is read, as a direct
    // call would, rather than after the whole batch.
    for (const q of batch)
      pipeline[q.name]?.(...q.args, (error: Error | null, reply: unknown) => {
        if (error) q.reject(error);
        else q.resolve(reply);
      });
    pipeline.exec().catch((error: unknown) => {
      for (const q of batch) q.reject(error);
    });
  }

  #direct(name: string): ScriptCall {
    const redis = this.redis as unknown as Record<string, ScriptCall>;
    return (...args) => (redis[name] as ScriptCall).apply(this.redis, args);
  }
}

/** What a script asked for after `close()` fails with. */
export function closedError(): DurableStoreUnavailableError {
  return new DurableStoreUnavailableError('The durable store was closed');
}
