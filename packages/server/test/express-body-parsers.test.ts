/**
 * The Express middleware with every usual body parser, mounted before it (the raw bytes are
 * read) and after it (a global parser first: the parsed body is fingerprinted canonically).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type RequestHandler } from 'express';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency, rawBodySaver } from '@unfazed/server/express';
import { post } from './support/http.js';

interface ParserCase {
  name: string;
  parser: RequestHandler | undefined;
  contentType: string;
  body: string;
  other: string;
}

const PARSERS: ParserCase[] = [
  {
    name: 'express.json',
    parser: express.json(),
    contentType: 'application/json',
    body: '{"a":1,"b":2}',
    other: '{"a":2}',
  },
  {
    name: 'express.urlencoded',
    parser: express.urlencoded({ extended: false }),
    contentType: 'application/x-www-form-urlencoded',
    body: 'a=1&b=2',
    other: 'a=2',
  },
  {
    name: 'express.text',
    parser: express.text(),
    contentType: 'text/plain',
    body: 'hello',
    other: 'bye',
  },
  {
    name: 'express.raw',
    parser: express.raw(),
    contentType: 'application/octet-stream',
    body: '\u0001\u0002bytes',
    other: '\u0003bytes',
  },
  {
    name: 'no parser',
    parser: undefined,
    contentType: 'application/json',
    body: '{"a":1}',
    other: '{"a":2}',
  },
];

type Order = 'middleware first' | 'parser first' | 'parser first with rawBodySaver';

interface App {
  url: string;
  runs: () => number;
  /** Resolves when the `/hold` handler has been entered. */
  entered: () => Promise<void>;
  release: () => void;
  close: () => Promise<void>;
}

async function startApp(parser: ParserCase, order: Order): Promise<App> {
  const app = express();
  const middleware = idempotency({ store: memoryIdempotencyStore() });
  let runs = 0;
  let enter!: () => void;
  const entered = new Promise<void>((r) => (enter = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const described = (body: unknown): unknown =>
    Buffer.isBuffer(body) ? { bytes: body.toString('base64') } : (body ?? null);
  let chosen = parser.parser;
  if (order === 'parser first with rawBodySaver' && parser.parser) {
    const factories: Record<string, (o: { verify: typeof rawBodySaver }) => RequestHandler> = {
      'express.json': (o) => express.json(o),
      'express.urlencoded': (o) => express.urlencoded({ extended: false, ...o }),
      'express.text': (o) => express.text(o),
      'express.raw': (o) => express.raw(o),
    };
    chosen = factories[parser.name]?.({ verify: rawBodySaver });
  }
  if (order === 'middleware first') app.use(middleware);
  if (chosen) app.use(chosen);
  if (order !== 'middleware first') app.use(middleware);
  app.post('/echo', (req, res) => {
    runs++;
    res.status(201).json({ run: runs, key: req.idempotencyKey, body: described(req.body) });
  });
  app.post('/hold', async (req, res) => {
    runs++;
    enter();
    await gate;
    res.status(201).json({ run: runs, body: described(req.body) });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    runs: () => runs,
    entered: () => entered,
    release,
    close: () =>
      new Promise((resolve) => {
        release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const ORDERS: Order[] = ['middleware first', 'parser first', 'parser first with rawBodySaver'];

describe.each(ORDERS)('Express, %s', (order) => {
  describe.each(PARSERS.map((p) => [p.name, p] as const))('%s', (_name, parser) => {
    let app: App;
    beforeAll(async () => {
      app = await startApp(parser, order);
    });
    afterAll(() => app.close());
    const send = (key: string, body: string, path = '/echo') =>
      post(app.url, path, {
        key,
        body: Buffer.from(body, 'latin1'),
        headers: { 'content-type': parser.contentType },
      });

    it('runs once, hands the handler the parsed key and body, and replays', async () => {
      const key = randomUUID();
      const first = await send(key, parser.body);
      expect(first.status).toBe(201);
      const runs = app.runs();
      expect(first.json()).toMatchObject({ key });
      if (parser.parser) expect((first.json() as { body: unknown }).body).not.toBeNull();
      const again = await send(key, parser.body);
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.equals(first.body)).toBe(true);
      expect(app.runs()).toBe(runs);
    });

    it('answers 422 for the same key with another body', async () => {
      const key = randomUUID();
      expect((await send(key, parser.body)).status).toBe(201);
      const other = await send(key, parser.other);
      expect(other.status).toBe(422);
      expect(other.json()).toMatchObject({ code: 'idempotency-key-reused' });
    });

    it('answers 409 with Retry-After 1 while the first request runs', async () => {
      const key = randomUUID();
      const first = send(key, parser.body, '/hold');
      await app.entered();
      const busy = await send(key, parser.body, '/hold');
      expect(busy.status).toBe(409);
      expect(busy.headers.get('retry-after')).toBe('1');
      app.release();
      expect((await first).status).toBe(201);
    });
  });
});

describe('Express, what a parsed body fingerprint means', () => {
  it('with a parsed JSON body, the same JSON in another key order is the same request', async () => {
    const app = await startApp(PARSERS[0] as ParserCase, 'parser first');
    try {
      const key = randomUUID();
      expect((await post(app.url, '/echo', { key, body: '{"a":1,"b":2}' })).status).toBe(201);
      const reordered = await post(app.url, '/echo', { key, body: '{"b":2, "a":1}' });
      expect(reordered.status).toBe(201);
      expect(reordered.headers.get('idempotent-replayed')).toBe('true');
    } finally {
      await app.close();
    }
  });

  it.each<Order>(['middleware first', 'parser first with rawBodySaver'])(
    'with raw bytes (%s), another key order is another request',
    async (order) => {
      const app = await startApp(PARSERS[0] as ParserCase, order);
      try {
        const key = randomUUID();
        expect((await post(app.url, '/echo', { key, body: '{"a":1,"b":2}' })).status).toBe(201);
        const reordered = await post(app.url, '/echo', { key, body: '{"b":2, "a":1}' });
        expect(reordered.status).toBe(422);
      } finally {
        await app.close();
      }
    },
  );

  it('leaves excluded fields out of a parsed body, and leaves req.body untouched', async () => {
    const app = express();
    app.use(express.json());
    app.use(idempotency({ store: memoryIdempotencyStore(), excludeFields: ['sentAt'] }));
    let seen: unknown;
    app.post('/x', (req, res) => {
      seen = req.body;
      res.status(201).json({ ok: true });
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const key = randomUUID();
      expect((await post(url, '/x', { key, body: '{"amount":1,"sentAt":1}' })).status).toBe(201);
      expect(seen).toEqual({ amount: 1, sentAt: 1 });
      const later = await post(url, '/x', { key, body: '{"sentAt":2,"amount":1}' });
      expect(later.headers.get('idempotent-replayed')).toBe('true');
      expect((await post(url, '/x', { key, body: '{"amount":2,"sentAt":1}' })).status).toBe(422);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
