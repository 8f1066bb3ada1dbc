/**
 * CPU µs per request of the Fastify plugin without sockets (`app.inject`), in one process, in
 * alternating rounds: bare, then each plugin variant on the memory and Redis stores. A variant
 * is a source folder (`VARIANTS=new:../../src,old:/path/to/copy/src`), so a change can be
 * measured against the code before it in the same run. Prints medians of CPU µs per request and
 * of the overhead over bare. `npx tsx --conditions=@unfazed/source packages/server/test/bench/inject-cpu.ts`
 */
import { randomUUID } from 'node:crypto';
import { isAbsolute, join, dirname } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const REQUESTS = Number(process.env.REQUESTS ?? 3000);
const BATCH = 32;
const here = dirname(process.argv[1] ?? '.');
const variants = (process.env.VARIANTS ?? 'new:../../src').split(',').map((v) => {
  const [name = 'new', dir = '../../src'] = v.split(':');
  return { name, dir: isAbsolute(dir) ? dir : join(here, dir) };
});
const stores = (process.env.STORES ?? 'memory,redis').split(',');

interface Plugin {
  idempotency: Parameters<FastifyInstance['register']>[0];
}
interface Stores {
  memoryIdempotencyStore(o: object): unknown;
  redisIdempotencyStore(r: Redis, o: object): unknown;
}

async function build(
  variant: { dir: string } | undefined,
  store: string,
  redis: Redis,
): Promise<FastifyInstance> {
  const app = Fastify();
  if (variant) {
    const plugin = (await import(join(variant.dir, 'fastify.ts'))) as Plugin;
    const s = (await import(join(variant.dir, 'index.ts'))) as Stores;
    const st =
      store === 'memory'
        ? s.memoryIdempotencyStore({ maxEntries: 1_000_000, maxBytes: 512 * 1_048_576 })
        : s.redisIdempotencyStore(redis, { prefix: 'bench:inject:' });
    await app.register(plugin.idempotency, { store: st } as never);
  }
  app.post('/charges', async (req) => ({ ok: true, body: req.body }));
  await app.ready();
  return app;
}

async function drive(app: FastifyInstance, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i += BATCH) {
    await Promise.all(
      Array.from({ length: BATCH }, async () => {
        const res = await app.inject({
          method: 'POST',
          url: '/charges',
          headers: { 'content-type': 'application/json', 'idempotency-key': `"${randomUUID()}"` },
          payload: '{"amount":42}',
        });
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.body}`);
      }),
    );
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

async function main(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const cases: { name: string; variant?: { dir: string }; store: string }[] = [
    { name: 'bare', store: '' },
  ];
  for (const store of stores) {
    for (const v of variants) cases.push({ name: `${store}-${v.name}`, variant: v, store });
  }
  const apps = new Map<string, FastifyInstance>();
  for (const c of cases) apps.set(c.name, await build(c.variant, c.store, redis));
  for (const app of apps.values()) await drive(app, 500); // warm-up
  const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) {
      if (global.gc) global.gc();
      const app = apps.get(c.name) as FastifyInstance;
      results.get(c.name)?.push(await drive(app, REQUESTS));
    }
  }
  const bare = results.get('bare') ?? [];
  for (const [name, us] of results) {
    const over = us.map((u, i) => u - (bare[i] ?? NaN));
    console.log(
      `${name.padEnd(14)} ${median(us).toFixed(1)} µs/req (${Math.min(...us).toFixed(1)}–${Math.max(...us).toFixed(1)}), ` +
        `overhead over bare ${median(over).toFixed(1)} µs`,
    );
  }
  for (const app of apps.values()) await app.close();
  const keys = await redis.keys('bench:inject:*');
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  redis.disconnect();
}

void main();
