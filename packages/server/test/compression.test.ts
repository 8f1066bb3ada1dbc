/**
 * Compressed responses are replayed byte-identical, with their Content-Encoding and Vary:
 * Express with `compression` (mounted before or after the middleware), a handler that sends
 * gzip itself, and Fastify with `@fastify/compress` (registered before or after the plugin).
 */
import { randomUUID } from 'node:crypto';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import compression from 'compression';
import express from 'express';
import Fastify from 'fastify';
import fastifyCompress from '@fastify/compress';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency as expressIdempotency } from '@unfazed/server/express';
import { idempotency as fastifyIdempotency } from '@unfazed/server/fastify';

const PAYLOAD = { items: Array.from({ length: 200 }, (_, i) => ({ i, name: `item ${i}` })) };
const JSON_TEXT = JSON.stringify(PAYLOAD);

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A POST whose answer is read as sent: no decompression (unlike fetch). */
function rawPost(url: string, key: string, acceptEncoding: string | undefined): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': `"${key}"`,
      connection: 'close',
    };
    if (acceptEncoding !== undefined) headers['accept-encoding'] = acceptEncoding;
    const req = request(`${url}/report`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end('{"month":"2026-11"}');
  });
}

function decoded(answer: { headers: Record<string, unknown>; body: Buffer }): unknown {
  const encoding = answer.headers['content-encoding'];
  const text = encoding === 'gzip' ? gunzipSync(answer.body) : answer.body;
  return JSON.parse(text.toString());
}

type ExpressWiring = 'compression before' | 'compression after' | 'handler gzips';

async function expressApp(
  wiring: ExpressWiring,
): Promise<{ url: string; runs: () => number; close(): Promise<void> }> {
  const app = express();
  let runs = 0;
  const idem = expressIdempotency({ store: memoryIdempotencyStore() });
  if (wiring === 'compression before') app.use(compression({ threshold: 0 }));
  app.use(express.json());
  app.use(idem);
  const handlers: express.RequestHandler[] = [];
  if (wiring === 'compression after') handlers.push(compression({ threshold: 0 }));
  handlers.push((_req, res) => {
    runs++;
    if (wiring === 'handler gzips') {
      res
        .status(201)
        .set({
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          vary: 'Accept-Encoding',
        })
        .send(gzipSync(JSON_TEXT));
      return;
    }
    res.status(201).json(PAYLOAD);
  });
  app.post('/report', ...handlers);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    runs: () => runs,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each<ExpressWiring>(['compression before', 'compression after', 'handler gzips'])(
  'Express, %s the middleware',
  (wiring) => {
    it('replays a gzip response byte-identical, with Content-Encoding and Vary', async () => {
      const app = await expressApp(wiring);
      try {
        const key = randomUUID();
        const first = await rawPost(app.url, key, 'gzip');
        expect(first.status).toBe(201);
        expect(first.headers['content-encoding']).toBe('gzip');
        expect(decoded(first)).toEqual(PAYLOAD);
        const again = await rawPost(app.url, key, 'gzip');
        expect(again.status).toBe(201);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.headers['content-encoding']).toBe('gzip');
        expect(String(again.headers.vary).toLowerCase()).toContain('accept-encoding');
        expect(again.body.equals(first.body)).toBe(true);
        expect(app.runs()).toBe(1);
      } finally {
        await app.close();
      }
    });

    it('replays a decodable body to a client that sends no Accept-Encoding, or refuses gzip', async () => {
      const app = await expressApp(wiring);
      try {
        const key = randomUUID();
        expect((await rawPost(app.url, key, 'gzip')).status).toBe(201);
        // No Accept-Encoding accepts any coding (RFC 9110): a compressor before the middleware
        // re-decides for this client (compression: no coding); otherwise the stored gzip goes
        // out as stored, labelled, and Vary tells caches.
        const plain = await rawPost(app.url, key, undefined);
        expect(plain.headers['idempotent-replayed']).toBe('true');
        expect(plain.headers['content-encoding']).toBe(
          wiring === 'compression before' ? undefined : 'gzip',
        );
        expect(decoded(plain)).toEqual(PAYLOAD);
        // A client that refuses gzip gets the decoded body.
        const identity = await rawPost(app.url, key, 'identity');
        expect(identity.headers['idempotent-replayed']).toBe('true');
        expect(identity.headers['content-encoding']).toBeUndefined();
        expect(JSON.parse(identity.body.toString())).toEqual(PAYLOAD);
        expect(app.runs()).toBe(1);
      } finally {
        await app.close();
      }
    });
  },
);

describe.each(['before', 'after'])(
  'Fastify, @fastify/compress registered %s the plugin',
  (order) => {
    it('replays a gzip response byte-identical, with Content-Encoding and Vary', async () => {
      const app = Fastify();
      if (order === 'before') await app.register(fastifyCompress, { threshold: 0 });
      await app.register(fastifyIdempotency, { store: memoryIdempotencyStore() });
      if (order === 'after') await app.register(fastifyCompress, { threshold: 0 });
      let runs = 0;
      app.post('/report', async (_req, reply) => {
        runs++;
        return reply.code(201).send(PAYLOAD);
      });
      try {
        const key = randomUUID();
        const send = (acceptEncoding: string | undefined) =>
          app.inject({
            method: 'POST',
            url: '/report',
            headers: {
              'content-type': 'application/json',
              'idempotency-key': `"${key}"`,
              ...(acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }),
            },
            payload: '{"month":"2026-11"}',
          });
        const first = await send('gzip');
        expect(first.statusCode).toBe(201);
        expect(first.headers['content-encoding']).toBe('gzip');
        expect(decoded({ headers: first.headers, body: first.rawPayload })).toEqual(PAYLOAD);
        const again = await send('gzip');
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.headers['content-encoding']).toBe('gzip');
        expect(String(again.headers.vary).toLowerCase()).toContain('accept-encoding');
        expect(again.rawPayload.equals(first.rawPayload)).toBe(true);
        const plain = await send(undefined);
        expect(plain.headers['idempotent-replayed']).toBe('true');
        expect(decoded({ headers: plain.headers, body: plain.rawPayload })).toEqual(PAYLOAD);
        const identity = await send('identity');
        expect(identity.headers['content-encoding']).toBeUndefined();
        expect(identity.json()).toEqual(PAYLOAD);
        expect(runs).toBe(1);
      } finally {
        await app.close();
      }
    });
  },
);
