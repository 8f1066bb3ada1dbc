/**
 * The jest setup of `@unfazed/testing`: list it in `setupFilesAfterEnv` (jest config:
 * `setupFilesAfterEnv: ['@unfazed/testing/jest']`) or `import '@unfazed/testing/jest'` in a test
 * file. It registers the exactly-once matchers on jest's `expect` and declares their types, and
 * adds an `afterEach` hook that prints the replay line (`replay with seed=<n>: UNFAZED_SEED=<n>
 * npx jest <file> -t '<name>'`) under every failing test.
 * @packageDocumentation
 */
import { afterEach, expect } from '@jest/globals';
import type { ExactlyOnceMatchers } from './exactly-once/matchers.js';
import { registerMatchers } from './exactly-once/matchers.js';
import { replayHintOnFailure } from './faults/replay-on-failure.js';

registerMatchers(expect);
afterEach(replayHintOnFailure);

declare module 'expect' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars
  interface Matchers<R extends void | Promise<void>, T = unknown> extends ExactlyOnceMatchers<R> {}
}

// For suites that use jest's global `expect` with @types/jest instead of @jest/globals.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars
    interface Matchers<R, T = {}> extends ExactlyOnceMatchers<R> {}
  }
}

export { registerMatchers, type ExactlyOnceMatchers } from './exactly-once/matchers.js';
