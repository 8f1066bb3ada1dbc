/**
 * Redis stalls (SIGSTOP: connections stay open, commands queue and run late, nothing is lost):
 * a claim that times out and lands later is undone, a completion write that times out is
 * tried again and the late copies do no harm, and no handler ever runs twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startRedisServer, type RedisServerHandle } from '@unfazed/testing';
import { redisIdempotencyStore, type IdempotencyEvent } from '@unfazed/server';
import { startApp, type Framework, type TestApp } from './support/apps.js';
import { sleep, type Answer } from './support/http.js';

describe.each<Framework>(['express-parsed', 'fastify-inject'])(
  'a stalled Redis — %s',
  (framework) => {
    let redis: RedisServerHandle;
    let app: TestApp;
    const events: IdempotencyEvent[] = [];
    const waiters: { match: (e: IdempotencyEvent) => boolean; resolve: () => void }[] = [];
    const push = (e: IdempotencyEvent): void => {
      events.push(e);
      for (const w of waiters.splice(0)) {
        if (w.match(e)) w.resolve();
        else waiters.push(w);
      }
    };
    /** Resolves once an event that matches has come (bounded by the test's timeout). */
    const seen = (match: (e: IdempotencyEvent) => boolean): Promise<void> =>
      events.some(match)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ match, resolve }));
    const stall = (): void => void process.kill(redis.pid as number, 'SIGSTOP');
    const resume = (): void => void process.kill(redis.pid as number, 'SIGCONT');
    beforeAll(async () => {
      redis = await startRedisServer();
      app = await startApp(framework, {
        store: redisIdempotencyStore(redis.connect({ maxRetriesPerRequest: null }), {
          prefix: 'stall:',
        }),
        storeTimeoutMs: 300,
        leaseMs: 10_000,
        on: { storeError: push, completed: push, leaseExpired: push },
      });
    });
    afterEach(() => {
      if (redis.running) resume();
    });
    afterAll(async () => {
      await app.close();
      await redis.close();
    });

    /**
     * Posts until the answer is not a 409 in flight (a late claim is undone once Redis answers
     * it; bounded by the test's timeout, not by a count of polls a loaded machine may use up).
     */
    async function settled(key: string, path: string): Promise<Answer> {
      for (;;) {
        const answer = await app.post(path, { key, body: '{"amount":7}' });
        if (answer.status !== 409) return answer;
        await sleep(50);
      }
    }

    it('a claim that timed out during the stall and ran late is undone: the retry runs once', async () => {
      const key = randomUUID();
      stall();
      const during = await app.post('/charges', { key, body: '{"amount":7}' });
      expect(during.status).toBe(503);
      expect(app.calls.get('/charges') ?? 0).toBe(0);
      resume();
      const first = await settled(key, '/charges');
      expect(first.status).toBe(201);
      const again = await settled(key, '/charges');
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.equals(first.body)).toBe(true);
      expect(app.calls.get('/charges')).toBe(1);
    });

    it('a completion write stuck behind the stall is tried again; late copies change nothing', async () => {
      const key = randomUUID();
      const before = app.calls.get('/hold') ?? 0;
      const first = app.post('/hold', { key, body: '{"amount":7}' });
      await app.held(1);
      stall();
      app.releaseHeld();
      // The caller is answered at once; the completion write waits behind the stall.
      const answer = await first;
      expect(answer.status).toBe(201);
      await seen((e) => e.key === key && e.type === 'storeError');
      expect(events.some((e) => e.key === key && e.type === 'storeError')).toBe(true);
      resume();
      await seen((e) => e.key === key && (e.type === 'completed' || e.type === 'leaseExpired'));
      expect(events.some((e) => e.key === key && e.type === 'completed')).toBe(true);
      const again = await settled(key, '/hold');
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.equals(answer.body)).toBe(true);
      expect(app.calls.get('/hold')).toBe(before + 1);
      // No event said the lease was lost: the late copies of the write answered "stored".
      expect(events.filter((e) => e.key === key && e.type === 'leaseExpired')).toEqual([]);
    });
  },
);
