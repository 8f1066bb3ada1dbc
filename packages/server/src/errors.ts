/**
 * Errors of `@unfazed/server`. Codes are stable, never reused, and listed in the README.
 */
import { UnfazedError, errorGuard } from '@unfazed/contract';

/** A store call took longer than `storeTimeoutMs`; the request is answered 503 (or passed on when failing open). */
export class IdempotencyStoreTimeoutError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_IDEMPOTENCY_STORE_TIMEOUT';
  /** The store operation that timed out: `claim`, `complete`, `release` or `renew`. */
  readonly operation: string;
  /** The bound that was exceeded, in ms. */
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(
      IdempotencyStoreTimeoutError.code,
      `the idempotency store did not answer "${operation}" within ${timeoutMs} ms`,
    );
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** Guard for {@link IdempotencyStoreTimeoutError}. */
export const isIdempotencyStoreTimeoutError = errorGuard<IdempotencyStoreTimeoutError>(
  IdempotencyStoreTimeoutError.code,
);

/**
 * The memory store is full of records still in flight and cannot take a new claim without
 * evicting one of them (which would let a request run twice). Answered 503.
 */
export class IdempotencyStoreFullError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_IDEMPOTENCY_STORE_FULL';

  constructor(limit: string) {
    super(
      IdempotencyStoreFullError.code,
      `the idempotency memory store is full (${limit}) of requests still in flight`,
    );
  }
}

/** Guard for {@link IdempotencyStoreFullError}. */
export const isIdempotencyStoreFullError = errorGuard<IdempotencyStoreFullError>(
  IdempotencyStoreFullError.code,
);
