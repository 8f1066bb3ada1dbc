import {
  checkExactlyOnce,
  type CheckExactlyOnceOptions,
  type ExactlyOnceReport,
} from './check-exactly-once.js';
import { ExactlyOnceViolationError } from './errors.js';
import type { History } from './history.js';
import type { Ledger } from './ledger.js';

/**
 * Like {@link checkExactlyOnce}, but throws {@link ExactlyOnceViolationError} (with every
 * offending key's timeline in the message) when a rule is broken. For test runners other than
 * jest; in jest prefer `expect(history).toHaveAppliedExactlyOnce(ledger)`.
 */
export function assertExactlyOnce(
  history: History,
  ledger: Ledger,
  options: CheckExactlyOnceOptions = {},
): ExactlyOnceReport {
  const report = checkExactlyOnce(history, ledger, options);
  if (!report.ok) throw new ExactlyOnceViolationError(report);
  return report;
}
