import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@unfazed/client';
import {
  createDurable,
  isInvalidOperationInputError,
  memoryDurableStore,
  redisDurableStore,
  type DurableStore,
} from '@unfazed/client/durable';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import { startDownstream, until } from './durable-downstream.js';

let ctx: RedisTestContext;
let n = 0;
beforeAll(async () => {
  ctx = await redisTestContext('durable-pause');
});
afterAll(async () => {
  await ctx.close();
});

const stores: [string, () => DurableStore][] = [
  ['memory', () => memoryDurableStore()],
  [
    'redis',
    () =>
      redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
        prefix: `${ctx.prefix}${++n}:`,
        partitions: 4,
      }),
  ],
];

describe.each(stores)('pause, edited redrive and search filters (%s store)', (_name, make) => {
  it('a paused type is not leased by workers; resumed, it runs at once; other types run meanwhile', async () => {
    const downstream = await startDownstream((req) => ({
      status: req.path.startsWith('/status/404') ? 404 : 200,
    }));
    const store = make();
    const durable = createDurable({ client: createClient({ baseUrl: downstream.url }), store });
    const a = durable.operation<{ n: number }>('a', {
      request: () => ({ method: 'POST', path: '/ok' }),
    });
    const b = durable.operation<{ n: number }>('b', {
      request: () => ({ method: 'POST', path: '/ok' }),
    });
    const worker = durable.startWorker({ pollInterval: 10 });
    try {
      await store.pauseType?.('a');
      expect(await store.pausedTypes?.()).toEqual(['a']);
      const held = await a.start({ n: 1 }, { wait: 0 });
      const other = await b.start({ n: 2 }, { wait: 0 });
      await until('b ran', async () => (await durable.status(other.id))?.state === 'completed');
      // Workers have polled many times since: a is still pending, never attempted.
      await new Promise((r) => setTimeout(r, 100));
      expect((await store.get(held.id))?.state).toBe('pending');
      expect(await store.history(held.id)).toEqual([]);
      await store.resumeType?.('a');
      expect(await store.pausedTypes?.()).toEqual([]);
      await until('a ran', async () => (await durable.status(held.id))?.state === 'completed');
    } finally {
      await worker.stop({ timeout: 1000 });
      await store.close();
      await downstream.close();
    }
  });

  it('redrives with an edited input checked like start; lists by status and by text in the error', async () => {
    const downstream = await startDownstream((req) => ({
      status: req.path.startsWith('/status/404') ? 404 : 200,
    }));
    const store = make();
    const durable = createDurable({ client: createClient({ baseUrl: downstream.url }), store });
    const op = durable.operation<unknown>('gone', {
      request: () => ({ method: 'POST', path: '/status/404' }),
      maxInputBytes: 100,
    });
    try {
      const out = await op.start({ n: 1 });
      expect(out.status).toBe('failed');
      const byStatus = await durable.deadLetters.list({ status: 404 });
      expect(byStatus.items.map((r) => r.id)).toEqual([out.id]);
      expect((await durable.deadLetters.list({ status: 500 })).items).toEqual([]);
      const message = (await store.get(out.id))?.lastError?.message ?? '';
      const word = message.slice(0, 6);
      expect((await durable.deadLetters.list({ text: word })).items).toEqual([]);
      expect(
        (await durable.deadLetters.list({ text: word, textIn: ['error'] })).items,
      ).toHaveLength(1);
      const refused = await durable.deadLetters
        .redrive(out.id, { input: { big: 'x'.repeat(200) } })
        .catch((e: unknown) => e);
      expect(isInvalidOperationInputError(refused)).toBe(true);
      expect(await durable.deadLetters.redrive(out.id, { input: { n: 2 } })).toBe(true);
      const rec = await store.get(out.id);
      expect(rec?.input).toBe('{"n":2}');
      const history = await store.history(out.id);
      expect(history[history.length - 1]).toMatchObject({
        kind: 'redriven',
        note: 'from failed, with an edited input',
      });
    } finally {
      await store.close();
      await downstream.close();
    }
  });
});
