import type { Events } from './events.js';
import { FleetBucket, isSharedRetryBudget, type SharedRetryBudget } from './shared-budget.js';

/** The resolved `retry.budget` option. */
export interface BudgetConfig {
  readonly maxTokens: number;
  readonly tokenRatio: number;
  readonly refillPerSecond: number;
  readonly shared?: SharedRetryBudget | undefined;
}

/**
 * A grant: `true` (retry), `false` (the budget is exhausted), or, for a fleet-wide budget whose
 * local share is spent, the pending answer of the one Redis script that tops it up.
 */
export type Grant = boolean | Promise<boolean>;

/** One origin's budget, local or fleet-wide. */
export interface Bucket {
  /** Takes one token for a retry. */
  take(): Grant;
  /**
   * A call the downstream answered without a transient failure: earns `tokenRatio`, plus
   * `refund` (the token a queued retry took, given back because it succeeded).
   */
  earn(refund?: number): void;
  /** Tokens left (the fleet's, as last seen, plus this instance's share). */
  tokens(): number;
  /** Epoch ms by which a token should be back (refill or the next sync). */
  nextTokenAt(): number;
  close(): Promise<void>;
}

/**
 * A token bucket in the spirit of gRPC retry throttling: starts full at `maxTokens`, a retry
 * takes one token, a success earns `tokenRatio`, and `refillPerSecond` tokens come back with
 * time (Finagle's floor, so that a queue that only retries is not stuck forever). A retry is
 * allowed while at least one token is left. `now` is injected so refills are testable.
 */
export class TokenBucket implements Bucket {
  #tokens: number;
  #at: number;
  readonly #perMs: number;

  constructor(
    readonly max: number,
    private readonly ratio: number,
    refillPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = max;
    this.#perMs = refillPerSecond / 1000;
    this.#at = now();
  }

  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  earn(refund = 0): void {
    // No clock read: the healthy path only compares.
    if (this.#tokens < this.max)
      this.#tokens = Math.min(this.max, this.#tokens + this.ratio + refund);
  }

  /** Sets the level (a fleet bucket going local keeps only the share it held). */
  set(n: number): void {
    this.#refill();
    this.#tokens = Math.min(this.max, Math.max(0, n));
  }

  /** Gives back tokens taken from elsewhere (a fleet share returned on an outage). */
  add(n: number): void {
    this.#tokens = Math.min(this.max, this.#tokens + n);
  }

  tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  nextTokenAt(): number {
    const now = this.now();
    const missing = 1 - this.tokens();
    if (missing <= 0) return now;
    // No time refill: successes may still earn it back; look again in a second.
    return this.#perMs > 0 ? now + Math.ceil(missing / this.#perMs) : now + 1000;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #refill(): void {
    const now = this.now();
    if (now > this.#at) {
      if (this.#tokens < this.max)
        this.#tokens = Math.min(this.max, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
  }
}

/** What a budget refusal reports. */
export interface BudgetRefusal {
  readonly key: string;
  readonly tokens: number;
  readonly retryAt: number;
  readonly scope: 'local' | 'fleet';
}

/** The client's retry budgets, one per origin, created on first use. */
export class RetryBudgets {
  private readonly buckets = new Map<string, Bucket>();
  readonly scope: 'local' | 'fleet';

  constructor(
    readonly config: BudgetConfig,
    private readonly events: Events,
  ) {
    this.scope = config.shared ? 'fleet' : 'local';
  }

  /** The bucket of `origin`, created when missing. */
  get(origin: string): Bucket {
    let bucket = this.buckets.get(origin);
    if (bucket === undefined) {
      const { maxTokens, tokenRatio, refillPerSecond, shared } = this.config;
      bucket =
        shared !== undefined && isSharedRetryBudget(shared)
          ? new FleetBucket(origin, shared, maxTokens, tokenRatio, refillPerSecond)
          : new TokenBucket(maxTokens, tokenRatio, refillPerSecond);
      this.buckets.set(origin, bucket);
    }
    return bucket;
  }

  /** A success on `origin`; `refund` gives back the token its retry took (queued retries). */
  earn(origin: string, refund = 0): void {
    this.get(origin).earn(refund);
  }

  /** What to report when `origin`'s budget refused a retry; emits the event. */
  refused(origin: string, call: { method: string; url: string }, attempt: number): BudgetRefusal {
    const bucket = this.get(origin);
    const refusal = {
      key: origin,
      tokens: bucket.tokens(),
      retryAt: bucket.nextTokenAt(),
      scope: this.scope,
    };
    if (this.events.has('retry-budget-exhausted')) {
      this.events.emit('retry-budget-exhausted', {
        ...refusal,
        method: call.method,
        url: call.url,
        attempt,
      });
    }
    return refusal;
  }

  /** Tokens left per origin, for `describe()` and the gauge. */
  *levels(): Iterable<[string, number]> {
    for (const [origin, bucket] of this.buckets) yield [origin, bucket.tokens()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.buckets.values()].map((b) => b.close()));
  }
}
