/**
 * Responses written the less usual ways a handler may write them — a fetch Response or a web
 * stream returned to Fastify, a hijacked reply, headers given to `writeHead()` alone in
 * Express — replay as they were sent, or say plainly that the body was not kept: never an
 * empty or headerless replay.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency as expressIdempotency } from '@unfazed/server/express';
import { idempotency as fastifyIdempotency } from '@unfazed/server/fastify';
import { post, sleep, type Answer } from './support/http.js';

/** Posts until the first request's outcome is stored (a 409 means it is still being written). */
async function replayOf(url: string, path: string, key: string): Promise<Answer> {
  for (let i = 0; ; i++) {
    const answer = await post(url, path, { key });
    if (answer.status !== 409 || answer.json() === null || i === 50) return answer;
    const code = (answer.json() as { code?: string }).code;
    if (code !== 'request-in-flight') return answer;
    await sleep(20);
  }
}

describe('Fastify: payloads that do not come as a string, buffer or Node stream', () => {
  let app: FastifyInstance;
  let url: string;
  let runs = 0;
  beforeAll(async () => {
    app = Fastify();
    await app.register(fastifyIdempotency, { store: memoryIdempotencyStore() });
    app.post('/response', async () => {
      runs++;
      return new Response(`{"run":${runs}}`, {
        status: 201,
        headers: { 'content-type': 'application/json', location: '/r/1' },
      });
    });
    app.post('/web-stream', async (_req, reply) => {
      runs++;
      reply.code(201).type('text/plain');
      const text = `web ${runs}`;
      return new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text.slice(0, 3)));
          controller.enqueue(new TextEncoder().encode(text.slice(3)));
          controller.close();
        },
      });
    });
    app.post('/hijacked', async (_req, reply) => {
      runs++;
      reply.hijack();
      reply.raw.writeHead(201, { 'content-type': 'application/json' });
      reply.raw.end(`{"run":${runs}}`);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it('replays a returned fetch Response with its status, headers and body', async () => {
    const key = randomUUID();
    const first = await post(url, '/response', { key });
    expect(first.status).toBe(201);
    const before = runs;
    const again = await replayOf(url, '/response', key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe('application/json');
    expect(again.headers.get('location')).toBe('/r/1');
    expect(again.body.equals(first.body)).toBe(true);
    expect(runs).toBe(before);
  });

  it('replays a returned web ReadableStream byte for byte', async () => {
    const key = randomUUID();
    const first = await post(url, '/web-stream', { key });
    expect(first.status).toBe(201);
    expect(first.body.toString()).toMatch(/^web \d+$/);
    const again = await replayOf(url, '/web-stream', key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.equals(first.body)).toBe(true);
  });

  it('answers response-not-retained, not an empty body, for a hijacked reply it could not see', async () => {
    const key = randomUUID();
    const first = await post(url, '/hijacked', { key });
    expect(first.status).toBe(201);
    expect(first.body.length).toBeGreaterThan(0);
    const before = runs;
    const again = await replayOf(url, '/hijacked', key);
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ code: 'response-not-retained', originalStatus: 201 });
    expect(runs).toBe(before);
  });
});

describe('Express: headers given to writeHead() alone', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    const app = express();
    // Without x-powered-by, Node writes writeHead()'s headers straight out: getHeader() is blind.
    app.disable('x-powered-by');
    app.post('/created', expressIdempotency({ store: memoryIdempotencyStore() }), (_req, res) => {
      res.writeHead(201, { 'Content-Type': 'application/json', Location: '/created/1' });
      res.end('{"id":1}');
    });
    app.post('/gzipped', expressIdempotency({ store: memoryIdempotencyStore() }), (_req, res) => {
      res.writeHead(200, [
        ['content-type', 'application/json'],
        ['content-encoding', 'gzip'],
      ]);
      res.end(gzipSync('{"zipped":true}'));
    });
    app.post('/accepted', expressIdempotency({ store: memoryIdempotencyStore() }), (_req, res) => {
      res.status(202).set({ location: '/operations/1', 'retry-after': '3' }).json({ id: '1' });
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('replays a 202 with its Location and Retry-After poll hint', async () => {
    const key = randomUUID();
    await post(url, '/accepted', { key });
    const again = await replayOf(url, '/accepted', key);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe('/operations/1');
    expect(again.headers.get('retry-after')).toBe('3');
  });

  it('keeps Content-Type and Location set only through writeHead(status, headers)', async () => {
    const key = randomUUID();
    const first = await post(url, '/created', { key });
    expect(first.headers.get('location')).toBe('/created/1');
    const again = await replayOf(url, '/created', key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe('application/json');
    expect(again.headers.get('location')).toBe('/created/1');
    expect(again.body.toString()).toBe('{"id":1}');
  });

  it('keeps the Content-Encoding of a body encoded by the handler with writeHead(status, pairs)', async () => {
    const key = randomUUID();
    const first = await post(url, '/gzipped', { key, headers: { 'accept-encoding': 'gzip' } });
    expect(first.json()).toEqual({ zipped: true });
    const again = await replayOf(url, '/gzipped', key);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-encoding')).toBe('gzip');
    expect(again.json()).toEqual({ zipped: true });
  });
});

describe('what a 503 and a bad scope say', () => {
  let server: Server;
  let url: string;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  beforeAll(async () => {
    const app = express();
    app.post(
      '/held',
      expressIdempotency({ store: memoryIdempotencyStore({ maxEntries: 1 }) }),
      async (_req, res) => {
        await gate;
        res.status(201).json({ ok: true });
      },
    );
    app.post(
      '/scoped',
      expressIdempotency({
        store: memoryIdempotencyStore(),
        scope: () => 42 as unknown as string,
      }),
      (_req, res) => res.status(201).end(),
    );
    app.use(
      (error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) =>
        res.status(500).json({ message: error.message }),
    );
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    release();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('says the store is full when every record is in flight, not that it timed out', async () => {
    const held = post(url, '/held', { key: randomUUID() });
    let answer: Answer | undefined;
    for (let i = 0; i < 50; i++) {
      answer = await post(url, '/held', { key: randomUUID() });
      if (answer.status === 503) break;
      await sleep(20);
    }
    expect(answer?.status).toBe(503);
    expect((answer?.json() as { detail: string }).detail).toMatch(/store is full/);
    release();
    expect((await held).status).toBe(201);
  });

  it('names the scope option when scope() returns something other than a string', async () => {
    const answer = await post(url, '/scoped', { key: randomUUID() });
    expect(answer.status).toBe(500);
    expect((answer.json() as { message: string }).message).toMatch(
      /scope option must return a string or undefined \(got number\)/,
    );
  });
});
