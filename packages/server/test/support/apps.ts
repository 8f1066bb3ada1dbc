/** Real Express and Fastify apps on loopback, with the same routes, for the shared suite. */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Readable } from 'node:stream';
import express from 'express';
import Fastify from 'fastify';
import type { IdempotencyStore, IdempotencyListeners } from '@unfazed/server';
import { idempotency as expressIdempotency } from '@unfazed/server/express';
import { idempotency as fastifyIdempotency } from '@unfazed/server/fastify';
import { post, requestHeaders, type Answer } from './http.js';

/**
 * How an app is wired, as users wire them:
 * - `express`: the middleware first (`app.use(idempotency)` then `app.use(express.json())`);
 * - `express-parsed`: a global `express.json()` first, then the middleware (the usual shape);
 * - `fastify`: the plugin, requests over real sockets;
 * - `fastify-inject`: the plugin, requests through `app.inject()` (how Fastify users test).
 * Tests that need a socket (a raw request, a client that disconnects) use `url` in every wiring.
 */
export type Framework = 'express' | 'express-parsed' | 'fastify' | 'fastify-inject';

/** Every wiring, for suites that run in all of them. */
export const WIRINGS: readonly Framework[] = [
  'express',
  'express-parsed',
  'fastify',
  'fastify-inject',
];

/** What {@link TestApp.post} sends. */
export interface PostOptions {
  key?: string | undefined;
  body?: string | Buffer;
  user?: string;
  headers?: Record<string, string>;
}

/** Options a test may set; the app adds `scope` from the `x-user` header. */
export interface AppOptions {
  store: IdempotencyStore;
  leaseMs?: number;
  storeTimeoutMs?: number;
  maxBodyBytes?: number;
  maxResponseBytes?: number;
  failOpen?: boolean;
  on?: IdempotencyListeners;
}

/** Bytes the `/stream` route sends, in 5 writes. */
export const STREAM_BODY = randomBytes(5 * 4096);
/** Size of the `/big` response body. */
export const BIG_BODY_BYTES = 64 * 1024;

