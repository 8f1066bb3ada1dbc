import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import { errors, type Dispatcher } from 'undici';
import { encodeFaultBody, type Fault } from '../faults/fault.js';

const kInjectedFault = Symbol.for('unfazed.testing.injectedFault');

/** The fault an interceptor injected into this error, or `undefined` for a real error. */
export function injectedFaultOf(error: unknown): Fault | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as Record<symbol, Fault | undefined>)[kInjectedFault];
}

/** An undici `SocketError` (`UND_ERR_SOCKET`), as a real closed socket gives, tagged with its fault. */
export function injectedSocketError(fault: Fault, message: string): Error {
  return tag(new errors.SocketError(message), fault);
}

/** undici's `HeadersTimeoutError` / `BodyTimeoutError`, as the client's own timers give, tagged. */
export function injectedTimeoutError(fault: Fault, which: 'headers' | 'body'): Error {
  return tag(
    which === 'headers' ? new errors.HeadersTimeoutError() : new errors.BodyTimeoutError(),
    fault,
  );
}

function tag(error: Error, fault: Fault): Error {
  Object.defineProperty(error, kInjectedFault, { value: fault });
  return error;
}

interface Buffered {
  status: number;
  headers: IncomingHttpHeaders;
  statusText: string | undefined;
  chunks: Buffer[];
}

/** Hooks for the real answer when a flow forwards the request. */
export interface ForwardHooks {
  /** Pass the real answer straight to the caller instead of buffering it. */
  passThrough?: boolean;
  /** The real answer ended (buffered unless `passThrough`). */
  onEnd?: (answer: Buffered) => void;
  /** The real request failed. */
  onError?: (error: Error) => void;
}

/**
 * One faulted call: stands between the caller's handler and the real dispatcher, and is the
 * controller the caller sees (abort, pause, resume). Synthesized events are delivered in order
 * and wait while the caller has paused (undici's retry handler pauses to decide), and exactly
 * one ending is delivered.
 * @internal
 */
export class FaultFlow implements Dispatcher.DispatchController {
  readonly #handler: Dispatcher.DispatchHandler;
  #real: Dispatcher.DispatchController | undefined;
  /** An ending (end or error) was queued: nothing else may be queued after it. */
  #ending = false;
  /** The ending was delivered. */
  #done = false;
  #aborted = false;
  #reason: Error | null = null;
  #paused = false;
  readonly #queue: (() => void)[] = [];
  #draining = false;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** True once response headers were queued for the caller. */
  headSent = false;

  constructor(handler: Dispatcher.DispatchHandler) {
    this.#handler = handler;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason: Error): void {
    if (this.#aborted || this.#done) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#clearTimers();
    this.#real?.abort(reason);
    // An abort overtakes whatever was queued.
    this.#queue.length = 0;
    this.#ending = true;
    this.#done = true;
    this.#handler.onResponseError?.(this, reason);
  }

  pause(): void {
    this.#paused = true;
    this.#real?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#real?.resume();
    this.#drain();
  }

  /** Tells the caller the request started; the caller may abort at once. */
  start(): void {
    this.#handler.onRequestStart?.(this, {});
  }

  /** True once an ending was queued or delivered. */
  get done(): boolean {
    return this.#ending;
  }

  /** Runs `fn` after `ms` (jest fake timers apply), unless the flow ends first. */
  later(ms: number, fn: () => void): void {
    if (this.#ending) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#ending) fn();
    }, ms);
    this.#timers.add(timer);
  }

