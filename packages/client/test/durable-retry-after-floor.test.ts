/**
 * A downstream that answers `503` with `Retry-After: 0` (an overloaded service, or
 * `faults.status(503, { retryAfterMs: 0 })`) must not make the queue retry in a tight loop:
 * the delay never goes below the backoff's first step.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, type Client } from '@unfazed/client';
import { createDurable, memoryDurableStore } from '@unfazed/client/durable';
import { startDownstream, until, type Downstream } from './durable-downstream.js';

describe('durable retries after Retry-After: 0', () => {
  let downstream: Downstream;
  let client: Client;
  beforeAll(async () => {
    downstream = await startDownstream(() => ({ status: 503, headers: { 'retry-after': '0' } }));
    client = createClient({ baseUrl: downstream.url, retry: { maxRetries: 0 }, breaker: false });
  });
  afterAll(async () => {
    await client.close();
    await downstream.close();
  });

  it('waits at least backoff.initialMs between attempts, until the deadline', async () => {
    const durable = createDurable({ client, store: memoryDurableStore() });
    const op = durable.operation<{ n: number }>('retry-after-zero', {
      request: (input) => ({ method: 'POST', path: '/work', json: input }),
      deadline: 1_000,
      attemptTimeout: 200,
      backoff: { initialMs: 200, maxMs: 200 },
    });
    const worker = durable.startWorker({ pollInterval: 20 });
    try {
      const started = await op.start({ n: 1 }, { wait: 0 });
      await until(
        'the operation is dead',
        async () => (await durable.status(started.id))?.state === 'dead',
        10_000,
      );
      // 1 000 ms at >= 200 ms apart: about 5 attempts plus a last one; the bug made 150+.
      expect(downstream.requests.length).toBeGreaterThanOrEqual(2);
      expect(downstream.requests.length).toBeLessThanOrEqual(8);
      const scheduled = (await durable.deadLetters.get(started.id))?.history.filter(
        (h) => h.delayReason === 'retry-after',
      );
      expect(scheduled?.every((h) => (h.delayMs ?? 0) >= 200)).toBe(true);
    } finally {
      await worker.stop();
    }
  });
});