export interface TestApp {
  url: string;
  /** POSTs as the wiring's users do: over a socket, or through `app.inject()`. */
  post(path: string, options?: PostOptions): Promise<Answer>;
  /** Handler runs per route path. */
  calls: Map<string, number>;
  /** Lets every request waiting in `/hold` answer. */
  releaseHeld(): void;
  /** Resolves when `/hold` has been entered `n` times in total. */
  held(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startApp(framework: Framework, options: AppOptions): Promise<TestApp> {
  const calls = new Map<string, number>();
  let charges = 0;
  let holdEntered = 0;
  let releaseHold!: () => void;
  let holdGate = new Promise<void>((r) => (releaseHold = r));
  const holdWaiters: { n: number; resolve: () => void }[] = [];
  const count = (route: string): number => {
    const n = (calls.get(route) ?? 0) + 1;
    calls.set(route, n);
    return n;
  };
  const enterHold = async (): Promise<void> => {
    count('/hold');
    holdEntered++;
    for (const w of holdWaiters) if (holdEntered >= w.n) w.resolve();
    await holdGate;
  };
  const charge = (body: { amount?: unknown }) => {
    charges++;
    return { id: charges, amount: body.amount ?? null };
  };
  const chargeHeaders = (id: number): Record<string, string> => ({
    location: `/charges/${id}`,
    etag: `"charge-${id}"`,
    'set-cookie': `session=${randomBytes(4).toString('hex')}; HttpOnly`,
    'x-request-id': randomBytes(4).toString('hex'),
  });
  const delayOf = (query: unknown): number => Number((query as { delay?: string }).delay ?? 0);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  let close: () => Promise<void>;
  let url: string;
  let send: TestApp['post'] | undefined;
  if (framework === 'express' || framework === 'express-parsed') {
    const app = express();
    const middleware = expressIdempotency({
      ...options,
      scope: (req) => req.get('x-user'),
    });
    if (framework === 'express') app.use(middleware);
    app.use(express.json({ limit: '2mb' }));
    if (framework === 'express-parsed') app.use(middleware);
    app.post('/charges', async (req, res) => {
      count('/charges');
      await sleep(delayOf(req.query));
      const body = charge(req.body as { amount?: unknown });
      res.status(201).set(chargeHeaders(body.id)).json(body);
    });
    app.post('/hold', async (req, res) => {
      await enterHold();
      // Answers even when the client has gone: the outcome must still be recorded.
      res.status(201).json({ held: true, amount: (req.body as { amount?: unknown }).amount });
    });
    app.post('/stream', async (_req, res) => {
      count('/stream');
      res.status(200).type('application/octet-stream');
      for (let i = 0; i < 5; i++) {
        res.write(STREAM_BODY.subarray(i * 4096, (i + 1) * 4096));
        await sleep(2);
      }
      res.end();
    });
    app.post('/big', (_req, res) => {
      count('/big');
      res.status(200).type('text/plain').send('x'.repeat(BIG_BODY_BYTES));
    });
    app.post('/boom', (_req, res) => {
      const n = count('/boom');
      res.status(n === 1 ? 503 : 200).json({ attempt: n });
    });
    app.post('/invalid', (_req, res) => {
      count('/invalid');
      res.status(400).json({ error: 'amount must be positive' });
    });
    app.get('/charges', (_req, res) => {
      count('GET /charges');
      res.json({ ok: true });
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  } else {
    const app = Fastify({ bodyLimit: 2 * 1024 * 1024 });
    await app.register(fastifyIdempotency, {
      ...options,
      scope: (req) => req.headers['x-user'] as string | undefined,
    });
    app.post('/charges', async (req, reply) => {
      count('/charges');
      await sleep(delayOf(req.query));
      const body = charge((req.body ?? {}) as { amount?: unknown });
      return reply.code(201).headers(chargeHeaders(body.id)).send(body);
    });
    app.post('/hold', async (req, reply) => {
      await enterHold();
      return reply
        .code(201)
        .send({ held: true, amount: (req.body as { amount?: unknown }).amount });
    });
    app.post('/stream', async (_req, reply) => {
      count('/stream');
      const chunks = [0, 1, 2, 3, 4].map((i) => STREAM_BODY.subarray(i * 4096, (i + 1) * 4096));
      const stream = Readable.from(
        (async function* () {
          for (const c of chunks) {
            yield c;
            await sleep(2);
          }
        })(),
      );
      return reply.code(200).type('application/octet-stream').send(stream);
    });
    app.post('/big', async (_req, reply) => {
      count('/big');
      return reply.type('text/plain').send(Buffer.from('x'.repeat(BIG_BODY_BYTES)));
    });
    app.post('/boom', async (_req, reply) => {
      const n = count('/boom');
      return reply.code(n === 1 ? 503 : 200).send({ attempt: n });
    });
    app.post('/invalid', async (_req, reply) => {
      count('/invalid');
      return reply.code(400).send({ error: 'amount must be positive' });
    });
    app.get('/charges', async () => {
      count('GET /charges');
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    if (framework === 'fastify-inject') {
      send = async (path, opts = {}) => {
        const res = await app.inject({
          method: 'POST',
          url: path,
          headers: requestHeaders(opts),
          payload: opts.body ?? '{"amount":42}',
        });
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.append(name, String(v));
        }
        const body = res.rawPayload;
        return {
          status: res.statusCode,
          headers,
          body,
          json: () => JSON.parse(body.toString()) as unknown,
        };
      };
    }
    close = async () => {
      app.server.closeAllConnections();
      await app.close();
    };
  }
  const appUrl = url;
  return {
    url,
    post: send ?? ((path, opts) => post(appUrl, path, opts)),
    calls,
    releaseHeld() {
      releaseHold();
      holdGate = new Promise<void>((r) => (releaseHold = r));
    },
    held(n) {
      if (holdEntered >= n) return Promise.resolve();
      return new Promise((resolve) => holdWaiters.push({ n, resolve }));
    },
    close: () => {
      releaseHold();
      return close();
    },
  };
}
