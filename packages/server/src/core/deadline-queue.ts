import { MAX_TIMER_MS } from '@unfazed/contract';

/**
 * Many deadlines of one fixed delay on a single timer. Every entry is due `delayMs` after it
 * was added, so entries fall due in the order they were added: a list in that order, and one
 * timer armed for its head, serve them all. Cancelling unlinks the entry at once (O(1)), so a
 * cancelled entry keeps nothing alive. This replaces a timer per request (store-call bounds,
 * lease renewals) with one per middleware.
 */
export class DeadlineQueue {
  private first: DeadlineEntry | undefined;
  private last: DeadlineEntry | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly delayMs: number) {}

  /** Calls `fire` once, `delayMs` from now, unless the returned entry is cancelled first. */
  add(fire: () => void): DeadlineEntry {
    const entry = new DeadlineEntry(this, performance.now() + this.delayMs, fire);
    entry.prev = this.last;
    if (this.last) this.last.next = entry;
    else this.first = entry;
    this.last = entry;
    if (this.timer === undefined && !this.running) this.arm(this.delayMs);
    return entry;
  }

  /** @internal */
  unlink(entry: DeadlineEntry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.first = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.last = entry.prev;
    entry.prev = entry.next = undefined;
  }

  private arm(ms: number): void {
    // Node turns a delay above 2^31 - 1 ms into 1 ms: the head would then wake the queue every
    // millisecond until it is due. A capped timer wakes up early, finds nothing due and re-arms.
    this.timer = setTimeout(this.run, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(ms))));
    // A bound or a renewal must not keep an otherwise finished process alive.
    this.timer.unref();
  }

  private readonly run = (): void => {
    this.timer = undefined;
    const now = performance.now();
    // Entries a callback adds (a renewal re-adding itself) are due later than every due one.
    this.running = true;
    let entry = this.first;
    while (entry !== undefined && entry.at <= now) {
      const fire = entry.fire;
      entry.cancel();
      try {
        fire?.();
      } catch {
        // A deadline callback never stops the others.
      }
      entry = this.first;
    }
    this.running = false;
    // When the head was cancelled the timer may wake up early; it then re-arms for the new head.
    if (this.first !== undefined) this.arm(this.first.at - now);
  };
}

/** One deadline of a {@link DeadlineQueue}. */
export class DeadlineEntry {
  /** @internal */
  prev: DeadlineEntry | undefined;
  /** @internal */
  next: DeadlineEntry | undefined;

  constructor(
    private queue: DeadlineQueue | undefined,
    /** Due time, `performance.now()` ms. */
    readonly at: number,
    /** @internal `undefined` once fired or cancelled. */
    public fire: (() => void) | undefined,
  ) {}

  /** The callback will not be called (a no-op once fired or cancelled). */
  cancel(): void {
    if (this.queue === undefined) return;
    this.queue.unlink(this);
    this.queue = undefined;
    this.fire = undefined;
  }
}
