import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotencySuite, severable } from './support/idempotency-suite.js';

/** One memory store shared by every app of the file; severing makes one app's view of it hang. */
idempotencySuite('memory store', () => {
  const shared = memoryIdempotencyStore();
  return Promise.resolve({ open: () => severable(shared), close: () => Promise.resolve() });
});
