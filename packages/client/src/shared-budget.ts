import { defineScript, fleetCall, FleetUnavailable, type FleetRedis } from './fleet-redis.js';
import { TokenBucket, type Bucket, type Grant } from './retry-budget.js';

const BRAND = Symbol.for('unfazed.sharedRetryBudget');

/** Options of {@link sharedRetryBudget}. */
export interface SharedRetryBudgetOptions {
  /** Prefix of the Redis keys. Default `unfazed:`. */
  prefix?: string;
  /**
   * How often an instance that used the budget syncs with Redis, in ms: one Lua script pushes
   * what it earned and tops up its share. Default 100. It is also the staleness of the fleet's
   * level as one instance sees it.
   */
  syncMs?: number;
  /**
   * Tokens an instance takes from the fleet's bucket at a time (its local share, spent with no
   * Redis call). Default: a twentieth of `maxTokens`, at least 1. Held shares are the only
   * tokens another instance cannot use at once: at most instances × share.
   */
  share?: number;
  /** A Redis call slower than this is an outage (the local bucket takes over). Default 250 ms. */
  timeoutMs?: number;
  /** The clock of the bucket's refill (epoch ms). Default `Date.now`; tests inject one. */
  now?: () => number;
}

/** A fleet-wide retry budget in Redis, for `retry.budget.shared`; made by {@link sharedRetryBudget}. */
export interface SharedRetryBudget {
  readonly [BRAND]: true;
  readonly redis: FleetRedis;
  readonly prefix: string;
  readonly syncMs: number;
  readonly share: number | undefined;
  readonly timeoutMs: number;
  readonly now: () => number;
}

/**
 * A fleet-wide retry budget: every client given it (in any process) draws retries for an origin
 * from one token bucket in Redis (`<prefix>{budget:<origin>}`). No Redis call per request: an
 * instance spends a local share and syncs every `syncMs` only while it retries or earns below
 * the top. A Redis outage falls back to a local bucket, never to an error.
 */
export function sharedRetryBudget(
  redis: FleetRedis,
  options: SharedRetryBudgetOptions = {},
): SharedRetryBudget {
  return Object.freeze({
    [BRAND]: true as const,
    redis,
    prefix: options.prefix ?? 'unfazed:',
    syncMs: options.syncMs ?? 100,
    share: options.share,
    timeoutMs: options.timeoutMs ?? 250,
    now: options.now ?? Date.now,
  });
}

/** @internal True for a value made by {@link sharedRetryBudget} (any copy of the package). */
export function isSharedRetryBudget(value: unknown): value is SharedRetryBudget {
  return typeof value === 'object' && value !== null && BRAND in value;
}

/** A share not spent for this long goes back to the fleet. */
const IDLE_MS = 1000;

/**
 * @internal One origin's slice of a fleet-wide budget: a local share of tokens withdrawn from
 * Redis (spent with no call), what calls earned (pushed at the next sync), and the local
 * bucket that answers while Redis is unreachable.
 */
export class FleetBucket implements Bucket {
  #share = 0;
  #earned = 0;
  /** The fleet's tokens (shares excluded) as last seen; full until seen. */
  #remote: number;
  #waiting = 0;
  #lastTake = 0;
  #degraded = false;
  #closed = false;
  #sync: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #fallback: TokenBucket;
  readonly #key: string;
  readonly #chunk: number;
  readonly #perMs: number;
  readonly #ttlMs: number;
  readonly #script: (...args: (string | number)[]) => Promise<unknown>;

  constructor(
    origin: string,
    private readonly shared: SharedRetryBudget,
    private readonly max: number,
    private readonly ratio: number,
    refillPerSecond: number,
  ) {
    this.#remote = max;
    this.#fallback = new TokenBucket(max, ratio, refillPerSecond, shared.now);
    this.#key = `${shared.prefix}{budget:${origin}}`;
    this.#chunk = shared.share ?? Math.max(1, Math.ceil(max / 20));
    this.#perMs = refillPerSecond / 1000;
    this.#ttlMs = Math.max(60_000, this.#perMs > 0 ? Math.ceil(max / this.#perMs) : 3_600_000);
    this.#script = defineScript(
      shared.redis,
      'unfazedRetryBudgetSync',
      1,
      new URL('./lua/retry-budget-sync-1.lua', import.meta.url),
    );
  }

  take(): Grant {
    if (this.#degraded) {
      this.#schedule();
      return this.#fallback.take();
    }
    this.#lastTake = this.shared.now();
    if (this.#share >= 1) {
      this.#share -= 1;
      if (this.#share < this.#chunk / 2) this.#schedule();
      return true;
    }
    // The share is spent: one script call tops it up (a retry waits its backoff anyway).
    this.#waiting++;
    return this.#syncNow().then(() => {
      this.#waiting--;
      if (this.#degraded) return this.#fallback.take();
      if (this.#share < 1) return false;
      this.#share -= 1;
      return true;
    });
  }

  earn(refund = 0): void {
    if (this.#degraded) this.#fallback.earn(refund);
    else if (this.#remote + this.#share < this.max) {
      // A refunded token goes back to the share it was taken from; earnings go to the fleet.
      this.#share += refund;
      this.#earned += this.ratio;
      this.#schedule();
    }
  }

  tokens(): number {
    return this.#degraded ? this.#fallback.tokens() : this.#remote + this.#share;
  }

  nextTokenAt(): number {
    if (this.#degraded) return this.#fallback.nextTokenAt();
    const now = this.shared.now();
    const missing = 1 - this.tokens();
    if (missing <= 0) return now + this.shared.syncMs;
    return this.#perMs > 0
      ? now + Math.max(this.shared.syncMs, Math.ceil(missing / this.#perMs))
      : now + 1000;
  }

  /** Gives the unspent share and the earned tokens back to the fleet. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#sync;
    this.#lastTake = -Infinity;
    await this.#run();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#syncNow().then(() => {
        if (this.#earned > 0 || this.#share > 0 || this.#degraded) this.#schedule();
      });
    }, this.shared.syncMs);
    this.#timer.unref();
  }

  #syncNow(): Promise<void> {
    return (this.#sync ??= this.#run().finally(() => {
      this.#sync = undefined;
    }));
  }

  async #run(): Promise<void> {
    const now = this.shared.now();
    const idle = now - this.#lastTake >= IDLE_MS;
    const earned = this.#earned;
    const returned = idle ? this.#share : 0;
    const want = idle || this.#closed ? 0 : Math.max(0, this.#chunk + this.#waiting - this.#share);
    if (earned === 0 && returned === 0 && want === 0 && !this.#degraded) return;
    const answer = await fleetCall(this.shared.redis, this.shared.timeoutMs, () =>
      this.#script(this.#key, this.max, this.#perMs, now, earned + returned, want, this.#ttlMs),
    );
    if (answer instanceof FleetUnavailable || !Array.isArray(answer)) {
      // The local bucket answers until Redis does, starting from the share this instance held:
      // a slow or lost Redis must not hand every instance a full bucket of its own (the fleet's
      // bound would be exceeded N times over); time refills it.
      if (!this.#degraded) {
        this.#fallback.set(this.#share);
        this.#share = 0;
      }
      this.#degraded = true;
      return;
    }
    this.#degraded = false;
    this.#earned -= earned;
    this.#share += Number(answer[0]) - returned;
    this.#remote = Number(answer[1]);
  }
}
