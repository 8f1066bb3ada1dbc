import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redisTestContext, runChild, type RedisTestContext } from '@unfazed/testing';
import { redisIdempotencyStore, type IdempotencyEvent } from '@unfazed/server';
import { startApp, type Framework } from './support/apps.js';
import { post, sleep } from './support/http.js';

const LEASE_MS = 800;

describe.each<Framework>(['express', 'fastify'])(
  'a server killed mid-handler — %s',
  (framework) => {
    let ctx: RedisTestContext;
    beforeAll(async () => {
      ctx = await redisTestContext(`server-crash-${framework}`);
    });
    afterAll(async () => {
      await ctx.close();
    });

    it('leaves a key that answers 409 until the lease expires, then runs once on another server', async () => {
      // The survivor is up before the crash: the 409 below must come within the lease of the
      // claim, and starting an app on a loaded machine may take a good part of it.
      const claimed: IdempotencyEvent[] = [];
      const survivor = await startApp(framework, {
        store: redisIdempotencyStore(ctx.connect(), { prefix: ctx.prefix }),
        leaseMs: LEASE_MS,
        on: { claimed: (e) => claimed.push(e) },
      });
      try {
        const child = await runChild(join(__dirname, 'fixtures', 'crash-server.ts'), {
          env: {
            FRAMEWORK: framework,
            REDIS_URL: ctx.url,
            PREFIX: ctx.prefix,
            LEASE_MS: String(LEASE_MS),
          },
          kill: { atCheckpoint: 'in-handler' },
          timeoutMs: 20_000,
        });
        const port = /listening (\d+)/.exec(await child.waitForOutput(/listening \d+/))?.[1];
        const key = randomUUID();
        const lost = await post(`http://127.0.0.1:${port}`, '/hold', { key }).catch(
          (e: unknown) => e,
        );
        expect(String(lost)).toContain('fetch failed'); // the connection died with the process
        const exit = await child.exited;
        expect(exit.signal).toBe('SIGKILL');
        const killedAt = Date.now();
        const during = await post(survivor.url, '/hold', { key });
        expect(during.status).toBe(409);
        expect(Number(during.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        await sleep(Math.max(0, LEASE_MS + 100 - (Date.now() - killedAt)));
        const after = post(survivor.url, '/hold', { key });
        await survivor.held(1);
        survivor.releaseHeld();
        expect((await after).status).toBe(201);
        expect(claimed).toEqual([expect.objectContaining({ recovered: true })]);
        const replay = await post(survivor.url, '/hold', { key });
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
        expect(survivor.calls.get('/hold')).toBe(1);
      } finally {
        await survivor.close();
      }
    });
  },
);
