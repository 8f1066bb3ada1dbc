/** What undici calls when an attempt must stop. */
type AbortListener = () => void;

/**
 * The attempt timeout, and the abort signal undici gets for one attempt: one timer, fired when
 * the attempt's time is up or the caller's signal aborts. It replaces cockatiel's
 * `TimeoutPolicy` (cooperative, `abortOnReturn: false`) with the same behaviour at a fraction
 * of the cost: that policy creates an `AbortController` per execution and listens on its
 * signal, which on Node 20 costs more than the rest of the client's work. undici accepts any
 * EventEmitter-like object as `signal` (it calls `on`/`once` and `removeListener`, and reads
 * `aborted` and `reason`); nothing else sees this object.
 *
 * `clear()` ends it once the attempt returned: a response body still being read is never
 * aborted by it afterwards.
 */
export class AttemptTimer {
  /** True once the time ran out or the caller aborted during the attempt. */
  aborted = false;
  /** Left undefined so that undici reports its own `RequestAbortedError`. */
  readonly reason: undefined = undefined;
  private listener: AbortListener | undefined = undefined;
  private more: AbortListener[] | undefined = undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly callerSignal: AbortSignal | undefined;
  private readonly onCallerAbort: (() => void) | undefined;

  /** Starts the timer; a caller's signal that is already aborted fires it at once. */
  constructor(ms: number, callerSignal: AbortSignal | undefined) {
    if (callerSignal?.aborted) {
      this.aborted = true;
      return;
    }
    this.timer = setTimeout(fire, ms, this);
    if (callerSignal) {
      const onCallerAbort = (): void => fire(this);
      callerSignal.addEventListener('abort', onCallerAbort, { once: true });
      this.callerSignal = callerSignal;
      this.onCallerAbort = onCallerAbort;
    }
  }

  /** Stops the timer and forgets the caller's signal; later aborts no longer reach undici. */
  clear(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
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
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const first = this.listener;
    const more = this.more;
    this.listener = undefined;
    this.more = undefined;
    first?.();
    if (more) for (const listener of more) listener();
  }
}

function fire(timer: AttemptTimer): void {
  timer.fire();
}
