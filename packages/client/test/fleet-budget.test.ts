/**
 * The fleet-wide retry budget in a real Redis: 20 callers on two client instances against an
 * origin answering 503 make at most 20 + maxTokens attempts; durable retries and a redrive
 * draw from the same budget (deferred, not failed, when it is empty); and with the shared
 * circuit and budget on, 1 000 healthy calls send no command to Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import {
  createClient,
  isRetryBudgetExhaustedError,
  sharedCircuit,
  sharedRetryBudget,
  type Client,
} from '@unfazed/client';
import { createDurable, memoryDurableStore } from '@unfazed/client/durable';
import { startRedisServer, type RedisServerHandle } from '@unfazed/testing';
import { send, startServer, type TestServer } from './support/server.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1]);
}

describe('fleet-wide retry budget', () => {
  let redisServer: RedisServerHandle;
  let admin: Redis;
  let origin: TestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    redisServer = await startRedisServer();
    admin = redisServer.connect();
    origin = await startServer((req, res) => {
      if (req.url.startsWith('/ok')) return send(res, 200, { ok: true });
      if (req.url.startsWith('/bad')) return send(res, 400, { error: 'bad' });
      send(res, 503, { error: 'down' });
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await origin?.close();
    await redisServer?.close();
  });

  const seen = (prefix: string): number =>
    origin.requests.filter((r) => r.url.startsWith(prefix)).length;

  it('20 callers on two instances against a 503 origin: at most 20 + 10 attempts (10 tokens)', async () => {
    const MAX_TOKENS = 10;
    const make = (): Client => {
      const c = createClient({
        baseUrl: origin.url,
        breaker: false,
        retry: {
          maxRetries: 3,
          backoff: { initialMs: 1, maxMs: 5 },
          budget: {
            maxTokens: MAX_TOKENS,
            tokenRatio: 0.1,
            refillPerSecond: 0,
            // Its own connection each: two instances of the fleet.
            shared: sharedRetryBudget(redisServer.connect(), { prefix: 'b1:', syncMs: 20 }),
          },
        },
      });
      clients.push(c);
      return c;
    };
    const [a, b] = [make(), make()];
    const exhausted: string[] = [];
    for (const c of [a, b]) c.on('retry-budget-exhausted', (e) => exhausted.push(e.scope));
    const errors = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).request({ path: '/down' }).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    const attempts = seen('/down');
    console.log(
      `20 callers, maxRetries 3, fleet budget ${MAX_TOKENS}: ${attempts} attempts (80 without)`,
    );
    expect(attempts).toBeGreaterThanOrEqual(20);
    expect(attempts).toBeLessThanOrEqual(20 + MAX_TOKENS);
    expect(errors.filter(isRetryBudgetExhaustedError).length).toBeGreaterThanOrEqual(10);
    expect(exhausted.every((s) => s === 'fleet')).toBe(true);
    const budget = a.describe().retry.budget;
    expect(budget).toMatchObject({ scope: 'fleet', maxTokens: MAX_TOKENS, prefix: 'b1:' });
    expect(budget && budget.tokens[origin.url]).toBeLessThan(1);
  });

  it('durable retries and a redrive draw from the same budget: deferred, not failed, when it is empty', async () => {
    const redis = redisServer.connect();
    const client = createClient({
      baseUrl: origin.url,
      breaker: false,
      retry: {
        maxRetries: 0,
        budget: {
          maxTokens: 6,
          refillPerSecond: 0,
          shared: sharedRetryBudget(redis, { prefix: 'b2:', syncMs: 20, share: 2 }),
        },
      },
    });
    clients.push(client);
    const durable = createDurable({
      client,
      store: memoryDurableStore(),
      backoff: { initialMs: 10, maxMs: 20 },
      probeJitter: 0,
    });
    const flaky = durable.operation('budget-flaky', {
      request: () => ({ method: 'POST', path: '/down-durable' }),
      maxAttempts: 5,
      backoff: { initialMs: 10, maxMs: 10, exponent: 1, jitter: 'none' },
    });
    const worker = durable.startWorker({ concurrency: 5, pollInterval: 10 });
    try {
      const started = await Promise.all(
        Array.from({ length: 5 }, () => flaky.start({}, { wait: 0 })),
      );
      // 5 first attempts (not retries), then 6 retries: the budget's 6 tokens.
      await until(() => seen('/down-durable') >= 11);
      await sleep(300);
      expect(seen('/down-durable')).toBe(11);
      for (const { id } of started) {
        const details = await durable.deadLetters.get(id);
        expect(details?.record.state).toBe('pending');
      }
      const deferred = await Promise.all(
        started.map(async ({ id }) => (await durable.deadLetters.get(id))?.history ?? []),
      );
      expect(deferred.flat().some((h) => h.kind === 'retry-budget')).toBe(true);

      // Operations that failed for good, redriven: each one's next attempt is a retry.
      const bad = durable.operation('budget-redrive', {
        request: () => ({ method: 'POST', path: '/bad' }),
      });
      const failed = await Promise.all(Array.from({ length: 4 }, () => bad.start({}, { wait: 0 })));
      await until(async () => {
        const states = await Promise.all(failed.map(async ({ id }) => durable.status(id)));
        return states.every((s) => s?.state === 'failed');
      });
      const before = seen('/bad');
      expect(before).toBe(4);
      const redriven = await durable.deadLetters.redriveMany(
        { type: 'budget-redrive' },
        { rate: 1000 },
      );
      expect(redriven).toBe(4);
      await sleep(300);
      expect(seen('/bad')).toBe(before); // the budget is empty: none was sent
      // Two tokens come back to the fleet: exactly two more attempts are sent, redriven or
      // durable retries alike (both still wait on the one budget).
      const total = (): number => seen('/bad') + seen('/down-durable');
      const sent = total();
      await admin.hset(`b2:{budget:${origin.url}}`, 'tokens', '2');
      await until(() => total() >= sent + 2);
      await sleep(300);
      expect(total()).toBe(sent + 2);
    } finally {
      await worker.stop();
    }
  });

  it('with the shared circuit and budget on, 1 000 closed-path calls send no Redis command', async () => {
    const redis = redisServer.connect();
    const client = createClient({
      baseUrl: origin.url,
      breaker: { shared: sharedCircuit(redis, { prefix: 'b3:' }) },
      retry: { budget: { shared: sharedRetryBudget(redis, { prefix: 'b3:' }) } },
    });
    clients.push(client);
    await (await client.request({ path: '/ok' })).text(); // first use: one GET of the stored state
    await sleep(50);
    const before = await commandsProcessed(admin);
    for (let i = 0; i < 1000; i++) await (await client.request({ path: '/ok' })).text();
    const after = await commandsProcessed(admin);
    // The first INFO is the only command in between.
    expect(after - before).toBe(1);
  });
});
