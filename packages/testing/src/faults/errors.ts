import { UnfazedError, errorGuard } from '@unfazed/contract';
import type { Fault } from './fault.js';

/**
 * `assertAllFaultsFired()` found planned faults that no call consumed: the code under test
 * made fewer calls than the test expected. The message lists them and the replay hint.
 */
export class FaultsNotFiredError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_TESTING_FAULTS_NOT_FIRED';
  /** The planned faults that did not fire, in plan order. */
  readonly pending: readonly Fault[];

  constructor(message: string, pending: readonly Fault[]) {
    super(FaultsNotFiredError.code, message);
    this.pending = pending;
  }
}

/** Guard for {@link FaultsNotFiredError}. */
export const isFaultsNotFiredError = errorGuard<FaultsNotFiredError>(FaultsNotFiredError.code);

/** A plan asked an injector for a fault it cannot produce (e.g. an HTTP status from the TCP proxy). */
export class UnsupportedFaultError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_TESTING_UNSUPPORTED_FAULT';

  constructor(message: string) {
    super(UnsupportedFaultError.code, message);
  }
}

/** Guard for {@link UnsupportedFaultError}. */
export const isUnsupportedFaultError = errorGuard<UnsupportedFaultError>(
  UnsupportedFaultError.code,
);
