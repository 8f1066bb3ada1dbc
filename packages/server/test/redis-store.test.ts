import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import { redisIdempotencyStore } from '@unfazed/server';
import { startApp } from './support/apps.js';
import { post } from './support/http.js';
import { idempotencySuite } from './support/idempotency-suite.js';

idempotencySuite('redis store', async () => {
  const ctx = await redisTestContext('server-redis-suite');
  return {
    open() {
      const client = ctx.connect({ maxRetriesPerRequest: 1 });
      return {
        store: redisIdempotencyStore(client, { prefix: ctx.prefix }),
        sever: () => client.disconnect(),
      };
    },
    close: () => ctx.close(),
  };
});

describe('redis store — what Redis holds', () => {
  let ctx: RedisTestContext;
  beforeAll(async () => {
    ctx = await redisTestContext('server-redis-keys');
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('names records by a hash of scope and key, never the header text, in one hash-tagged key', async () => {
    const redis = ctx.connect();
    const app = await startApp('express', {
      store: redisIdempotencyStore(redis, { prefix: ctx.prefix }),
    });
    try {
      const key = `visible-${randomUUID()}`;
      expect((await post(app.url, '/charges', { key, user: 'tenant-7' })).status).toBe(201);
      const keys = await ctx.keys();
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(new RegExp(`^${ctx.prefix}\\{[0-9a-f]{64}\\}$`));
      expect(keys.join()).not.toContain(key);
      expect(keys.join()).not.toContain('tenant-7');
      const ttl = await redis.pttl(keys[0] ?? '');
      expect(ttl).toBeGreaterThan(86_000_000);
      // Completed: no lease left; the owner token stays, so a repeated completion is known.
      expect(await redis.hmget(keys[0] ?? '', 's', 'e')).toEqual(['c', null]);
    } finally {
      await app.close();
    }
  });

  it('keeps an in-flight record no longer than twice its lease', async () => {
    const redis = ctx.connect();
    const store = redisIdempotencyStore(redis, { prefix: `${ctx.prefix}lease:` });
    const claim = await store.claim({ key: 'k1', fingerprint: 'f', owner: 'o1', leaseMs: 500 });
    expect(claim).toEqual({ outcome: 'claimed', recovered: false });
    const ttl = await redis.pttl(`${ctx.prefix}lease:{k1}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    expect(
      await store.complete({
        key: 'k1',
        fingerprint: 'f',
        owner: 'other',
        retentionMs: 1000,
        response: { status: 200, headers: {}, body: Buffer.from('x') },
      }),
    ).toBe(false);
    expect(await store.release({ key: 'k1', owner: 'other' })).toBe(false);
    expect(await store.renew({ key: 'k1', owner: 'other', leaseMs: 500 })).toBe(false);
    expect(await store.release({ key: 'k1', owner: 'o1' })).toBe(true);
    expect(await redis.exists(`${ctx.prefix}lease:{k1}`)).toBe(0);
  });

  it('completes a record lost since the claim (e.g. a restart without persistence), once', async () => {
    const redis = ctx.connect();
    const store = redisIdempotencyStore(redis, { prefix: `${ctx.prefix}lost:` });
    const record = `${ctx.prefix}lost:{k2}`;
    expect(await store.claim({ key: 'k2', fingerprint: 'f2', owner: 'o1', leaseMs: 5000 })).toEqual(
      { outcome: 'claimed', recovered: false },
    );
    await redis.del(record);
    const done = {
      key: 'k2',
      fingerprint: 'f2',
      owner: 'o1',
      retentionMs: 60_000,
      response: { status: 201, headers: { 'content-type': 'text/plain' }, body: Buffer.from('ok') },
    };
    expect(await store.complete(done)).toBe(true);
    // A repeat (an earlier try whose answer was lost) is still true; another owner is refused.
    expect(await store.complete(done)).toBe(true);
    expect(await store.complete({ ...done, owner: 'o2' })).toBe(false);
    expect(await redis.hmget(record, 's', 'f', 'c')).toEqual(['c', 'f2', '201']);
    expect(await redis.pttl(record)).toBeGreaterThan(50_000);
    const replay = await store.claim({ key: 'k2', fingerprint: 'f2', owner: 'o3', leaseMs: 500 });
    expect(replay).toMatchObject({ outcome: 'completed', response: { status: 201 } });
    expect(
      await store.claim({ key: 'k2', fingerprint: 'other', owner: 'o3', leaseMs: 500 }),
    ).toEqual({ outcome: 'mismatch' });
  });
});
