/**
 * After an outage, a durable backlog drains at the origin's pace, not at the retry budget's
 * refill rate: a queued retry that succeeds gives its token back (the budget throttles the
 * retries of a failing origin). Without the refund, 40 operations whose retries emptied a budget
 * of 5 tokens would drain at about 1.1 per second (refill 1/s + 0.1 per success): 35 s or more,
 * and end with the budget still empty, which is what the test checks.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@unfazed/client';
import { createDurable, memoryDurableStore } from '@unfazed/client/durable';
import { until } from './durable-downstream.js';

let server: Server;
let url = '';
let healthy = false;
let requests = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(healthy ? 201 : 503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('retry budget and the durable queue', () => {
  it('a backlog whose retries emptied the budget drains quickly once the origin answers again', async () => {
    const client = createClient({
      baseUrl: url,
      breaker: false,
      retry: { maxRetries: 0, budget: { maxTokens: 5, tokenRatio: 0.1, refillPerSecond: 1 } },
    });
    const durable = createDurable({
      client,
      store: memoryDurableStore(),
      backoff: { initialMs: 20, maxMs: 50, jitter: 'none' },
      probeJitter: 0,
    });
    const op = durable.operation('drain', { request: () => ({ method: 'POST', path: '/x' }) });
    const worker = durable.startWorker({ concurrency: 8, pollInterval: 10 });
    try {
      const ops = await Promise.all(Array.from({ length: 40 }, () => op.start({}, { wait: 0 })));
      // Every first attempt failed and the retries spent the budget.
      await until(
        'the budget to be spent',
        () => {
          const budget = client.describe().retry.budget;
          return budget !== false && (budget.tokens[url] ?? Infinity) < 1;
        },
        10_000,
      );
      healthy = true;
      const recovered = Date.now();
      await until(
        'the backlog to drain',
        async () => (await durable.counts())['drain']?.completed === 40,
        60_000,
      );
      const drainMs = Date.now() - recovered;
      process.stdout.write(
        `backlog of 40 drained in ${drainMs} ms after recovery (${requests} requests)\n`,
      );
      // Each retry that succeeded gave its token back: the budget is (nearly) full again. Without
      // the refund every retry spent one and earned 0.1, leaving less than 2 (and a drain at the
      // refill's pace, about 35 s). Counted, not timed: the time is printed, never asserted.
      const budget = client.describe().retry.budget;
      expect(budget === false ? 0 : (budget.tokens[url] ?? 0)).toBeGreaterThanOrEqual(4);
      expect(ops).toHaveLength(40);
    } finally {
      await worker.stop({ timeout: 500 });
      await client.close();
      await durable.store.close();
    }
  }, 90_000);
});
