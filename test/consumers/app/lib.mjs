// Shared by the consumer apps: the user's own ioredis (major chosen by UNFAZED_IOREDIS, an npm
// alias of this app: `ioredis` is 6.x, `ioredis5` is 5.x), a key prefix unique to this run,
// and small assertion helpers that name what a user would see.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const ioredisModule = process.env.UNFAZED_IOREDIS ?? 'ioredis';

/** Connects the user's ioredis to REDIS_URL; returns it with its installed version. */
export async function connectRedis(options = { maxRetriesPerRequest: 1 }) {
  const mod = await import(ioredisModule);
  const Redis = mod.Redis ?? mod.default;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', options);
  const { version } = JSON.parse(
    readFileSync(require.resolve(`${ioredisModule}/package.json`), 'utf8'),
  );
  const expected = process.env.UNFAZED_IOREDIS_MAJOR;
  if (expected) assert.equal(version.split('.')[0], expected, `ioredis major of ${ioredisModule}`);
  return { redis, version };
}

export const prefix = `${process.env.UNFAZED_PREFIX ?? 'unfazed:consumer:'}${process.pid}:${Date.now()}:`;

/** Deletes what this run wrote, then quits. */
export async function cleanUp(redis) {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}

export const key = (name) => `"consumer-${name}-${process.pid}-${Date.now()}"`;

/** A body over every compression threshold, so compression really applies. */
export const padding = 'x'.repeat(4096);

export function expectStatus(res, status, what) {
  assert.equal(res.status, status, `${what}: status ${res.status}, body ${res.text.slice(0, 300)}`);
}

/** Runs `fn` and fails instead of hanging when it takes longer than `ms`. */
export async function within(ms, what, fn) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (hangs)`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** POSTs JSON with fetch (which decodes gzip/br/deflate, as a user's client would). */
export async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}
