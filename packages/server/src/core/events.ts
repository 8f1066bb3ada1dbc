/** What the middleware reports about each keyed request. */

/** Names of the events the middleware emits. */
export type IdempotencyEventName =
  | 'claimed'
  | 'replayed'
  | 'conflict'
  | 'mismatch'
  | 'completed'
  | 'released'
  | 'storeError'
  | 'failOpen'
  | 'leaseExpired';

/** One event. `key` is the Idempotency-Key as the client sent it (decoded). */
export interface IdempotencyEvent {
  type: IdempotencyEventName;
  key: string;
  /** The scope of the request (`''` when none). */
  scope: string;
  method: string;
  /** Request target (path and query). */
  target: string;
  /** `claimed`: an expired lease of a crashed or stalled owner was taken over. */
  recovered?: boolean;
  /** `conflict`: ms left on the in-flight lease. */
  leaseRemainingMs?: number;
  /** `completed`, `released`, `replayed`: the response status. */
  status?: number;
  /** `completed`, `replayed`: false when the body was over `maxResponseBytes` and not kept. */
  bodyRetained?: boolean;
  /** `storeError`, `failOpen`: the store operation and what went wrong. */
  operation?: 'claim' | 'complete' | 'release' | 'renew';
  error?: unknown;
  /**
   * `storeError` of `complete`: which try of the completion write failed (1, 2, ...);
   * `completed`: which try stored it.
   */
  attempt?: number;
  /** `storeError` of `complete`: ms until the completion write is tried again. */
  retryInMs?: number;
}

/**
 * Listeners, one per event name. A listener that throws is ignored (it never changes the
 * answer). `leaseExpired` fires when an owner finds its claim gone: its lease ran out and
 * another request took the key over, so its outcome was not stored.
 */
export type IdempotencyListeners = {
  [K in IdempotencyEventName]?: (event: IdempotencyEvent & { type: K }) => void;
};
