/**
 * A client that disconnects while the middleware is claiming the key (store call in progress):
 * the handler must not run for a request nobody can answer and whose body stream is gone (with
 * Express, `express.json()` after the middleware would hand the handler no body), and the claim
 * must be released so that the client's retry runs the handler once, with its body.
 */
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { describe, it, expect, afterEach } from '@jest/globals';
import express from 'express';
import Fastify from 'fastify';
import {
  memoryIdempotencyStore,
  type IdempotencyStore,
  type IdempotencyEvent,
} from '@unfazed/server';
import { idempotency as expressIdempotency } from '@unfazed/server/express';
import { idempotency as fastifyIdempotency } from '@unfazed/server/fastify';
import { post } from './support/http.js';

/** A memory store whose claims wait at a gate the test opens. */
function gatedStore(): {
  store: IdempotencyStore;
  claimEntered: Promise<void>;
  openGate(): void;
} {
  const inner = memoryIdempotencyStore();
  let entered!: () => void;
  const claimEntered = new Promise<void>((r) => (entered = r));
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  return {
    store: {
      ...inner,
      async claim(input) {
        entered();
        await gate;
        return inner.claim(input);
      },
    },
    claimEntered,
    openGate: () => open(),
  };
}

interface Started {
  url: string;
  /** Handler runs, and the `amount` each run saw in its parsed body. */
  amounts: unknown[];
  /** Resolves when the server has seen the connection of the first request close. */
  firstClosed: Promise<void>;
  close(): Promise<void>;
}

type Framework = 'express' | 'fastify';

async function start(
  framework: Framework,
  store: IdempotencyStore,
  on: { released: (e: IdempotencyEvent) => void },
): Promise<Started> {
  const amounts: unknown[] = [];
  let closed!: () => void;
  const firstClosed = new Promise<void>((r) => (closed = r));
  const onClose = (res: NodeJS.EventEmitter): void => {
    res.once('close', () => closed());
  };
  if (framework === 'express') {
    const app = express();
    app.use((_req, res, next) => {
      onClose(res);
      next();
    });
    app.post(
      '/charges',
      expressIdempotency({ store, on }),
      express.json(),
      (req: express.Request, res: express.Response) => {
        const amount = (req.body as { amount?: unknown } | undefined)?.amount;
        amounts.push(amount);
        res.status(201).json({ amount: amount ?? null });
      },
    );
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      amounts,
      firstClosed,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
  const app = Fastify();
  app.addHook('onRequest', async (_req, reply) => {
    onClose(reply.raw);
  });
  await app.register(fastifyIdempotency, { store, on });
  app.post('/charges', async (req, reply) => {
    const amount = (req.body as { amount?: unknown } | undefined)?.amount;
    amounts.push(amount);
    return reply.code(201).send({ amount: amount ?? null });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    amounts,
    firstClosed,
    close: () => app.close(),
  };
}

describe.each<Framework>(['express', 'fastify'])('%s: client gone during the claim', (fw) => {
  let app: Started | undefined;
  let socket: Socket | undefined;
  afterEach(async () => {
    socket?.destroy();
    await app?.close();
    app = undefined;
  });

  it('does not run the handler, releases the key, and the retry runs once with its body', async () => {
    const gated = gatedStore();
    let releasedEvent!: (e: IdempotencyEvent) => void;
    const released = new Promise<IdempotencyEvent>((r) => (releasedEvent = r));
    app = await start(fw, gated.store, { released: (e) => releasedEvent(e) });

    const body = '{"amount":42}';
    const { port } = new URL(app.url);
    socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      'POST /charges HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
        `idempotency-key: "gone-1"\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    await gated.claimEntered;
    socket.destroy();
    await app.firstClosed;
    gated.openGate();

    // Without the release the claim would be held (and renewed) indefinitely: the test's
    // timeout bounds this wait (a fixed 2 s race could lose on a loaded machine).
    const event = await released;
    expect(app.amounts).toEqual([]);
    expect(event?.key).toBe('gone-1');
    expect(event?.status).toBeUndefined();

    const retry = await post(app.url, '/charges', { key: 'gone-1', body });
    expect(retry.status).toBe(201);
    expect(retry.json()).toEqual({ amount: 42 });
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(app.amounts).toEqual([42]);

    const replay = await post(app.url, '/charges', { key: 'gone-1', body });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(app.amounts).toEqual([42]);
  }, 15_000);
});
