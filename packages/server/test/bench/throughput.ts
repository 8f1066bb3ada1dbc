/**
 * Requests/s of one Fastify route without and with the Idempotency-Key plugin (Redis store), in
 * one run, at a fixed concurrency on 127.0.0.1, each phase bounded in time. Every request has a
 * new key, so each one is a first request (claim + handler + complete). Uses Node's fetch
 * (undici inside). Run: `npx tsx --conditions=@unfazed/source packages/server/test/bench/throughput.ts`
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import {
  memoryIdempotencyStore,
  redisIdempotencyStore,
  type IdempotencyStore,
} from '@unfazed/server';
import { idempotency } from '@unfazed/server/fastify';

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

async function server(store: IdempotencyStore | undefined): Promise<[FastifyInstance, string]> {
  const app = Fastify();
  if (store) await app.register(idempotency, { store });
  app.post('/charges', async (req) => ({ ok: true, body: req.body }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return [app, `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/charges`];
}

async function load(url: string): Promise<{ rps: number; errors: number }> {
  const until = Date.now() + SECONDS * 1000;
  let done = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `"${randomUUID()}"` },
        body: '{"amount":42}',
      });
      await res.arrayBuffer();
      if (res.status === 200) done++;
      else errors++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { rps: Math.round(done / ((Date.now() - started) / 1000)), errors };
}

async function main(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const phases: [string, IdempotencyStore | undefined][] = [
    ['without middleware', undefined],
    [
      'with middleware, memoryIdempotencyStore',
      memoryIdempotencyStore({ maxEntries: 1_000_000, maxBytes: 512 * 1_048_576 }),
    ],
    [
      'with middleware, redisIdempotencyStore',
      redisIdempotencyStore(redis, { prefix: 'bench:tp:' }),
    ],
  ];
  console.log(`concurrency ${CONCURRENCY}, ${SECONDS} s per phase, node ${process.version}`);
  for (const [name, store] of phases) {
    const [app, url] = await server(store);
    await load(url); // warm-up run (JIT, connections, script loading), discarded
    const result = await load(url);
    console.log(`${name.padEnd(30)} ${result.rps} req/s (${result.errors} non-200)`);
    await app.close();
  }
  const keys = await redis.keys('bench:tp:*');
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  redis.disconnect();
}

void main();
