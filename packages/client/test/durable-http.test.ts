import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import Fastify from 'fastify';
import { createClient, type Client } from '@unfazed/client';
import { createDurable, memoryDurableStore, type Durable } from '@unfazed/client/durable';
import { isOperationStatus } from '@unfazed/contract';
import { operationStatusRoute, sendOutcome } from '@unfazed/server/express';
import { operationStatusRoutes, replyOutcome } from '@unfazed/server/fastify';
import { startDownstream, until, type Downstream } from './durable-downstream.js';

/** The 200/202 flow end to end: a service behind Express or Fastify calls a flaky downstream durably. */
describe('durable 200/202 flow over HTTP', () => {
  let downstream: Downstream;
  let client: Client;
  let durable: Durable;
  let healthy = true;
  beforeAll(async () => {
    downstream = await startDownstream(() =>
      healthy ? { status: 200, body: { pass: 'B-12' } } : { status: 503 },
    );
    client = createClient({ baseUrl: downstream.url, breaker: false });
    durable = createDurable({
      client,
      store: memoryDurableStore(),
      backoff: { initialMs: 30, maxMs: 60 },
    });
  });
  afterAll(async () => {
    await client.close();
    await downstream.close();
  });

  const location = (id: string): string => `/operations/${id}`;

  async function exercise(base: string): Promise<void> {
    healthy = true;
    const ok = await fetch(`${base}/checkin`, {
      method: 'POST',
      headers: { 'idempotency-key': `a-${base}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ pass: 'B-12' });

    healthy = false;
    const accepted = await fetch(`${base}/checkin`, {
      method: 'POST',
      headers: { 'idempotency-key': `b-${base}`, 'x-wait': '100' },
    });
    expect(accepted.status).toBe(202);
    const where = accepted.headers.get('location') ?? '';
    expect(where).toMatch(/^\/operations\/.+/);
    expect(Number(accepted.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const pending = await fetch(`${base}${where}`);
    expect(pending.status).toBe(200);
    expect(pending.headers.get('retry-after')).not.toBeNull();
    const body: unknown = await pending.json();
    expect(isOperationStatus(body)).toBe(true);
    expect(body).toMatchObject({
      state: 'pending',
      type: expect.stringMatching(/^boarding-pass-/),
    });

    healthy = true;
    const worker = durable.startWorker({ pollInterval: 10 });
    try {
      await until('status completed', async () => {
        const s = (await (await fetch(`${base}${where}`)).json()) as { state: string };
        return s.state === 'completed';
      });
    } finally {
      await worker.stop();
    }
    const missing = await fetch(`${base}/operations/unknown.0`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/problem\+json/);
  }

  it('Express: 200 in time, else 202 with Location and Retry-After; the status route follows it to completed', async () => {
    const op = durable.operation<{ booking: string }>('boarding-pass-express', {
      request: (input) => ({ method: 'POST', path: '/passes', json: input }),
    });
    const app = express();
    app.post('/checkin', async (req, res) => {
      const key = req.header('idempotency-key');
      const wait = Number(req.header('x-wait') ?? 5_000);
      sendOutcome(res, await op.start({ booking: 'X1' }, { wait, ...(key ? { key } : {}) }), {
        location,
      });
    });
    app.get('/operations/:id', operationStatusRoute({ source: durable }));
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      await exercise(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Fastify: the same flow with replyOutcome and the operationStatusRoutes plugin', async () => {
    const op = durable.operation<{ booking: string }>('boarding-pass-fastify', {
      request: (input) => ({ method: 'POST', path: '/passes', json: input }),
    });
    const app = Fastify();
    await app.register(operationStatusRoutes, { source: durable });
    app.post('/checkin', async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const wait = Number(request.headers['x-wait'] ?? 5_000);
      const outcome = await op.start(
        { booking: 'X1' },
        { wait, ...(typeof key === 'string' ? { key } : {}) },
      );
      return replyOutcome(reply, outcome, { location });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await exercise(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
    } finally {
      await app.close();
    }
  });
});
