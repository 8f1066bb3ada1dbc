import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redisDurableStore } from '@unfazed/client/durable';
import { startRedisCluster, type RedisClusterHandle } from '@unfazed/testing';
import type { Cluster } from 'ioredis';
import { describeDurableBehaviour } from './durable-suite.js';

let cluster: RedisClusterHandle;
let redis: Cluster;
let n = 0;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  redis = cluster.connect({ redisOptions: { maxRetriesPerRequest: null } });
}, 60_000);
afterAll(async () => {
  await cluster.close();
});

describeDurableBehaviour('redis cluster, 3 masters', async () =>
  redisDurableStore(redis, { prefix: `durable-cluster:${++n}:`, partitions: 6 }),
);

describe('redis cluster layout', () => {
  it('spreads the partitions of one logical queue over every master', async () => {
    const store = redisDurableStore(redis, { prefix: 'durable-cluster:spread:', partitions: 6 });
    // 200 operations land in every one of the 6 partitions (a miss has odds of 1e-15).
    for (let i = 0; i < 200; i++) {
      const now = Date.now();
      await store.create({
        id: store.newId('spread'),
        type: 'spread',
        input: '{}',
        now,
        deadline: now + 60_000,
        dueAt: now,
      });
    }
    const perNode = await Promise.all(
      redis
        .nodes('master')
        .map(async (m) => (await m.keys('durable-cluster:spread:*:schedule')).length),
    );
    // Partition tags are chosen to spread evenly over the slots: two schedules per master.
    expect(perNode).toEqual([2, 2, 2]);
    const gauges = await store.gauges(Date.now());
    expect(gauges.due).toEqual({ spread: 200 });
  });
});
