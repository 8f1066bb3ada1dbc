/**
 * Fastify over a socket reads a keyed request's body as it streams to the content-type parser.
 * The fingerprint must see every byte whoever reads them: a body in many chunks, a parser that
 * never reads the body, and a chunked body (no Content-Length, read first and put back).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/fastify';
import { post } from './support/http.js';

describe('Fastify: the body as the fingerprint sees it', () => {
  let app: FastifyInstance;
  let url: string;
  let runs = 0;
  const seen: unknown[] = [];
  beforeAll(async () => {
    app = Fastify({ bodyLimit: 4 * 1_048_576 });
    await app.register(idempotency, { store: memoryIdempotencyStore(), maxBodyBytes: 1_048_576 });
    // A parser that answers without reading the body: the plugin reads the rest itself.
    app.addContentTypeParser('application/x-ignored', (_req, _payload, done) => {
      done(null, 'ignored');
    });
    app.post('/charges', async (req, reply) => {
      runs++;
      seen.push(typeof req.body === 'string' ? req.body : (req.body as { n?: number }).n);
      return reply.code(201).send({ run: runs });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it('fingerprints a body that arrives in many chunks, every byte of it', async () => {
    const key = randomUUID();
    const body = JSON.stringify({ n: 1, pad: 'p'.repeat(300_000) });
    const first = await post(url, '/charges', { key, body });
    expect(first.status).toBe(201);
    const again = await post(url, '/charges', { key, body });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.equals(first.body)).toBe(true);
    // Only the last byte before the closing brace differs.
    const other = await post(url, '/charges', { key, body: body.slice(0, -2) + 'q"}' });
    expect(other.status).toBe(422);
  });

  it('fingerprints the body of a request whose parser never reads it', async () => {
    const key = randomUUID();
    const headers = { 'content-type': 'application/x-ignored' };
    const before = runs;
    const first = await post(url, '/charges', { key, body: 'abc', headers });
    expect(first.status).toBe(201);
    expect(seen[seen.length - 1]).toBe('ignored');
    const again = await post(url, '/charges', { key, body: 'abc', headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await post(url, '/charges', { key, body: 'abd', headers })).status).toBe(422);
    expect(runs - before).toBe(1);
  });

  it('fingerprints a chunked body, and answers 413 past the limit', async () => {
    const key = randomUUID();
    const chunked = (text: string) =>
      fetch(`${url}/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            const bytes = new TextEncoder().encode(text);
            controller.enqueue(bytes.subarray(0, 3));
            controller.enqueue(bytes.subarray(3));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    const first = await chunked('{"n":7}');
    expect(first.status).toBe(201);
    expect(seen[seen.length - 1]).toBe(7);
    const again = await chunked('{"n":7}');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await chunked('{"n":8}')).status).toBe(422);
    const big = await fetch(`${url}/charges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `"${randomUUID()}"` },
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"pad":"${'p'.repeat(1_100_000)}"}`));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit).catch((error: unknown) => error);
    // A 413 (the connection closes after it; fetch may report the reset instead).
    if (big instanceof Response) expect(big.status).toBe(413);
  });
});

// The body is tapped in preParsing; other preParsing hooks and parsers run after it.
describe('Fastify: the body tap among the hooks and parsers an app adds', () => {
  it('reads a keyed body to the end behind a slow async preParsing hook registered after it', async () => {
    const app = Fastify();
    await app.register(idempotency, { store: memoryIdempotencyStore() });
    app.addHook('preParsing', async (_req, _reply, payload) => {
      await new Promise((r) => setTimeout(r, 50));
      return payload;
    });
    app.post('/charges', async (req, reply) =>
      reply.code(201).send({ n: (req.body as { n: number }).n }),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const key = randomUUID();
      const r = await post(url, '/charges', { key, body: JSON.stringify({ n: 7 }) });
      expect(r.status).toBe(201);
      expect(JSON.parse(r.body.toString())).toEqual({ n: 7 });
    } finally {
      await app.close();
    }
  }, 10_000);

  it('starts the flow for a parser that only listens for data, and still fingerprints every byte', async () => {
    const app = Fastify();
    await app.register(idempotency, { store: memoryIdempotencyStore() });
    app.addContentTypeParser('text/x-own', (_req, payload, done) => {
      let text = '';
      payload.on('data', (c: Buffer) => (text += c.toString()));
      payload.on('end', () => done(null, text));
    });
    app.post('/charges', async (req, reply) => reply.code(201).send({ got: req.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const key = randomUUID();
      const r = await post(url, '/charges', {
        key,
        body: 'hello',
        headers: { 'content-type': 'text/x-own' },
      });
      expect(r.status).toBe(201);
      expect(JSON.parse(r.body.toString())).toEqual({ got: 'hello' });
      const again = await post(url, '/charges', {
        key,
        body: 'hellp',
        headers: { 'content-type': 'text/x-own' },
      });
      expect(again.status).toBe(422);
    } finally {
      await app.close();
    }
  }, 10_000);
});
