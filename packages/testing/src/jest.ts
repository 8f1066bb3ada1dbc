/**
 * `import '@unfazed/testing/jest'` in a jest test file (or in a `setupFilesAfterEach` module)
 * registers the exactly-once matchers on jest's `expect` and declares their types.
 * @packageDocumentation
 */
import { expect } from '@jest/globals';
import type { ExactlyOnceMatchers } from './exactly-once/matchers.js';
import { registerMatchers } from './exactly-once/matchers.js';

registerMatchers(expect);

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
