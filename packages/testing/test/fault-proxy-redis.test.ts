import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  faultProxy,
  redisTestContext,
  startRedisServer,
  type FaultProxy,
  type RedisTestContext,
} from '@unfazed/testing';

let ctx: RedisTestContext;
let proxy: FaultProxy;
const clients: Redis[] = [];

beforeAll(async () => {
  ctx = await redisTestContext('fault-proxy-redis');
});
afterAll(async () => {
  await ctx.close();
});

beforeEach(async () => {
  proxy = await faultProxy({ upstream: ctx.url });
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await proxy.close();
});

/** A client through the proxy, connected before the test starts so that timeouts measure commands only. */
async function client(): Promise<Redis> {
  const redis = new Redis(proxy.url('redis'), {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    retryStrategy: () => 20,
    connectTimeout: 2000,
  });
  redis.on('error', () => undefined);
  clients.push(redis);
  await redis.connect();
  return redis;
}

describe('faultProxy in front of Redis (ioredis)', () => {
  it('passes commands through', async () => {
    const redis = await client();
    await redis.set(`${ctx.prefix}a`, '1');
    expect(await redis.get(`${ctx.prefix}a`)).toBe('1');
    expect(await ctx.keys()).toEqual([`${ctx.prefix}a`]);
  });

  it('latency slows every reply', async () => {
    const redis = await client();
    await redis.ping();
    proxy.addToxic({ type: 'latency', latency: 120 });
    const started = Date.now();
    await redis.ping();
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('a black hole times commands out; cutting the connections recovers', async () => {
    const redis = await client();
    await redis.ping();
    proxy.addToxic({ type: 'timeout', timeout: 0 });
    await expect(redis.get(`${ctx.prefix}x`)).rejects.toThrow(/timed out/i);
    proxy.removeToxic('timeout_downstream');
    // The dropped reply would desynchronise the connection: drop it, ioredis reconnects.
    expect(proxy.cut()).toBe(1);
    expect(await redis.ping()).toBe('PONG');
  });

  it('cut() drops the connection; ioredis reconnects and carries on', async () => {
    const redis = await client();
    await redis.set(`${ctx.prefix}b`, '2');
    const closed = new Promise((r) => redis.once('close', r));
    proxy.cut();
    await closed;
    expect(await redis.get(`${ctx.prefix}b`)).toBe('2');
    expect(proxy.accepted).toBe(2);
  });

  it('disable() is an outage: commands fail until enable()', async () => {
    const redis = await client();
    await redis.ping();
    await proxy.disable();
    await expect(redis.ping()).rejects.toThrow();
    await proxy.enable();
    let pong: string | undefined;
    for (let i = 0; i < 50 && pong === undefined; i++) {
      pong = await redis.ping().catch(() => undefined);
      if (pong === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(pong).toBe('PONG');
  });
});

describe('a Redis client tied to a harness proxy', () => {
  it('proxy.close() ends its clients first: they never see the proxy vanish', async () => {
    const own = await ctx.proxy();
    const redis = own.connect();
    const seen: string[] = [];
    redis.on('reconnecting', () => seen.push('reconnecting'));
    redis.on('error', (error: Error) => seen.push(`error ${error.message}`));
    redis.on('end', () => seen.push('end'));
    await redis.set(`${ctx.prefix}tied`, '1');
    own.addToxic({ type: 'timeout', timeout: 0 }); // even with a black hole in place
    await own.close();
    expect(seen).toEqual(['end']);
    expect(redis.status).toBe('end');
    expect(own.connections).toBe(0);
  });

  it('ctx.close() closes the proxies of ctx.proxy(), clients first', async () => {
    const other = await redisTestContext('fault-proxy-redis-tied');
    const own = await other.proxy();
    const redis = own.connect();
    const seen: string[] = [];
    redis.on('reconnecting', () => seen.push('reconnecting'));
    redis.on('end', () => seen.push('end'));
    await redis.ping();
    await other.close();
    expect(seen).toEqual(['end']);
    expect(own.connections).toBe(0);
    expect(() => own.connect()).toThrow(/after close/);
  });

  it('a server of your own: close() ends the proxy clients, the proxy, then the server', async () => {
    const own = await startRedisServer();
    const proxy = await own.proxy();
    const redis = proxy.connect();
    const seen: string[] = [];
    redis.on('reconnecting', () => seen.push('reconnecting'));
    redis.on('end', () => seen.push('end'));
    await redis.ping();
    await own.close();
    expect(seen).toEqual(['end']);
    expect(proxy.connections).toBe(0);
    expect(own.running).toBe(false);
  });
});
