/** What undici calls when an attempt must stop. */
type AbortListener = () => void;

/**
 * The attempt timeout, and the abort signal undici gets for one attempt: fired when the
 * attempt's time is up or the caller's signal aborts. It replaces cockatiel's `TimeoutPolicy`
 * (cooperative, `abortOnReturn: false`) with the same behaviour at a fraction of the cost: that
 * policy creates an `AbortController` per execution and listens on its signal, which on
 * Node 20 costs more than the rest of the client's work. undici accepts any EventEmitter-like
 * object as `signal` (it calls `on`/`once` and `removeListener`, and reads `aborted` and
 * `reason`); nothing else sees this object.
 *
 * `clear()` ends it once the attempt returned: a response body still being read is never
 * aborted by it afterwards.
 */
export class AttemptTimer {
  /** True once the time ran out or the caller aborted during the attempt. */
  aborted = false;
  /** Left undefined so that undici reports its own `RequestAbortedError`. */
  readonly reason: undefined = undefined;
  /** `performance.now()` at which the time is up. */
  readonly deadline: number;
  /** @internal Links in the {@link AttemptTimers} list, while in it. */
  prev: AttemptTimer | undefined = undefined;
  /** @internal */
  next: AttemptTimer | undefined = undefined;
  /** @internal The list this timer is in, if any. */
  list: AttemptTimers | undefined = undefined;
  private own: NodeJS.Timeout | undefined = undefined;
  private listener: AbortListener | undefined = undefined;
  private more: AbortListener[] | undefined = undefined;
  private readonly callerSignal: AbortSignal | undefined;
  private readonly onCallerAbort: (() => void) | undefined;

  /**
   * Starts the timer, in `timers`' shared list when it can keep it in order, else on a timer of
   * its own. A caller's signal that is already aborted fires it at once. `now` spares a clock
   * read when the caller just made one.
   */
  constructor(
    ms: number,
    callerSignal: AbortSignal | undefined,
    timers?: AttemptTimers,
    now = performance.now(),
  ) {
    this.deadline = now + ms;
    if (callerSignal?.aborted) {
      this.aborted = true;
      return;
    }
    if (!timers?.append(this)) this.own = setTimeout(fire, ms, this);
    if (callerSignal) {
      const onCallerAbort = (): void => this.fire();
      callerSignal.addEventListener('abort', onCallerAbort, { once: true });
      this.callerSignal = callerSignal;
      this.onCallerAbort = onCallerAbort;
    }
  }

  /** Stops the timer and forgets the caller's signal; later aborts no longer reach undici. */
  clear(): void {
    this.stop();
    if (this.onCallerAbort) this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
    this.listener = undefined;
    this.more = undefined;
  }

  /** @internal EventEmitter shape for undici. */
  on(_event: 'abort', listener: AbortListener): this {
    if (this.listener === undefined) this.listener = listener;
    else (this.more ??= []).push(listener);
    return this;
  }

  /** @internal EventEmitter shape for undici (the timer fires at most once). */
  once(event: 'abort', listener: AbortListener): this {
    return this.on(event, listener);
  }

  /** @internal EventEmitter shape for undici. */
  removeListener(_event: 'abort', listener: AbortListener): this {
    if (this.listener === listener) this.listener = undefined;
    else if (this.more) {
      const i = this.more.indexOf(listener);
      if (i >= 0) this.more.splice(i, 1);
    }
    return this;
  }

  /** @internal EventEmitter shape for undici. */
  off(event: 'abort', listener: AbortListener): this {
    return this.removeListener(event, listener);
  }

  /** @internal Fires the listeners once. */
  fire(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.stop();
    const first = this.listener;
    const more = this.more;
    this.listener = undefined;
    this.more = undefined;
    first?.();
    if (more) for (const listener of more) listener();
  }

  private stop(): void {
    if (this.list) this.list.remove(this);
    else if (this.own !== undefined) {
      clearTimeout(this.own);
      this.own = undefined;
    }
  }
}

function fire(timer: AttemptTimer): void {
  timer.fire();
}

/**
 * The running attempt timers of one client, in deadline order, behind a single Node timer.
 * Attempts of one client mostly share one timeout, so each new deadline is the latest and joins
 * the tail; clearing one unlinks it. Under load this replaces a Node timer per attempt (create,
 * insert, clear) with two pointer updates. When the list empties the Node timer is kept but
 * unreferenced (an idle client does not keep the process alive), and referenced again by the
 * next attempt: one call after another then costs no timer either.
 */
export class AttemptTimers {
  private head: AttemptTimer | undefined = undefined;
  private tail: AttemptTimer | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** `performance.now()` the Node timer fires at (give or take its millisecond rounding). */
  private armedFor = 0;

  /** Adds `t` when that keeps the list in deadline order; false when it would not. */
  append(t: AttemptTimer): boolean {
    const tail = this.tail;
    if (tail !== undefined && t.deadline < tail.deadline) return false;
    t.list = this;
    t.prev = tail;
    if (tail) tail.next = t;
    else this.head = t;
    this.tail = t;
    if (this.timer === undefined) this.arm(t.deadline);
    else if (tail === undefined) {
      // The idle timer fires by this deadline (then expire() re-arms for it) or must be moved.
      if (this.armedFor <= t.deadline) this.timer.ref();
      else {
        clearTimeout(this.timer);
        this.arm(t.deadline);
      }
    }
    return true;
  }

  /** Unlinks `t`. */
  remove(t: AttemptTimer): void {
    const { prev, next } = t;
    if (prev) prev.next = next;
    else this.head = next;
    if (next) next.prev = prev;
    else this.tail = prev;
    t.prev = undefined;
    t.next = undefined;
    t.list = undefined;
    if (this.head === undefined) this.timer?.unref();
  }

  /** @internal Fires every timer whose deadline passed, then waits for the next one. */
  expire(): void {
    this.timer = undefined;
    const now = performance.now();
    let t = this.head;
    while (t !== undefined && t.deadline <= now) {
      t.fire();
      t = this.head;
    }
    if (t !== undefined && this.timer === undefined) this.arm(t.deadline);
  }

  /** True while the Node timer keeps the process alive (an attempt is running). */
  get holdsProcess(): boolean {
    return this.timer?.hasRef() ?? false;
  }

  private arm(deadline: number): void {
    const now = performance.now();
    const ms = Math.max(1, Math.ceil(deadline - now));
    this.armedFor = now + ms;
    this.timer = setTimeout(expire, ms, this);
  }
}

function expire(timers: AttemptTimers): void {
  timers.expire();
}
