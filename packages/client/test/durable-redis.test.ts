import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createClient,
  createDurable,
  isDurabilityNotConfirmedError,
  isDurableStoreUnavailableError,
  redisDurableStore,
} from '@unfazed/client';
import { redisTestContext, startRedisServer, type RedisTestContext } from '@unfazed/testing';
import { rejection, describeDurableBehaviour } from './durable-suite.js';
import { startDownstream, until } from './durable-downstream.js';

let ctx: RedisTestContext;
let n = 0;
beforeAll(async () => {
  ctx = await redisTestContext('durable-redis');
});
afterAll(async () => {
  await ctx.close();
});

describeDurableBehaviour('redis store', async () =>
  redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
    prefix: `${ctx.prefix}${++n}:`,
    partitions: 4,
  }),
);

describe('redis store specifics', () => {
  it('keeps every key of one operation under one hash tag, and the layout the README documents', async () => {
    const prefix = `${ctx.prefix}layout:`;
    const store = redisDurableStore(ctx.connect(), { prefix, partitions: 4 });
    const downstream = await startDownstream(() => ({ status: 404 }));
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({ client, store });
    const op = durable.operation('layout', { request: () => ({ method: 'POST', path: '/x' }) });
    const outcome = await op.start({}, { key: 'abc', wait: 1_000 });
    expect(outcome.status).toBe('failed');
    const keys = (await ctx.keys()).filter((k) => k.startsWith(prefix));
    const tag = /\{([^}]+)\}/.exec(keys.find((k) => k.includes(':op:')) ?? '')?.[1];
    expect(tag).toBeDefined();
    const mine = keys
      .filter((k) => k.includes(`{${tag}}`))
      .map((k) => k.slice(prefix.length).replace(`{${tag}}`, '{p}'));
    expect(mine.sort()).toEqual(
      [
        `{p}:counts`,
        `{p}:dlq`,
        `{p}:hist:${outcome.id}`,
        `{p}:key:layout:abc`,
        `{p}:op:${outcome.id}`,
      ].sort(),
    );
    expect(outcome.id).toMatch(/^[0-9a-f-]{36}\.[0-3]$/);
    await client.close();
    await downstream.close();
  });

  it('Redis unavailable during start: a clear error, never an unpersisted accepted', async () => {
    const own = await startRedisServer();
    // As recommended for workers: commands wait for a reconnect; storeTimeout bounds start.
    const redis = own.connect({ maxRetriesPerRequest: null });
    const downstream = await startDownstream(() => ({ status: 200 }));
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({
      client,
      store: redisDurableStore(redis, { partitions: 2 }),
      storeTimeout: 500,
    });
    const op = durable.operation('outage', { request: () => ({ method: 'POST', path: '/o' }) });
    try {
      // A worker that lives through the outage, as a worker would through a Redis restart.
      const survivor = durable.startWorker({ pollInterval: 10 });
      try {
        const first = await op.start({ i: 1 }, { wait: 0 });
        expect(first.status).toBe('accepted');
        await until(
          'first completed',
          async () => (await durable.status(first.id))?.state === 'completed',
        );
        await own.stop();
        const t0 = Date.now();
        const error = await op.start({ i: 2 }, { wait: 0 }).then(
          (o) => o,
          (e: unknown) => e,
        );
        expect(isDurableStoreUnavailableError(error)).toBe(true);
        expect(String((error as Error).message)).toMatch(
          /durable store \(redis\) did not answer .* within 500 ms/,
        );
        expect(Date.now() - t0).toBeLessThan(3_000);
        expect(downstream.requests).toHaveLength(1);
        // A worker whose poll is stuck on the unreachable Redis still stops, bounded by its timeout.
        const stuck = durable.startWorker({ pollInterval: 10 });
        await new Promise((r) => setTimeout(r, 50));
        const s0 = Date.now();
        await stuck.stop({ timeout: 300 });
        expect(Date.now() - s0).toBeLessThan(2_000);
        // Redis comes back (empty: it has no persistence); starts work again and the surviving
        // worker picks the new operation up without being restarted.
        await own.start();
        let third: string | undefined;
        await until(
          'start works again',
          async () => {
            try {
              third = (await op.start({ i: 3 }, { wait: 0 })).id;
              return true;
            } catch {
              return false;
            }
          },
          10_000,
        );
        await until(
          'the surviving worker completes it',
          async () => third !== undefined && (await durable.status(third))?.state === 'completed',
          10_000,
        );
        expect(downstream.requests.map((q) => q.key)).toContain(third);
      } finally {
        await survivor.stop({ timeout: 1_000 });
      }
    } finally {
      redis.disconnect();
      await client.close();
      await downstream.close();
      await own.close();
    }
  });

  it('waitAof on a server without WAITAOF fails the start instead of weakening the promise', async () => {
    const redis = ctx.connect();
    const version = /redis_version:(\d+)\.(\d+)/.exec(await redis.info('server'));
    const major = Number(version?.[1] ?? 0);
    const minor = Number(version?.[2] ?? 0);
    const downstream = await startDownstream(() => ({ status: 200 }));
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({
      client,
      store: redisDurableStore(redis, {
        prefix: `${ctx.prefix}aof:`,
        partitions: 2,
        waitAof: { numLocal: 1, timeout: 200 },
      }),
    });
    const op = durable.operation('aof', { request: () => ({ method: 'POST', path: '/a' }) });
    try {
      const aofOn = ((await redis.config('GET', 'appendonly')) as string[])[1] === 'yes';
      if (major > 7 || (major === 7 && minor >= 2)) {
        const outcome = op.start({}, { wait: 0 });
        if (aofOn) expect((await outcome).status).toBe('accepted');
        else expect(await rejection(outcome, isDurabilityNotConfirmedError)).toBe(true);
      } else {
        const error = await op.start({}, { wait: 0 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isDurabilityNotConfirmedError(error)).toBe(true);
        expect(String((error as Error).message)).toMatch(/WAITAOF/);
      }
    } finally {
      await client.close();
      await downstream.close();
    }
  });
});
