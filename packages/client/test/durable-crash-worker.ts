/**
 * A durable worker process for the crash test (run by `runChild`, killed with SIGKILL at
 * random points). Environment: DOWNSTREAM_URL, PREFIX, HOOK_FILE, and REDIS_URL or CLUSTER_NODES.
 */
import { appendFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import { createDurable, redisDurableStore } from '@unfazed/client/durable';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const nodes = process.env['CLUSTER_NODES'];
const redis = nodes
  ? new Cluster(
      nodes.split(',').map((n) => ({ host: n.split(':')[0] ?? '', port: Number(n.split(':')[1]) })),
      { redisOptions: { maxRetriesPerRequest: null } },
    )
  : new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
const client = createClient({ baseUrl: env('DOWNSTREAM_URL'), breaker: false });
const durable = createDurable({
  client,
  store: redisDurableStore(redis, { prefix: env('PREFIX'), partitions: 6 }),
  leaseMs: 600,
  attemptTimeout: 2_000,
  backoff: { initialMs: 50, maxMs: 300 },
});
const hookFile = env('HOOK_FILE');
durable.operation<{ n: number }>('crash-op', {
  request: (input) => ({ method: 'POST', path: '/effects', json: input }),
  onSuccess: (_response, ctx) => {
    appendFileSync(hookFile, `${ctx.id}\n`);
  },
});
durable.startWorker({ concurrency: 2, pollInterval: 20, name: `child-${process.pid}` });
console.log('worker ready');
