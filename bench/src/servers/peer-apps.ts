import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import {
  Idempotency,
  IdempotencyError,
  IdempotencyErrorCodes,
  type IdempotencyParams,
} from '@node-idempotency/core';
import { RedisStorageAdapter } from '@node-idempotency/storage-adapter-redis';
import {
  getSharedIdempotencyService,
  idempotency,
  type IIdempotencyDataAdapter,
} from 'express-idempotency';
import RedisAdapterExport from 'express-idempotency-redis-adapter';
import { listenExpress, RETENTION_MS, type App, type Framework } from './idempotency-apps.js';

/**
 * The apps the Unfazed middleware is compared with, each serving the same `POST /charges`
 * (JSON body in, `201 {"id","amount"}` out) as `startApp`, on 127.0.0.1:
 *
 * - the Redis floor: a handler doing the two plain `SET`s any Redis idempotency layer needs at
 *   the least (claim with `NX PX`, then store the response);
 * - `@node-idempotency/core` on its Redis adapter (node-redis 4), glued to the framework the way
 *   its own Express and Fastify plugins do it (those plugins are not on the registry here);
 * - `express-idempotency` on `express-idempotency-redis-adapter` (node-redis 4), Express only,
 *   mounted as its README shows.
 */

/** How long the floor's claim lives before it expires by itself (its "lease"), ms. */
const FLOOR_CLAIM_MS = 60_000;

type Charge = { id: number; amount: number | undefined };

/** Closes a Fastify app or a node:http server of an Express app. */
async function listenFastify(app: FastifyInstance, close: () => Promise<void>): Promise<App> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    port: (app.server.address() as AddressInfo).port,
    close: async () => {
      await app.close();
      await close();
    },
  };
}

/**
 * The Redis floor: `SET <key> in-flight NX PX 60000`; a key already there answers 409; else the
 * handler runs and `SET <key> <status+body> PX <retention>` stores its answer before it is sent.
 * Nothing else: no fingerprint, no replay, no lease renewal, no owner check on the second write.
 */
export async function startFloorApp(
  framework: Framework,
  redis: Redis,
  prefix: string,
): Promise<App> {
  let n = 0;
  const handle = async (key: string, amount: number | undefined): Promise<Charge | undefined> => {
    const redisKey = `${prefix}${key}`;
    const claimed = await redis.set(redisKey, 'in-flight', 'PX', FLOOR_CLAIM_MS, 'NX');
    if (claimed !== 'OK') return undefined;
    const body: Charge = { id: ++n, amount };
    await redis.set(redisKey, JSON.stringify({ status: 201, body }), 'PX', RETENTION_MS);
    return body;
  };
  if (framework === 'fastify') {
    const app = Fastify({ logger: false });
    app.post('/charges', async (req, reply) => {
      const body = await handle(
        String(req.headers['idempotency-key']),
        (req.body as { amount?: number }).amount,
      );
      if (!body) return reply.code(409).send({ error: 'key in use' });
      reply.code(201);
      return body;
    });
    return listenFastify(app, async () => undefined);
  }
  const app = express();
  app.post('/charges', express.json(), (req, res, next) => {
    handle(String(req.headers['idempotency-key']), (req.body as { amount?: number }).amount).then(
      (body) => {
        if (!body) res.status(409).json({ error: 'key in use' });
        else res.status(201).json(body);
      },
      next,
    );
  });
  return listenExpress(app, async () => undefined);
}

/** The status `@node-idempotency`'s plugins answer for each of its errors. */
const NODE_IDEMPOTENCY_STATUS: Record<string, number> = {
  [IdempotencyErrorCodes.IDEMPOTENCY_FINGERPRINT_MISSMATCH]: 422,
  [IdempotencyErrorCodes.IDEMPOTENCY_KEY_LEN_EXEEDED]: 400,
  [IdempotencyErrorCodes.IDEMPOTENCY_KEY_MISSING]: 400,
  [IdempotencyErrorCodes.REQUEST_IN_PROGRESS]: 409,
};

/** What `@node-idempotency` keeps of an answer: its status and content type (its `headers2Cache`). */
type Additional = { statusCode?: number; 'Content-Type'?: string };

/**
 * `@node-idempotency/core` with `RedisStorageAdapter({ url })`: `onRequest` before the handler
 * (Fastify `preHandler`, an Express middleware after `express.json()`), `onResponse` with the
 * answer (Fastify `onSend`, awaited; Express: from a wrapped `res.send`, not awaited, as its
 * Express plugin does), replays with `Idempotent-Replayed: true`, errors mapped as its plugins
 * map them (409 in flight with `Retry-After: 1`, 422 fingerprint mismatch, 400 key).
 */
