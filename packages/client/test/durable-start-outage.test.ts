import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@unfazed/client';
import {
  createDurable,
  isDurableStoreUnavailableError,
  redisDurableStore,
  type DurableStoreUnavailableError,
} from '@unfazed/client/durable';
import { startRedisServer, type RedisServerHandle } from '@unfazed/testing';
import { startDownstream, until, type Downstream } from './durable-downstream.js';

/*
 * Issue 12, defect 3: a start that threw could still run later. A start whose write-ahead timed
 * out (Redis stalled) is not undone when Redis resumes: the queued write lands and the operation
 * runs. So every error from start names the operation it tried to write (`operationId`), and
 * what the caller can rely on is that `status(operationId)` tells the truth once the store
 * answers again, and that a retried start with the same key finds the operation instead of
 * creating a second one.
 */

let own: RedisServerHandle;
let downstream: Downstream;
beforeAll(async () => {
  own = await startRedisServer();
  downstream = await startDownstream(() => ({ status: 200 }));
});
afterAll(async () => {
  const pid = own.pid;
  if (pid !== undefined) process.kill(pid, 'SIGCONT');
  await own.close();
  await downstream.close();
});

async function startError(p: Promise<unknown>): Promise<DurableStoreUnavailableError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isDurableStoreUnavailableError(error)).toBe(true);
  return error as DurableStoreUnavailableError;
}

describe('start during an outage', () => {
  it('a start whose write timed out names the operation; once Redis answers, status tells the truth and a retried keyed start finds it', async () => {
    const pid = own.pid;
    if (pid === undefined) throw new Error('the spawned Redis has no pid');
    // As the README advises: commands wait through an outage; storeTimeout bounds start.
    const redis = own.connect({ maxRetriesPerRequest: null });
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({
      client,
      store: redisDurableStore(redis, { prefix: 'outage:late:', partitions: 4 }),
      storeTimeout: 300,
    });
    const op = durable.operation('charge', {
      request: (input) => ({ method: 'POST', path: '/charge', json: input }),
    });
    const worker = durable.startWorker({ pollInterval: 20 });
    try {
      process.kill(pid, 'SIGSTOP');
      let errors: DurableStoreUnavailableError[];
      try {
        errors = [
          await startError(op.start({ n: 1 }, { wait: 0 })),
          await startError(op.start({ n: 2 }, { key: 'order-2', wait: 0 })),
          // With `wait`: its write-ahead leases the operation to a first attempt that never runs.
          await startError(op.start({ n: 3 }, { key: 'order-3', wait: 1_000 })),
        ];
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const ids = errors.map((e) => e.operationId);
      for (const [i, id] of ids.entries()) {
        expect(typeof id).toBe('string');
        expect(errors[i]?.message).toContain(String(id));
      }
      expect(new Set(ids).size).toBe(3);
      // The writes were only delayed: they land, and the operations run, as status says. The one
      // leased to the start that gave up is handed to the workers, not left for its whole lease
      // (30 s by default).
      for (const id of ids as string[]) {
        await until(
          `${id} completed`,
          async () => (await durable.status(id))?.state === 'completed',
          10_000,
        );
        expect(downstream.requests.filter((r) => r.key === id)).toHaveLength(1);
      }
      // A retried start with the same key finds the operation: no second one.
      const again = await op.start({ n: 2 }, { key: 'order-2', wait: 0 });
      expect(again).toMatchObject({ status: 'completed', id: ids[1], existing: true });
      expect((await op.find('order-3'))?.id).toBe(ids[2]);
    } finally {
      await worker.stop({ timeout: 1_000 });
      redis.disconnect();
      await client.close();
    }
  }, 30_000);

  it('a start whose write never left names an operation that does not exist; a retried keyed start creates it once', async () => {
    // No offline queue and not connected yet: the write fails before it is sent.
    const offline = own.connect({ enableOfflineQueue: false, lazyConnect: true });
    const redis = own.connect({ maxRetriesPerRequest: null });
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const store = { prefix: 'outage:lost:', partitions: 4 } as const;
    const down = createDurable({ client, store: redisDurableStore(offline, store) });
    const up = createDurable({ client, store: redisDurableStore(redis, store) });
    const definition = {
      request: (input: unknown) => ({ method: 'POST', path: '/charge', json: input }),
    };
    try {
      const error = await startError(
        down.operation('charge', definition).start({ n: 4 }, { key: 'order-4', wait: 0 }),
      );
      const id = error.operationId;
      expect(typeof id).toBe('string');
      expect(await up.status(id as string)).toBeUndefined();
      const op = up.operation('charge', definition);
      const retried = await op.start({ n: 4 }, { key: 'order-4', wait: 1_000 });
      expect(retried).toMatchObject({ status: 'completed', existing: false });
      expect(retried.id).not.toBe(id);
      expect(await op.start({ n: 4 }, { key: 'order-4', wait: 0 })).toMatchObject({
        id: retried.id,
        existing: true,
      });
      expect(downstream.requests.filter((r) => r.key === id)).toHaveLength(0);
      expect(downstream.requests.filter((r) => r.key === retried.id)).toHaveLength(1);
    } finally {
      offline.disconnect();
      redis.disconnect();
      await client.close();
    }
  });
});
