import { UnfazedError, errorGuard } from '@unfazed/contract';

/**
 * The durable store could not be reached or did not answer in time while starting an
 * operation. `start` never returns `accepted` in that case, but the write may still have been
 * applied (a timed-out command can reach the store later): the operation `operationId` may or
 * may not exist, and if it exists it runs. Check `durable.status(error.operationId)`, or start
 * again with the same `key`, which finds it instead of creating a second one.
 */
export class DurableStoreUnavailableError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_DURABLE_STORE_UNAVAILABLE';
  /** The id of the operation the failed start tried to write (it may exist after all). */
  readonly operationId: string | undefined;
  constructor(message: string, cause?: unknown, operationId?: string) {
    super(DurableStoreUnavailableError.code, message, { cause });
    this.operationId = operationId;
  }
}

/** Guard for {@link DurableStoreUnavailableError}. */
export const isDurableStoreUnavailableError = errorGuard<DurableStoreUnavailableError>(
  DurableStoreUnavailableError.code,
);

/** The write reached Redis but its AOF fsync (`WAITAOF`) was not confirmed or is unsupported. */
export class DurabilityNotConfirmedError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_DURABLE_NOT_CONFIRMED';
  /** The operation id that was written (it exists in Redis memory, and runs). */
  readonly id: string | undefined;
  /** The same id, under the name every error from `start` uses. */
  readonly operationId: string | undefined;
  constructor(message: string, id?: string, cause?: unknown) {
    super(DurabilityNotConfirmedError.code, message, { cause });
    this.id = id;
    this.operationId = id;
  }
}

/** Guard for {@link DurabilityNotConfirmedError}. */
export const isDurabilityNotConfirmedError = errorGuard<DurabilityNotConfirmedError>(
  DurabilityNotConfirmedError.code,
);

/** `start` was called with a `key` already used for this type with a different input. */
export class DurableKeyConflictError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_DURABLE_KEY_CONFLICT';
  /** The operation that owns the key (it exists, with the other input). */
  readonly id: string;
  /** The id this start tried to write: it was not written (the key already named `id`). */
  readonly operationId: string | undefined;
  constructor(type: string, key: string, id: string, operationId?: string) {
    super(
      DurableKeyConflictError.code,
      `Key "${key}" was already used to start a "${type}" operation (${id}) with a different input`,
    );
    this.id = id;
    this.operationId = operationId;
  }
}

/** Guard for {@link DurableKeyConflictError}. */
export const isDurableKeyConflictError = errorGuard<DurableKeyConflictError>(
  DurableKeyConflictError.code,
);

/**
 * The input given to `start` would not read back exactly as given from JSON (`undefined`, `NaN`,
 * a `Date`, a sparse array, a symbol key, a cycle, ...), nests too deep, or is larger than
 * `maxInputBytes`. Thrown before anything is written. The message names the path.
 */
export class InvalidOperationInputError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_DURABLE_INVALID_INPUT';
  /** The operation type. */
  readonly type: string;
  /** Where in the input: `input`, `input.items[3]`, `input["a b"]`. */
  readonly path: string;
  /** What is wrong there, e.g. `is a hole (a sparse array), which JSON turns into null`. */
  readonly reason: string;
  constructor(type: string, path: string, reason: string) {
    super(InvalidOperationInputError.code, `Invalid input for "${type}": ${path} ${reason}`);
    this.type = type;
    this.path = path;
    this.reason = reason;
  }
}

/** Guard for {@link InvalidOperationInputError}. */
export const isInvalidOperationInputError = errorGuard<InvalidOperationInputError>(
  InvalidOperationInputError.code,
);
