/**
 * A Fastify server for CPU profiling, in its own process: `MODE=bare|memory|redis`. Prints its
 * port, then on SIGTERM (or stdin closing) prints the process CPU time per request served since
 * the first `/reset` and exits. Used by `cpu-per-request.ts`; run it alone under `node --cpu-prof`.
 */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { dirname, isAbsolute, join } from 'node:path';
import type * as Stores from '@unfazed/server';
import type * as Plugin from '@unfazed/server/fastify';

async function main(): Promise<void> {
  // MODE=memory or memory:<src dir> (another copy of the sources, for A/B against older code).
  const [mode = 'bare', srcDir] = (process.env.MODE ?? 'bare').split(':');
  const here = dirname(process.argv[1] ?? '.');
  const src = srcDir ? (isAbsolute(srcDir) ? srcDir : join(here, srcDir)) : join(here, '../../src');
  const { memoryIdempotencyStore, redisIdempotencyStore } = (await import(
    join(src, 'index.ts')
  )) as typeof Stores;
  const { idempotency } = (await import(join(src, 'fastify.ts'))) as typeof Plugin;
  const app = Fastify();
  const redis =
    mode === 'redis' ? new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined;
  if (mode === 'memory') {
    await app.register(idempotency, {
      store: memoryIdempotencyStore({ maxEntries: 1_000_000, maxBytes: 512 * 1_048_576 }),
    });
  } else if (redis) {
    await app.register(idempotency, {
      store: redisIdempotencyStore(redis, { prefix: 'bench:cpu:' }),
    });
  }
  let served = 0;
  let cpu = process.cpuUsage();
  app.post('/charges', async (req) => {
    served++;
    return { ok: true, body: req.body };
  });
  app.get('/reset', async () => {
    served = 0;
    cpu = process.cpuUsage();
    return 'ok';
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${(app.server.address() as AddressInfo).port}\n`);
  const stop = async (): Promise<void> => {
    const used = process.cpuUsage(cpu);
    const us = (used.user + used.system) / Math.max(served, 1);
    process.stdout.write(
      `RESULT ${JSON.stringify({ mode: process.env.MODE, served, usPerRequest: us })}\n`,
    );
    await app.close();
    if (redis) {
      const keys = await redis.keys('bench:cpu:*');
      for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
      redis.disconnect();
    }
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
}

void main();
