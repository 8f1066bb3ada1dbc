// The Fastify side, type-checked with the user's own ioredis.
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { redisIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/fastify';

export async function build(): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify();
  await app.register(idempotency, {
    store: redisIdempotencyStore(new Redis({ maxRetriesPerRequest: 1 })),
    leaseMs: 30_000,
  });
  app.post('/charges', async (_req, reply) => reply.code(201).send({ ok: true }));
  app.post('/ping', { config: { idempotency: false } }, async () => 'pong');
  return app;
}
