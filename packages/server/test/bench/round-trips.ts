/**
 * Counts Redis round trips of the Idempotency-Key middleware with `INFO commandstats` deltas:
 * one first request (claim + complete) and one replay. Run: `npx tsx packages/server/test/bench/round-trips.ts`
 * with a Redis on 127.0.0.1:6379 (or REDIS_URL).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { redisIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/fastify';

async function commandCalls(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    // Commands run inside a script are counted too: count only what the client sent.
    if (['evalsha', 'eval', 'info', 'script'].includes(m[1] ?? '')) total += Number(m[2]);
  }
  return total;
}

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const client = new Redis(url);
  const admin = new Redis(url);
  const app = Fastify();
  await app.register(idempotency, {
    store: redisIdempotencyStore(client, { prefix: 'bench:rt:' }),
  });
  app.post('/charges', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const send = (key: string) =>
    fetch(`${base}/charges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
      body: '{"amount":1}',
    }).then((r) => r.text());
  await send(randomUUID()); // loads the scripts (EVALSHA miss → EVAL) once
  await new Promise((r) => setTimeout(r, 50));
  const key = randomUUID();
  const info = 1; // each INFO call counts itself
  const t0 = await commandCalls(admin);
  await send(key);
  await new Promise((r) => setTimeout(r, 50)); // completion runs after the response is sent
  const t1 = await commandCalls(admin);
  await send(key);
  const t2 = await commandCalls(admin);
  console.log(`first request: ${t1 - t0 - info} round trip(s)`);
  console.log(`replay:        ${t2 - t1 - info} round trip(s)`);
  await app.close();
  // Leave nothing behind in the caller's Redis.
  const keys = await admin.keys('bench:rt:*');
  if (keys.length > 0) await admin.unlink(...keys);
  client.disconnect();
  admin.disconnect();
}

void main();
