import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  isDurableStoreUnavailableError,
  memoryDurableStore,
  redisDurableStore,
  type DurableStore,
} from '@unfazed/client/durable';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import { rejection } from './durable-suite.js';

let ctx: RedisTestContext;
beforeAll(async () => {
  ctx = await redisTestContext('durable-close');
});
afterAll(async () => {
  await ctx.close();
});

async function createOne(store: DurableStore, now: number): Promise<string> {
  const id = store.newId('ship');
  await store.create({ id, type: 'ship', input: '{}', now, deadline: now + 60_000, dueAt: now });
  return id;
}

describe('DurableStore.close()', () => {
  it('redis: sends the settle waiting for the next batched write, then refuses calls; the connection stays open', async () => {
    const redis = ctx.connect({ maxRetriesPerRequest: null });
    const store = redisDurableStore(redis, { prefix: `${ctx.prefix}batch:`, partitions: 1 });
    const now = Date.now();
    const id = await createOne(store, now);
    const [claimed] = await store.claim(0, now, 1, 'w', 30_000);
    const owner = claimed?.record.owner ?? '';
    // Queued for the batch of this turn of the event loop, not yet written.
    const settled = store.settle(id, owner, now, { action: 'finish', state: 'completed' }, []);
    await store.close();
    await expect(settled).resolves.toBe(true);
    const done = { action: 'finish', state: 'completed' } as const;
    expect(await rejection(store.get(id), isDurableStoreUnavailableError)).toBe(true);
    expect(
      await rejection(store.settle(id, owner, now, done, []), isDurableStoreUnavailableError),
    ).toBe(true);
    const reader = redisDurableStore(redis, { prefix: `${ctx.prefix}batch:`, partitions: 1 });
    expect((await reader.get(id))?.state).toBe('completed');
    expect(await redis.ping()).toBe('PONG');
  });

  it('memory: drops what it holds and refuses calls', async () => {
    const store = memoryDurableStore();
    const id = await createOne(store, Date.now());
    await store.close();
    expect(await rejection(store.get(id), isDurableStoreUnavailableError)).toBe(true);
    expect(await rejection(store.counts(), isDurableStoreUnavailableError)).toBe(true);
  });
});