export async function startNodeIdempotencyApp(
  framework: Framework,
  url: string,
  prefix: string,
): Promise<App> {
  const adapter = new RedisStorageAdapter({ url });
  await adapter.connect();
  const nodeIdempotency = new Idempotency(adapter, {
    cacheKeyPrefix: `${prefix}node-idempotency`,
    cacheTTLMS: RETENTION_MS,
  });
  const close = (): Promise<void> => adapter.disconnect();
  let n = 0;
  const charge = (body: unknown): Charge => ({
    id: ++n,
    amount: (body as { amount?: number }).amount,
  });
  const errorStatus = (error: IdempotencyError): number =>
    NODE_IDEMPOTENCY_STATUS[error.code] ?? 500;

  if (framework === 'fastify') {
    const app = Fastify({ logger: false });
    const params = new WeakMap<object, IdempotencyParams>();
    app.addHook('preHandler', async (req, reply) => {
      const p: IdempotencyParams = {
        headers: req.headers,
        body: req.body as Record<string, unknown>,
        path: req.url,
        method: req.method,
      };
      try {
        const cached = await nodeIdempotency.onRequest(p);
        if (!cached) {
          params.set(req, p);
          return;
        }
        const additional = (cached.additional ?? {}) as Additional;
        reply.code(additional.statusCode ?? 200);
        if (additional['Content-Type']) reply.header('content-type', additional['Content-Type']);
        reply.header('idempotent-replayed', 'true');
        return reply.send(cached.body ?? cached.error);
      } catch (error) {
        if (!(error instanceof IdempotencyError)) throw error;
        if (error.code === IdempotencyErrorCodes.REQUEST_IN_PROGRESS) {
          reply.header('retry-after', '1');
        }
        return reply.code(errorStatus(error)).send({ error: error.message });
      }
    });
    app.addHook('onSend', async (req, reply, payload) => {
      const p = params.get(req);
      if (!p) return payload;
      const statusCode = reply.statusCode;
      const additional: Additional = { statusCode };
      const type = reply.getHeader('content-type');
      if (type !== undefined) additional['Content-Type'] = String(type);
      await nodeIdempotency.onResponse(p, {
        additional,
        ...(statusCode < 400 ? { body: payload } : { error: payload }),
      });
      return payload;
    });
    app.post('/charges', async (req, reply) => {
      reply.code(201);
      return charge(req.body);
    });
    return listenFastify(app, close);
  }

  const app = express();
  const middleware: express.RequestHandler = (req, res, next) => {
    const p: IdempotencyParams = {
      headers: req.headers,
      body: req.body as Record<string, unknown>,
      path: req.url,
      method: req.method,
    };
    nodeIdempotency.onRequest(p).then(
      (cached) => {
        if (!cached) {
          const send = res.send.bind(res);
          res.send = (body?: unknown) => {
            const statusCode = res.statusCode;
            const additional: Additional = { statusCode };
            const type = res.getHeader('content-type');
            if (type !== undefined) additional['Content-Type'] = String(type);
            let stored = body;
            if (typeof body === 'string' && String(type).includes('application/json')) {
              try {
                stored = JSON.parse(body);
              } catch {
                // kept as text
              }
            }
            void nodeIdempotency
              .onResponse(p, {
                additional,
                ...(statusCode < 400 ? { body: stored } : { error: stored }),
              })
              .catch(() => undefined);
            return send(body);
          };
          next();
          return;
        }
        const additional = (cached.additional ?? {}) as Additional;
        res.status(additional.statusCode ?? 200);
        if (additional['Content-Type']) res.setHeader('content-type', additional['Content-Type']);
        res.setHeader('idempotent-replayed', 'true');
        if (cached.body !== undefined) res.send(cached.body);
        else next(cached.error);
      },
      (error: unknown) => {
        if (!(error instanceof IdempotencyError)) {
          next(error);
          return;
        }
        if (error.code === IdempotencyErrorCodes.REQUEST_IN_PROGRESS) {
          res.setHeader('retry-after', '1');
        }
        res.status(errorStatus(error)).json({ error: error.message });
      },
    );
  };
  app.post('/charges', express.json(), middleware, (req, res) => {
    res.status(201).json(charge(req.body));
  });
  return listenExpress(app, close);
}

/**
 * `express-idempotency` with `new RedisAdapter({ connectionConfig: { url }, ttl })` after
 * `express.json()` (its intent check compares the parsed body), the handler returning early on
 * `isHit(req)` as its README shows. It keys Redis with the header's value as it is, so the
 * bench sends it keys that start with the suite's prefix.
 */
export async function startExpressIdempotencyApp(url: string): Promise<App> {
  // A CommonJS module with `exports.default`: Node's ESM loader gives the exports object.
  const RedisAdapter = RedisAdapterExport.default;
  const adapter = new RedisAdapter({
    connectionConfig: { url },
    ttl: Math.ceil(RETENTION_MS / 1000),
  });
  await adapter.connect();
  let n = 0;
  const app = express();
  app.post(
    '/charges',
    express.json(),
    // Its typings disagree with express-idempotency's under exactOptionalPropertyTypes only.
    idempotency({ dataAdapter: adapter as unknown as IIdempotencyDataAdapter }),
    (req: express.Request, res: express.Response) => {
      if (getSharedIdempotencyService().isHit(req)) return;
      res.status(201).json({ id: ++n, amount: (req.body as { amount?: number }).amount });
    },
  );
  return listenExpress(app, () => adapter.disconnect());
}
