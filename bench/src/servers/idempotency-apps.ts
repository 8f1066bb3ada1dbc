import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import type { IdempotencyStore } from '@unfazed/server';
import { idempotency as expressIdempotency } from '@unfazed/server/express';
import { idempotency as fastifyIdempotency } from '@unfazed/server/fastify';

/** A web framework under test. */
export type Framework = 'fastify' | 'express';

/** A running app. */
export interface App {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Completed records are kept 10 minutes instead of 24 h, so that keys a killed run could not
 * delete expire soon; it changes no code path.
 */
export const RETENTION_MS = 600_000;

/**
 * Starts `POST /charges` (JSON body in, `201 {"id","amount"}` out) on 127.0.0.1, bare or behind
 * the Idempotency-Key middleware on `store`, mounted the way the server README says.
 */
export async function startApp(
  framework: Framework,
  store: IdempotencyStore | undefined,
): Promise<App> {
  let n = 0;
  if (framework === 'fastify') {
    const app = Fastify({ logger: false });
    if (store) await app.register(fastifyIdempotency, { store, retentionMs: RETENTION_MS });
    app.post('/charges', async (req, reply) => {
      reply.code(201);
      return { id: ++n, amount: (req.body as { amount?: number }).amount };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
  }
  const app = express();
  const handler = (req: express.Request, res: express.Response): void => {
    res.status(201).json({ id: ++n, amount: (req.body as { amount?: number }).amount });
  };
  if (store) {
    app.post(
      '/charges',
      expressIdempotency({ store, retentionMs: RETENTION_MS }),
      express.json(),
      handler,
    );
  } else {
    app.post('/charges', express.json(), handler);
  }
  return listenExpress(app, async () => undefined);
}

/** Listens on 127.0.0.1 (keep-alive 60 s); `close` stops the server, then runs `close`. */
export async function listenExpress(
  app: express.Express,
  close: () => Promise<void>,
): Promise<App> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 60_000;
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await close();
    },
  };
}
