import { EventEmitter } from 'node:events';
import type { GiveUpFailure } from './types.js';

/**
 * Why the next attempt was scheduled when it was. `last-attempt`: the backoff or a `Retry-After`
 * pointed past the deadline, so one last attempt is made before it instead of giving up early.
 */
export type ScheduleReason =
  | 'backoff'
  | 'retry-after'
  | 'last-attempt'
  | 'circuit-open'
  | 'retry-budget'
  | 'released'
  | 'hook-retry'
  | 'target-busy'
  | 'timer'
  | 'compensation-retry';

/** Payloads of the events a durable instance emits, by event name. */
export interface DurableEventMap {
  /** An operation was persisted by `start` (`existing: true` when its key was seen before). */
  started: { id: string; type: string; key?: string; existing: boolean };
  /** One call to the downstream ended. */
  attempt: {
    id: string;
    type: string;
    /** The saga step it was an attempt of. */
    step?: string;
    attempt: number;
    status?: number;
    error?: string;
    durationMs: number;
    worker: string;
  };
  /** The next attempt was scheduled. */
  scheduled: {
    id: string;
    type: string;
    dueAt: number;
    delayMs: number;
    reason: ScheduleReason;
  };
  /** The operation completed (its `onSuccess` ran). */
  succeeded: { id: string; type: string; attempts: number };
  /** The operation failed on a final answer (its `onGiveUp` ran). */
  failed: { id: string; type: string; failure: GiveUpFailure };
  /** The operation passed its deadline or ran out of attempts (its `onGiveUp` ran). */
  dead: { id: string; type: string; failure: GiveUpFailure };
  /** An operator moved a failed/dead operation back to pending. */
  redriven: { id: string; type: string; dueAt: number };
  /** A worker found its lease taken (it stalled past the lease); it records nothing. */
  'lease-lost': { id: string; type: string; worker: string };
  /** A hook threw; it will run again. */
  'hook-error': { id: string; type: string; hook: 'onSuccess' | 'onGiveUp'; error: unknown };
  /** A saga step completed; its result is journaled (in the same write as the next step's start). */
  'step-completed': { id: string; type: string; step: string; index: number; attempts: number };
  /** A saga gave up (`failure`) and starts compensating its steps in reverse. */
  compensating: { id: string; type: string; failure: GiveUpFailure };
  /** One compensation failed; it will run again (no deadline gives up on an undo). */
  'compensation-error': { id: string; type: string; step: string; attempts: number; error: string };
  /** A compensation has failed `stuckAfter` times in a row: operators should look. */
  'compensation-stuck': { id: string; type: string; step: string; attempts: number };
  /** A step's compensation succeeded. */
  'step-compensated': {
    id: string;
    type: string;
    step: string;
    outcome: 'completed' | 'unknown';
  };
  /** A saga gave up and every step that needed it was compensated. */
  compensated: { id: string; type: string; failure: GiveUpFailure };
  /** A worker's polling loop hit an error (e.g. Redis down); it keeps polling. */
  'worker-error': { worker: string; error: unknown };
}

/** Name of a durable event. */
export type DurableEventName = keyof DurableEventMap;

/** A typed event emitter: `durable.on('dead', (e) => ...)`. */
export class DurableEvents {
  readonly #emitter = new EventEmitter();

  /** Adds a listener. Returns a function that removes it. */
  on<E extends DurableEventName>(
    event: E,
    listener: (payload: DurableEventMap[E]) => void,
  ): () => void {
    this.#emitter.on(event, listener);
    return () => this.#emitter.off(event, listener);
  }

  /** Removes a listener. */
  off<E extends DurableEventName>(event: E, listener: (payload: DurableEventMap[E]) => void): void {
    this.#emitter.off(event, listener);
  }

  /** @internal Whether `event` has a listener (so that its payload need not be built). */
  has(event: DurableEventName): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  /** @internal Emits; a throwing listener never breaks the queue. */
  emit<E extends DurableEventName>(event: E, payload: DurableEventMap[E]): void {
    try {
      this.#emitter.emit(event, payload);
    } catch {
      // Listener bugs must not change an operation's outcome.
    }
  }
}
