import { startRedisCluster, type RedisClusterHandle } from '@unfazed/testing';
import { redisIdempotencyStore } from '@unfazed/server';
import type { Cluster } from 'ioredis';
import { idempotencySuite, severable } from './support/idempotency-suite.js';

idempotencySuite(
  'redis cluster (3 masters)',
  async () => {
    const cluster: RedisClusterHandle = await startRedisCluster({ masters: 3 });
    const clients: Cluster[] = [];
    return {
      open() {
        const client = cluster.connect();
        clients.push(client);
        // A crashed process stops talking to Redis. (Not `client.disconnect()`: a Cluster client
        // disconnected with commands in flight leaves retry timers behind that keep jest alive.)
        return severable(redisIdempotencyStore(client, { prefix: 'ut:server-cluster:' }));
      },
      async close() {
        await Promise.all(clients.map((c) => c.quit()));
        for (const c of clients) c.disconnect();
        await cluster.close();
      },
    };
    // The usual wirings only: the other two run on the single-node stores, and the cluster part
    // is the store's, not the framework's.
  },
  ['express-parsed', 'fastify-inject'],
);
