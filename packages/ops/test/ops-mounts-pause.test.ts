import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { redisDurableStore, memoryDurableStore } from '@unfazed/client/durable';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import { opsConsole, redisAuditLog } from '@unfazed/ops';
import { opsExpress } from '@unfazed/ops/express';
import { opsFastify } from '@unfazed/ops/fastify';
import { call, setup, startDownstream } from './support.js';

let ctx: RedisTestContext;
let downstream: Awaited<ReturnType<typeof startDownstream>>;
beforeAll(async () => {
  ctx = await redisTestContext('ops-mounts');
  downstream = await startDownstream();
});
afterAll(async () => {
  await downstream.close();
  await ctx.close();
});

const allow = (): { allow: true; who: string } => ({ allow: true, who: 'ops' });

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe('mounted in Express (app.use, with and without express.json())', () => {
  it.each([true, false])(
    'serves the routes, passes other paths on (json parser: %s)',
    async (parser) => {
      const s = setup(memoryDurableStore(), downstream.url);
      const { id } = await s.charge.start({ a: 1 });
      const ops = opsConsole({ durable: s.durable, authorize: allow, basePath: '/admin/ops' });
      const app = express();
      if (parser) app.use(express.json());
      app.use(opsExpress(ops));
      app.get('/hello', (_req, res) => void res.send('hi'));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        expect((await call(base, 'GET', '/admin/ops/api/queues')).json.queues[0].type).toBe(
          'charge',
        );
        const r = await call(base, 'POST', `/admin/ops/api/operations/${id}/redrive`, {
          reason: 'express',
        });
        expect(r.json).toMatchObject({ redriven: true });
        expect(await (await fetch(`${base}/hello`)).text()).toBe('hi');
        expect((await call(base, 'GET', '/admin/ops/api/nothing')).status).toBe(404);
      } finally {
        await ops.close();
        await new Promise((r) => {
          server.close(r);
          server.closeAllConnections();
        });
      }
    },
  );
});

describe('registered in Fastify (app.register)', () => {
  it('serves the routes with Fastify parsing the body', async () => {
    const s = setup(memoryDurableStore(), downstream.url);
    const { id } = await s.charge.start({ a: 1 });
    const app = Fastify();
    await app.register(opsFastify, {
      console: opsConsole({ durable: s.durable, authorize: allow }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const list = await call(base, 'GET', '/ops/api/operations?type=charge');
      expect(list.json.items[0].id).toBe(id);
      const cross = await call(
        base,
        'POST',
        `/ops/api/operations/${id}/discard`,
        { reason: 'x' },
        { 'x-unfazed-ops': '0' },
      );
      expect(cross.status).toBe(403);
      const r = await call(base, 'POST', `/ops/api/operations/${id}/discard`, {
        reason: 'fastify',
      });
      expect(r.json).toMatchObject({ discarded: true });
    } finally {
      await app.close();
    }
  });
});

describe('pause and resume a type with real workers (Redis)', () => {
  it('workers stop leasing the paused type and take it again after resume', async () => {
    const redis = ctx.connect({ maxRetriesPerRequest: null });
    const prefix = `${ctx.prefix}pause:`;
    const s = setup(redisDurableStore(redis, { prefix, partitions: 4 }), downstream.url);
    const worker = s.durable.startWorker({ pollInterval: 10 });
    const server = opsConsole({
      durable: s.durable,
      authorize: allow,
      audit: redisAuditLog(ctx.connect(), { prefix }),
    });
    const app = express();
    app.use(opsExpress(server));
    const http = app.listen(0, '127.0.0.1');
    await new Promise((r) => http.once('listening', r));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      await s.charge.start({ first: true }, { wait: 0 });
      await until(
        'the first one failed',
        async () => (await s.durable.counts())['charge']?.failed === 1,
      );
      expect(
        (await call(base, 'POST', '/ops/api/types/charge/pause', { reason: 'downstream incident' }))
          .json,
      ).toEqual(expect.objectContaining({ type: 'charge', paused: true }));
      const { id } = await s.charge.start({ second: true }, { wait: 0 });
      // Parked by the workers' claims: pending, never attempted.
      await until('the paused one is parked', async () => {
        const q = await call(base, 'GET', '/ops/api/queues');
        return q.json.queues[0].paused === true && q.json.queues[0].due === 0;
      });
      await new Promise((r) => setTimeout(r, 100));
      const held = await call(base, 'GET', `/ops/api/operations/${id}`);
      expect(held.json).toMatchObject({
        state: 'pending',
        attempts: 0,
        paused: true,
        next: { kind: 'paused' },
      });
      expect(
        (await call(base, 'POST', '/ops/api/types/charge/resume', { reason: 'fixed' })).json.paused,
      ).toBe(false);
      await until(
        'the resumed one ran',
        async () => (await s.durable.counts())['charge']?.failed === 2,
      );
      const audit = await call(base, 'GET', '/ops/api/audit');
      expect(audit.json.items.map((e: { action: string }) => e.action)).toEqual([
        'resume',
        'pause',
      ]);
      expect(
        (await call(base, 'POST', '/ops/api/types/nothing/pause', { reason: 'x' })).status,
      ).toBe(404);
    } finally {
      await worker.stop({ timeout: 1000 });
      await server.close();
      await new Promise((r) => {
        http.close(r);
        http.closeAllConnections();
      });
      await s.durable.store.close();
    }
  });
});
