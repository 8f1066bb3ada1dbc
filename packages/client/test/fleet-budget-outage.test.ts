/**
 * A fleet-wide retry budget whose Redis is gone (or too slow to answer in its timeout) falls back
 * to a local bucket that starts from the share the instance held, not a full bucket of its own:
 * otherwise every instance would get `maxTokens` more retries and the fleet's bound would be
 * exceeded once per instance. No Redis error reaches a caller; time refills the local bucket.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createClient,
  isRetryBudgetExhaustedError,
  sharedRetryBudget,
  type Client,
} from '@unfazed/client';
import { startRedisServer, type RedisServerHandle } from '@unfazed/testing';
import { send, startServer, type TestServer } from './support/server.js';

describe('fleet-wide retry budget, Redis unreachable', () => {
  let redisServer: RedisServerHandle;
  let origin: TestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    redisServer = await startRedisServer();
    origin = await startServer((_req, res) => send(res, 503, { error: 'down' }));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await origin?.close();
    await redisServer?.close();
  });

  it('two instances with Redis stopped: no more retries than the fleet budget, and no Redis error', async () => {
    const make = (): Client => {
      const redis = redisServer.connect({ maxRetriesPerRequest: 0, enableOfflineQueue: false });
      redis.on('error', () => undefined);
      const c = createClient({
        baseUrl: origin.url,
        breaker: false,
        retry: {
          maxRetries: 3,
          backoff: { initialMs: 1, maxMs: 2 },
          budget: {
            maxTokens: 10,
            refillPerSecond: 0,
            shared: sharedRetryBudget(redis, { prefix: 'outage:', syncMs: 20, share: 2 }),
          },
        },
      });
      clients.push(c);
      return c;
    };
    const [a, b] = [make(), make()];
    await redisServer.stop();
    const errors = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).request({ method: 'GET', path: '/x' }).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    // Each instance held no share when Redis went away: only the 20 first attempts go out.
    // With a full local bucket each it would have been 20 + 2 × 10.
    expect(origin.requests.length).toBeLessThanOrEqual(20 + 2 * 2);
    expect(errors.every((e) => e !== undefined)).toBe(true);
    expect(errors.filter(isRetryBudgetExhaustedError).length).toBeGreaterThanOrEqual(16);
    for (const e of errors)
      expect(String(e)).not.toMatch(/redis|ECONNREFUSED|Connection is closed/i);
  });
});
