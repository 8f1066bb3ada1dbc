import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startRedisServer, type RedisServerHandle } from '@unfazed/testing';
import { redisIdempotencyStore, type IdempotencyEvent } from '@unfazed/server';
import { startApp, type Framework, type TestApp } from './support/apps.js';
import { post, sleep } from './support/http.js';

describe.each<Framework>(['express', 'fastify'])('redis outage — %s', (framework) => {
  let redis: RedisServerHandle;
  let app: TestApp;
  let openApp: TestApp;
  const events: IdempotencyEvent[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
    const client = redis.connect({ maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    const store = redisIdempotencyStore(client, { prefix: 'outage:' });
    app = await startApp(framework, { store, storeTimeoutMs: 300, leaseMs: 2_000 });
    openApp = await startApp(framework, {
      store,
      storeTimeoutMs: 300,
      failOpen: true,
      on: { failOpen: (e) => events.push(e) },
    });
  });
  afterAll(async () => {
    await app.close();
    await openApp.close();
    await redis.close();
  });

  it('answers 503 + Retry-After while Redis is down, without running the handler, and recovers', async () => {
    const done = randomUUID();
    expect((await post(app.url, '/charges', { key: done })).status).toBe(201);
    await redis.stop();
    const started = Date.now();
    const answers = await Promise.all([
      post(app.url, '/charges', { key: done }),
      post(app.url, '/charges', { key: randomUUID() }),
    ]);
    expect(Date.now() - started).toBeLessThan(3_000);
    for (const a of answers) {
      expect(a.status).toBe(503);
      expect(a.headers.get('retry-after')).toBe('1');
      expect(a.json()).toMatchObject({ code: 'store-unavailable' });
    }
    expect(app.calls.get('/charges')).toBe(1);
    await redis.start();
    const fresh = randomUUID();
    let answer = await post(app.url, '/charges', { key: fresh });
    // Until the client has reconnected (bounded by the test's timeout, not a count of polls).
    while (answer.status === 503) {
      await sleep(100);
      answer = await post(app.url, '/charges', { key: fresh });
    }
    expect(answer.status).toBe(201);
    expect(app.calls.get('/charges')).toBe(2);
    expect(
      (await post(app.url, '/charges', { key: fresh })).headers.get('idempotent-replayed'),
    ).toBe('true');
  });

  it('with failOpen runs the handler while Redis is down and reports every pass-through', async () => {
    await redis.stop();
    try {
      const key = randomUUID();
      expect((await post(openApp.url, '/charges', { key })).status).toBe(201);
      expect((await post(openApp.url, '/charges', { key })).status).toBe(201);
      expect(openApp.calls.get('/charges')).toBe(2);
      expect(events.filter((e) => e.type === 'failOpen')).toHaveLength(2);
    } finally {
      await redis.start();
    }
  });
});
