import { afterAll, beforeAll } from '@jest/globals';
import { redisDurableStore } from '@unfazed/client/durable';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import { describeSagaBehaviour } from './saga-suite.js';

let ctx: RedisTestContext;
let n = 0;
beforeAll(async () => {
  ctx = await redisTestContext('saga-redis');
});
afterAll(async () => {
  await ctx.close();
});

describeSagaBehaviour('redis store', async () =>
  redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
    prefix: `${ctx.prefix}${++n}:`,
    partitions: 4,
  }),
);
