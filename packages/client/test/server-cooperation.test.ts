import type { Server } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import { createClient, type Client, type ClientEvents } from '@unfazed/client';

/** A TCP proxy that can swallow the next response and cut the connection: a lost response. */
async function lossyProxy(target: number): Promise<{
  url: string;
  loseNextResponse(): void;
  close(): Promise<void>;
}> {
  let lose = false;
  const sockets = new Set<Socket>();
  const server = createTcpServer((downstream) => {
    const upstream = connect(target, '127.0.0.1');
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    downstream.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (lose) {
        lose = false;
        downstream.destroy();
        upstream.destroy();
        return;
      }
      downstream.write(chunk);
    });
    upstream.on('end', () => downstream.end());
    downstream.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    loseNextResponse: () => {
      lose = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('with the @unfazed/server idempotency middleware', () => {
  let server: Server;
  let proxy: Awaited<ReturnType<typeof lossyProxy>>;
  let client: Client;
  const charges: string[] = [];

  beforeAll(async () => {
    const app = express();
    app.post(
      '/charges',
      idempotency({ store: memoryIdempotencyStore(), leaseMs: 1000 }),
      express.json(),
      async (req, res) => {
        charges.push(String(req.get('idempotency-key')));
        await new Promise((r) => setTimeout(r, Number(req.query.ms ?? 0)));
        res
          .status(201)
          .json({ id: `ch_${charges.length}`, amount: (req.body as { amount: number }).amount });
      },
    );
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    proxy = await lossyProxy((server.address() as AddressInfo).port);
    client = createClient({ baseUrl: proxy.url, retry: { backoff: { initialMs: 5, maxMs: 10 } } });
  });

  afterAll(async () => {
    await client.close();
    await proxy.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a lost response is retried with the same key and answered from the store: one charge', async () => {
    charges.length = 0;
    proxy.loseNextResponse();
    const res = await client.request({ method: 'POST', path: '/charges', json: { amount: 42 } });
    expect(res.status).toBe(201);
    expect(res.attempts).toBeGreaterThanOrEqual(2);
    expect(res.replayed).toBe(true);
    expect(await res.json()).toEqual({ id: 'ch_1', amount: 42 });
    expect(charges).toEqual([`"${res.idempotencyKey}"`]);
  });

  it('a duplicate in flight gets 409 + Retry-After, waits, and gets the stored answer', async () => {
    charges.length = 0;
    const retries: ClientEvents['retry'][] = [];
    const off = client.on('retry', (e) => retries.push(e));
    const first = client.request({
      method: 'POST',
      path: '/charges',
      query: { ms: 300 },
      json: { amount: 7 },
      idempotencyKey: 'order-7',
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = await client.request({
      method: 'POST',
      path: '/charges',
      query: { ms: 300 },
      json: { amount: 7 },
      idempotencyKey: 'order-7',
    });
    off();
    const firstRes = await first;
    expect(firstRes.status).toBe(201);
    expect(firstRes.replayed).toBe(false);
    expect(second.status).toBe(201);
    expect(second.replayed).toBe(true);
    expect(await second.json()).toEqual(await firstRes.json());
    expect(retries.map((r) => [r.cause, r.delayReason])).toEqual([
      ['status 409 request-in-flight', 'retry-after'],
    ]);
    expect(charges).toEqual(['"order-7"']);
  });

  it('the same key with another body is final (422), never retried', async () => {
    charges.length = 0;
    const ok = await client.request({
      method: 'POST',
      path: '/charges',
      json: { amount: 1 },
      idempotencyKey: 'order-8',
    });
    await ok.dump();
    const reused = await client.request({
      method: 'POST',
      path: '/charges',
      json: { amount: 2 },
      idempotencyKey: 'order-8',
    });
    expect(reused.status).toBe(422);
    expect(reused.attempts).toBe(1);
    expect(await reused.json()).toMatchObject({ code: 'idempotency-key-reused' });
    expect(charges).toHaveLength(1);
  });
});
