import type { DelayReason } from './errors.js';

/** States a circuit can be in, as the client reports them. */
export type CircuitStateName = 'closed' | 'open' | 'half-open';

/** Payloads of the client's events, by event name. */
export interface ClientEvents {
  /** An attempt is about to be sent. */
  'attempt-start': {
    readonly method: string;
    readonly url: string;
    readonly idempotencyKey: string | undefined;
    /** 1-based. */
    readonly attempt: number;
  };
  /** An attempt ended. */
  'attempt-end': {
    readonly method: string;
    readonly url: string;
    readonly idempotencyKey: string | undefined;
    readonly attempt: number;
    readonly durationMs: number;
    /** The contract's verdict kind, or `aborted`. */
    readonly outcome:
      'success' | 'transient' | 'permanent' | 'in-flight' | 'fingerprint-mismatch' | 'aborted';
    /** e.g. `status 503`, `ECONNRESET`. */
    readonly reason: string;
    readonly status?: number;
    readonly error?: unknown;
  };
  /** A retry was scheduled. */
  retry: {
    readonly method: string;
    readonly url: string;
    readonly idempotencyKey: string | undefined;
    /** The attempt that will run after the wait (1-based). */
    readonly nextAttempt: number;
    readonly delayMs: number;
    readonly delayReason: DelayReason;
    /** What failed, e.g. `status 503`. */
    readonly cause: string;
  };
  /** A circuit changed state. */
  circuit: {
    readonly key: string;
    readonly from: CircuitStateName;
    readonly to: CircuitStateName;
    /** When the circuit opened: epoch ms from which a probe is let through. */
    readonly nextProbeAt?: number;
  };
  /**
   * The fleet-wide circuit (`breaker.shared`): another instance opened or closed a circuit and
   * this one followed (`opened`, `closed`), this one shared its own change (`published-open`,
   * `published-close`), took the fleet's probe lease (`probe-owner`) or found it held
   * (`probe-elsewhere`), or Redis did not answer and the local breaker decides (`unavailable`).
   */
  'shared-circuit': {
    readonly key: string;
    readonly action:
      | 'opened'
      | 'closed'
      | 'published-open'
      | 'published-close'
      | 'probe-owner'
      | 'probe-elsewhere'
      | 'unavailable';
    /** This instance's id, or, for `opened`/`closed`, the id of the instance it followed. */
    readonly instance: string;
    readonly nextProbeAt?: number;
  };
  /** The retry budget of an origin had no token left: the retry was not made. */
  'retry-budget-exhausted': {
    /** The origin. */
    readonly key: string;
    readonly method: string;
    readonly url: string;
    /** The attempt that would have been retried (1-based). */
    readonly attempt: number;
    /** Tokens left (below 1). */
    readonly tokens: number;
    /** Epoch ms by which a token should be back. */
    readonly retryAt: number;
    readonly scope: 'local' | 'fleet';
  };
  /** An attempt timeout or the total deadline fired. */
  timeout: {
    readonly method: string;
    readonly url: string;
    readonly kind: 'attempt' | 'total';
    readonly timeoutMs: number;
    readonly attempt: number;
  };
}

/** Name of a client event. */
export type ClientEventName = keyof ClientEvents;

/** A listener for one client event. */
export type ClientListener<E extends ClientEventName> = (event: ClientEvents[E]) => void;

/**
 * A small typed event emitter. Listener errors never reach the call: they are reported as a
 * process warning.
 */
export class Events {
  private readonly listeners = new Map<ClientEventName, Set<(event: never) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends ClientEventName>(name: E, listener: ClientListener<E>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => this.off(name, listener);
  }

  /** Removes a listener. */
  off<E extends ClientEventName>(name: E, listener: ClientListener<E>): void {
    this.listeners.get(name)?.delete(listener as (event: never) => void);
  }

  /** True when someone listens to `name`: lets callers skip building the payload. */
  has(name: ClientEventName): boolean {
    const set = this.listeners.get(name);
    return set !== undefined && set.size > 0;
  }

  /** Calls every listener of `name`. */
  emit<E extends ClientEventName>(name: E, event: ClientEvents[E]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as ClientListener<E>)(event);
      } catch (error) {
        process.emitWarning(
          `an @unfazed/client "${name}" listener threw: ${String(error)}`,
          'UnfazedListenerWarning',
        );
      }
    }
  }
}
