// Recipe "Redis outage": code that uses Redis must stay up (here: fall back to the database,
// within a bounded time) while Redis is unreachable, slow, paused or restarted, and use Redis
// again once it is back. The outage comes from the TCP fault proxy (black hole, cut, refused)
// or from a redis-server the test owns (stop/start, CLIENT PAUSE).
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  faultProxy,
  redisTestContext,
  startRedisServer,
  type FaultProxy,
  type RedisServerHandle,
  type RedisTestContext,
} from '@unfazed/testing';

/** The code under test: a read-through cache that fails open to the database. */
function balanceService(redis: Redis, prefix: string) {
  const db = new Map([['acct-1', 100]]);
  const stats = { cache: 0, db: 0 };
  return {
    stats,
    async balance(id: string): Promise<number> {
      try {
        const cached = await redis.get(`${prefix}balance:${id}`);
        if (cached !== null) {
          stats.cache++;
          return Number(cached);
        }
      } catch {
        // Redis is down or slow: serve from the database.
      }
      stats.db++;
      const value = db.get(id) ?? 0;
      await redis.set(`${prefix}balance:${id}`, String(value), 'EX', 60).catch(() => undefined);
      return value;
    },
  };
}

/** Options that keep every Redis failure short: a bounded command timeout and no long queueing. */
const FAIL_FAST = {
  commandTimeout: 400,
  maxRetriesPerRequest: 0,
  connectTimeout: 1000,
  retryStrategy: () => 20,
  lazyConnect: true,
} as const;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
}

describe('recipe: Redis outage through the fault proxy', () => {
  let ctx: RedisTestContext;
  let proxy: FaultProxy;
  let redis: Redis;
  beforeAll(async () => {
    ctx = await redisTestContext('recipe-redis-outage');
  });
  afterAll(async () => {
    await ctx.close();
  });
  afterEach(async () => {
    redis.disconnect();
    await proxy.close();
  });

  it('a black hole (nothing answers, connections stay open) falls back within the timeout', async () => {
    proxy = await faultProxy({ upstream: ctx.url });
    redis = new Redis(proxy.url('redis'), FAIL_FAST).on('error', () => undefined);
    await redis.connect();
    const service = balanceService(redis, ctx.prefix);
    expect(await service.balance('acct-1')).toBe(100); // db, then cached
    expect(await service.balance('acct-1')).toBe(100);
    expect(service.stats).toEqual({ cache: 1, db: 1 });

    proxy.addToxic({ type: 'timeout', timeout: 0 });
    const during = await timed(() => service.balance('acct-1'));
    expect(during.value).toBe(100);
    expect(during.ms).toBeLessThan(3000); // bounded: never hangs on Redis
    expect(service.stats.db).toBe(2);

    // Recovery: remove the toxic and drop the connections that lost replies.
    proxy.removeToxic('timeout_downstream');
    proxy.cut();
    let value: number | undefined;
    for (let i = 0; i < 50 && service.stats.cache < 2; i++) {
      value = await service.balance('acct-1');
      if (service.stats.cache < 2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(value).toBe(100);
    expect(service.stats.cache).toBe(2);
  });

  it('refused connections (proxy disabled) fall back; enabling it brings the cache back', async () => {
    proxy = await faultProxy({ upstream: ctx.url });
    redis = new Redis(proxy.url('redis'), FAIL_FAST).on('error', () => undefined);
    await redis.connect();
    const service = balanceService(redis, ctx.prefix);
    await proxy.disable();
    expect(await service.balance('acct-1')).toBe(100);
    expect(service.stats.db).toBe(1);
    await proxy.enable();
    for (let i = 0; i < 50 && service.stats.cache === 0; i++) {
      await service.balance('acct-1');
      if (service.stats.cache === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(service.stats.cache).toBeGreaterThan(0);
  });
});

describe('recipe: Redis outage with a redis-server the test owns', () => {
  let own: RedisServerHandle;
  beforeAll(async () => {
    own = await startRedisServer();
  });
  afterAll(async () => {
    await own.close();
  });

  it('stop() / start(): the service answers throughout and uses Redis again after', async () => {
    const redis = own.connect(FAIL_FAST);
    redis.on('error', () => undefined);
    await redis.connect();
    const service = balanceService(redis, 'outage:');
    expect(await service.balance('acct-1')).toBe(100);

    await own.stop();
    expect(await service.balance('acct-1')).toBe(100);
    expect(service.stats).toEqual({ cache: 0, db: 2 });

    await own.start(); // empty: nothing was persisted
    for (let i = 0; i < 50 && service.stats.cache === 0; i++) {
      await service.balance('acct-1');
      if (service.stats.cache === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(service.stats.cache).toBeGreaterThan(0);
  });

  it('CLIENT PAUSE: a Redis that stops answering for a while is a timeout, not a hang', async () => {
    const redis = own.connect(FAIL_FAST);
    redis.on('error', () => undefined);
    await redis.connect();
    const service = balanceService(redis, 'pause:');
    await service.balance('acct-1');
    await own.pause(1000);
    const during = await timed(() => service.balance('acct-1'));
    expect(during.value).toBe(100);
    expect(during.ms).toBeLessThan(3000);
    expect(service.stats.db).toBe(2); // served by the fallback, not by the paused cache
  });
});
