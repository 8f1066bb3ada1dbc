import { UnfazedError, errorGuard } from '@unfazed/contract';
import type { ExactlyOnceReport, Violation } from './check-exactly-once.js';

/** `assertExactlyOnce()` found violations; the message shows each offending key's timeline. */
export class ExactlyOnceViolationError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_TESTING_EXACTLY_ONCE_VIOLATED';
  /** The violations found. */
  readonly violations: readonly Violation[];

  constructor(report: ExactlyOnceReport) {
    super(ExactlyOnceViolationError.code, report.message);
    this.violations = report.violations;
  }
}

/** Guard for {@link ExactlyOnceViolationError}. */
export const isExactlyOnceViolationError = errorGuard<ExactlyOnceViolationError>(
  ExactlyOnceViolationError.code,
);