  /** Runs `fn` on the next turn of the promise queue (real, not faked, for zero delays). */
  soon(fn: () => void): void {
    void Promise.resolve().then(() => {
      if (!this.#ending) fn();
    });
  }

  #enqueue(event: () => void, ending = false): void {
    if (this.#ending) return;
    if (ending) this.#ending = true;
    this.#queue.push(event);
    this.#drain();
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (!this.#paused && !this.#done && this.#queue.length > 0) {
        const event = this.#queue.shift() as () => void;
        try {
          event();
        } catch (error) {
          // As undici does when a handler callback throws: the request fails with that error
          // (undici's retry handler relies on this to retry a status).
          if (this.#done) throw error;
          this.#queue.length = 0;
          this.#ending = true;
          this.#done = true;
          this.#clearTimers();
          this.#handler.onResponseError?.(this, error as Error);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Ends the call with an error and cancels the real request, if one is in flight (a client timeout). */
  cancel(error: Error): void {
    this.#real?.abort(error);
    this.#real = undefined;
    this.fail(error);
  }

  /** Ends the call with an error. */
  fail(error: Error): void {
    this.#enqueue(() => {
      this.#done = true;
      this.#clearTimers();
      this.#handler.onResponseError?.(this, error);
    }, true);
  }

  /** Sends headers only; the body follows with {@link FaultFlow.data}. */
  head(status: number, headers: IncomingHttpHeaders, statusText?: string): void {
    if (!this.#ending) this.headSent = true;
    this.#enqueue(() =>
      this.#handler.onResponseStart?.(
        this,
        status,
        headers,
        statusText ?? STATUS_CODES[status] ?? '',
      ),
    );
  }

  /** Sends a body chunk. */
  data(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#enqueue(() => this.#handler.onResponseData?.(this, chunk));
  }

  /** Ends the answer successfully. */
  end(): void {
    this.#enqueue(() => {
      this.#clearTimers();
      // Marked done only after the call: if it throws, the drain turns that into an error.
      this.#handler.onResponseEnd?.(this, {});
      this.#done = true;
    }, true);
  }

  /** A complete synthesized answer. */
  respond(status: number, headers: Readonly<Record<string, string>>, body: unknown): void {
    const encoded = encodeFaultBody(body as never, STATUS_CODES[status] ?? String(status));
    this.head(status, {
      'content-type': encoded.contentType,
      ...headers,
      'content-length': String(encoded.bytes.length),
    });
    this.data(encoded.bytes);
    this.end();
  }

  /** Replays a buffered real answer, optionally in slow chunks. */
  replay(answer: Buffered, chunkSize = Infinity, intervalMs = 0, onStall?: () => void): void {
    this.head(answer.status, answer.headers, answer.statusText);
    const body = Buffer.concat(answer.chunks);
    if (chunkSize === Infinity || body.length <= chunkSize) {
      this.data(body);
      this.end();
      return;
    }
    let offset = 0;
    const step = (): void => {
      this.data(body.subarray(offset, offset + chunkSize));
      offset += chunkSize;
      if (offset >= body.length) this.end();
      else if (onStall) onStall();
      else this.later(intervalMs, step);
    };
    step();
  }

  /** Hands the request to the real dispatcher, buffering the answer unless told to pass it through. */
  forward(
    dispatch: Dispatcher['dispatch'],
    opts: Dispatcher.DispatchOptions,
    hooks: ForwardHooks,
  ): void {
    if (this.#ending) return;
    const buffered: Buffered = { status: 0, headers: {}, statusText: undefined, chunks: [] };
    const inner: Dispatcher.DispatchHandler = {
      onRequestStart: (controller) => {
        this.#real = controller;
        if (this.#aborted) controller.abort(this.#reason ?? new Error('aborted'));
      },
      onResponseStart: (_controller, status, headers, statusText) => {
        if (hooks.passThrough) {
          this.head(status, headers, statusText);
          return;
        }
        buffered.status = status;
        buffered.headers = headers;
        buffered.statusText = statusText;
      },
      onResponseData: (_controller, chunk) => {
        if (hooks.passThrough) this.data(chunk);
        else buffered.chunks.push(chunk);
      },
      onResponseEnd: () => {
        this.#real = undefined;
        if (hooks.passThrough) this.end();
        else hooks.onEnd?.(buffered);
      },
      onResponseError: (_controller, error) => {
        this.#real = undefined;
        if (hooks.onError) hooks.onError(error);
        else this.fail(error);
      },
    };
    dispatch(opts, inner);
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
