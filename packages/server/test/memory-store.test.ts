import { memoryStore, type IdempotencyStore } from '@unfazed/server';
import { idempotencySuite } from './support/idempotency-suite.js';

/** A memory store shared by every app of a test; "severing" makes this app's view of it hang. */
idempotencySuite('memory store', () => {
  const shared = memoryStore();
  return Promise.resolve({
    open() {
      let severed = false;
      const guard =
        <A, R>(fn: (a: A) => Promise<R>) =>
        (a: A): Promise<R> =>
          severed ? new Promise<R>(() => undefined) : fn(a);
      const store: IdempotencyStore = {
        claim: guard((i) => shared.claim(i)),
        complete: guard((i) => shared.complete(i)),
        release: guard((i) => shared.release(i)),
        renew: guard((i) => shared.renew(i)),
      };
      return { store, sever: () => (severed = true) };
    },
    close: () => Promise.resolve(),
  });
});
