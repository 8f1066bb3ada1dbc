import { describe, expect, it } from '@jest/globals';
import { createClient, createDurable, memoryDurableStore } from '@unfazed/client';
import { startDownstream, until } from './durable-downstream.js';
import { describeDurableBehaviour } from './durable-suite.js';

describeDurableBehaviour('memory store', async () => memoryDurableStore());

describe('durable defaults', () => {
  it("takes its backoff from the client's retry policy when none is given", async () => {
    const downstream = await startDownstream((req) =>
      req.n === 1 ? { status: 503 } : { status: 200 },
    );
    const client = createClient({
      baseUrl: downstream.url,
      breaker: false,
      retry: { backoff: { initialMs: 40, maxMs: 40, exponent: 1 } },
    });
    try {
      const durable = createDurable({ client });
      const op = durable.operation('defaults', { request: () => ({ method: 'POST', path: '/d' }) });
      const outcome = await op.start({}, { wait: 0 });
      const worker = durable.startWorker({ pollInterval: 5 });
      await until(
        'completed',
        async () => (await durable.status(outcome.id))?.state === 'completed',
      );
      await worker.stop();
      const first = (await durable.deadLetters.get(outcome.id))?.history.find(
        (h) => h.kind === 'attempt',
      );
      expect(first).toMatchObject({ status: 503, delayReason: 'backoff' });
      expect(first?.delayMs).toBeGreaterThanOrEqual(20);
      expect(first?.delayMs).toBeLessThanOrEqual(40);
    } finally {
      await client.close();
      await downstream.close();
    }
  });
});
