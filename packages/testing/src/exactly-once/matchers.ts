import { checkExactlyOnce, type CheckExactlyOnceOptions } from './check-exactly-once.js';
import { isHistory } from './history.js';
import { isLedger, type Ledger } from './ledger.js';

/** The matchers added by {@link registerMatchers}, for typing `expect(...)`. */
export interface ExactlyOnceMatchers<R> {
  /**
   * Passes when every operation of the received `History` applied its side effect as
   * `checkExactlyOnce` requires (ok → exactly once, failed → never, unknown → at most once).
   * The failure message shows each offending key's timeline.
   */
  toHaveAppliedExactlyOnce(ledger: Ledger, options?: CheckExactlyOnceOptions): R;
}

/** The smallest part of jest's `expect` that {@link registerMatchers} needs. */
export interface ExtendableExpect {
  /** jest's and Vitest's `expect.extend`; the parameter type is theirs. */
  extend(matchers: never): void;
}

function toHaveAppliedExactlyOnce(
  this: { isNot?: boolean },
  received: unknown,
  ledger: unknown,
  options?: CheckExactlyOnceOptions,
): { pass: boolean; message: () => string } {
  if (!isHistory(received)) {
    throw new TypeError(
      'toHaveAppliedExactlyOnce: expect() needs a History from createHistory() or loadHistory()',
    );
  }
  if (!isLedger(ledger)) {
    throw new TypeError(
      'toHaveAppliedExactlyOnce: the argument must be a Ledger from createLedger() or loadLedger()',
    );
  }
  const report = checkExactlyOnce(received, ledger, options);
  return {
    pass: report.ok,
    message: () =>
      report.ok
        ? `expected a violation of exactly-once, but ${report.summary}`
        : `expected every operation to apply exactly once:\n\n${report.message}`,
  };
}

/**
 * Adds `toHaveAppliedExactlyOnce` to a jest (or Vitest) `expect`. `import '@unfazed/testing/jest'`
 * does this for jest's `expect` and adds the types.
 *
 * @example
 * import { expect } from '@jest/globals';
 * registerMatchers(expect);
 */
export function registerMatchers(expect: ExtendableExpect): void {
  expect.extend({ toHaveAppliedExactlyOnce } as never);
}
