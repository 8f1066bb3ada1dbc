/**
 * Child process of the server suite: starts Fastify and Express apps, bare, on the memory store
 * (one for new keys, one for replays), on the Redis store, the Redis floor and the peers
 * (`@node-idempotency/core` on both, `express-idempotency` on Express), prints `READY {"ports":{...}}`, and exits when its stdin ends or after
 * BENCH_MAX_MS. Run with `node --import tsx` (plus `--conditions=@unfazed/source` to load the sources).
 */
import { Redis } from 'ioredis';
import { memoryIdempotencyStore, redisIdempotencyStore } from '@unfazed/server';
import { startApp, type App, type Framework } from './idempotency-apps.js';
import { startExpressIdempotencyApp, startFloorApp, startNodeIdempotencyApp } from './peer-apps.js';

async function main(): Promise<void> {
  const url = process.env['BENCH_REDIS_URL'];
  const prefix = process.env['BENCH_REDIS_PREFIX'];
  const maxMs = Number(process.env['BENCH_MAX_MS'] ?? 600_000);
  if (!url || !prefix) throw new Error('BENCH_REDIS_URL and BENCH_REDIS_PREFIX are required');
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectionName: 'unfazed-bench-server' });
  const apps: Record<string, App> = {};
  for (const framework of ['fastify', 'express'] as Framework[]) {
    apps[`${framework}-bare`] = await startApp(framework, undefined);
    apps[`${framework}-memory`] = await startApp(framework, memoryIdempotencyStore());
    // Replays get a store of their own: new-key runs would evict their keys from a shared one.
    apps[`${framework}-memory-replay`] = await startApp(framework, memoryIdempotencyStore());
    apps[`${framework}-redis`] = await startApp(
      framework,
      redisIdempotencyStore(redis, { prefix: `${prefix}${framework}:` }),
    );
    // The Redis floor and the peers, on the same Redis (the floor on the same connection).
    apps[`${framework}-floor`] = await startFloorApp(framework, redis, `${prefix}floor:`);
    apps[`${framework}-node-idempotency`] = await startNodeIdempotencyApp(
      framework,
      url,
      `${prefix}${framework}:`,
    );
  }
  // Keys Redis with the header's value as it is: the suite sends keys under its prefix.
  apps['express-express-idempotency'] = await startExpressIdempotencyApp(url);
  let closing = false;
  const shutdown = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await Promise.allSettled(Object.values(apps).map((app) => app.close()));
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  process.stdin.on('end', () => void shutdown());
  process.stdin.resume();
  setTimeout(() => void shutdown(), maxMs).unref();
  const ports = Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, app.port]));
  process.stdout.write(`READY ${JSON.stringify({ ports })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
