/**
 * The Fastify plugin as Fastify users test it: through `app.inject()` (no socket), and how a
 * bad registration fails.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { isInvalidOptionError } from '@unfazed/contract';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/fastify';

describe('Fastify through app.inject()', () => {
  let app: FastifyInstance;
  let runs = 0;
  let enter!: () => void;
  const entered = new Promise<void>((r) => (enter = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  beforeAll(async () => {
    app = Fastify();
    await app.register(idempotency, { store: memoryIdempotencyStore(), maxBodyBytes: 1024 });
    app.post('/charges', async (req, reply) => {
      runs++;
      return reply.code(201).send({ run: runs, key: req.idempotencyKey, body: req.body });
    });
    app.post('/hold', async (_req, reply) => {
      enter();
      await gate;
      return reply.code(201).send({ held: true });
    });
    app.post('/open', { config: { idempotency: false } }, async (req) => ({
      key: req.idempotencyKey ?? null,
    }));
  });
  afterAll(async () => {
    release();
    await app.close();
  });
  const inject = (url: string, key: string | undefined, payload: string) =>
    app.inject({
      method: 'POST',
      url,
      headers: {
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': `"${key}"` }),
      },
      payload,
    });

  it('runs a keyed request once, gives the handler the parsed key, and replays it', async () => {
    const key = randomUUID();
    const first = await inject('/charges', key, '{"amount":1}');
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ run: 1, key, body: { amount: 1 } });
    const again = await inject('/charges', key, '{"amount":1}');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.rawPayload.equals(first.rawPayload)).toBe(true);
    expect(runs).toBe(1);
  });

  it('answers 422 for another body and 409 (Retry-After 1) while in flight', async () => {
    const key = randomUUID();
    const first = inject('/hold', key, '{"amount":1}');
    await entered;
    const busy = await inject('/hold', key, '{"amount":1}');
    expect(busy.statusCode).toBe(409);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json()).toMatchObject({ code: 'request-in-flight' });
    const other = await inject('/hold', key, '{"amount":2}');
    expect(other.statusCode).toBe(422);
    release();
    expect((await first).statusCode).toBe(201);
  });

  it('answers 413 for a body over maxBodyBytes without running the handler', async () => {
    const before = runs;
    const big = await inject('/charges', randomUUID(), JSON.stringify({ pad: 'p'.repeat(4096) }));
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'payload-too-large' });
    expect(runs).toBe(before);
  });

  it('leaves request.idempotencyKey undefined on a route that opts out', async () => {
    const open = await inject('/open', randomUUID(), '{}');
    expect(open.json()).toEqual({ key: null });
  });
});

describe('Fastify registration with bad options', () => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  beforeAll(() => {
    process.on('uncaughtException', onUncaught);
  });
  afterAll(() => {
    process.off('uncaughtException', onUncaught);
  });

  it.each([
    ['no options', undefined],
    ['no store', {}],
    ['a bad lease', { store: memoryIdempotencyStore(), leaseMs: -1 }],
  ])('rejects ready() with InvalidOptionError: %s', async (_name, options) => {
    const app = Fastify();
    const registered =
      options === undefined
        ? app.register(idempotency as never)
        : app.register(idempotency, options as never);
    const error: unknown = await registered.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isInvalidOptionError(error)).toBe(true);
    await app.close().catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    expect(uncaught).toEqual([]);
  });
});
