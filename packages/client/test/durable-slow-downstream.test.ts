import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Cluster, Redis } from 'ioredis';
import { createClient, type Client } from '@unfazed/client';
import {
  createDurable,
  redisDurableStore,
  type DurableStore,
  type GiveUpFailure,
} from '@unfazed/client/durable';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import { startRedisCluster, startRedisServer, type RedisClusterHandle } from '@unfazed/testing';
import { until } from './durable-downstream.js';

/*
 * The slow-downstream test of issue 12: a downstream behind @unfazed/server's idempotency()
 * middleware whose handler is slower than the caller's attempt timeout, with a generous
 * operation deadline. Attempt 1 times out, the next ones meet `409 request-in-flight` while the
 * handler still runs; the operation must complete with the handler's stored response, never
 * compensate, and the handler must run once. Before the fix the queue went `dead` (and ran
 * onGiveUp) as soon as a Retry-After hint pointed past the deadline, while the effect happened.
 */

/** The handler takes at least this long, and always longer than the attempt timeout. */
const HANDLER_MS = 1_500;
const ATTEMPT_TIMEOUT_MS = 500;

interface SlowDownstream {
  readonly url: string;
  /** Times the handler ran (the effect), by Idempotency-Key. */
  readonly runs: string[];
  /** Lets the handler finish (once the queue has met its in-flight 409). */
  release(): void;
  close(): Promise<void>;
}

async function startSlowDownstream(inFlightRetryAfterMs?: number): Promise<SlowDownstream> {
  const runs: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const app = express();
  app.post(
    '/passes',
    idempotency({
      store: memoryIdempotencyStore(),
      ...(inFlightRetryAfterMs !== undefined ? { inFlightRetryAfterMs } : {}),
    }),
    express.json(),
    async (req, res) => {
      runs.push(String(req.idempotencyKey));
      // Slower than the attempt timeout, and still running when the queue asks again.
      await Promise.all([released, new Promise((r) => setTimeout(r, HANDLER_MS))]);
      res.status(201).json({ pass: 'B-12', booking: (req.body as { booking: string }).booking });
    },
  );
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    runs,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Scenario {
  readonly deadline: number;
  readonly attemptTimeout: number;
  /** The server's in-flight hint; past the deadline for the "old server" case. */
  readonly inFlightRetryAfterMs?: number;
}

async function runScenario(store: DurableStore, scenario: Scenario) {
  const downstream = await startSlowDownstream(scenario.inFlightRetryAfterMs);
  const client: Client = createClient({ baseUrl: downstream.url, breaker: false });
  const durable = createDurable({
    client,
    store,
    attemptTimeout: scenario.attemptTimeout,
    deadline: scenario.deadline,
    backoff: { initialMs: 100, maxMs: 200 },
  });
  const given: GiveUpFailure[] = [];
  const succeeded: number[] = [];
  const op = durable.operation<{ booking: string }>('send-pass', {
    request: (input) => ({ method: 'POST', path: '/passes', json: input }),
    onSuccess: (response) => {
      succeeded.push(response.status);
    },
    onGiveUp: (failure) => {
      given.push(failure);
    },
  });
  const statuses: (number | undefined)[] = [];
  durable.events.on('attempt', (e) => {
    statuses.push(e.status);
    // The handler finishes only once the queue has been told it is still in flight.
    if (e.status === 409) downstream.release();
  });
  const worker = durable.startWorker({ pollInterval: 20 });
  try {
    const outcome = await op.start({ booking: 'X1' }, { wait: 1_000 });
    await until(
      'the operation ended',
      async () => {
        const s = await durable.status(outcome.id);
        return s !== undefined && ['completed', 'failed', 'dead'].includes(s.state);
      },
      scenario.deadline + 10_000,
    );
    const details = await durable.deadLetters.get(outcome.id);
    return { outcome, details, downstream, given, succeeded, statuses };
  } finally {
    await worker.stop({ timeout: 1_000 });
    await client.close();
    await downstream.close();
  }
}

describe.each<[string, () => Promise<{ store: () => DurableStore; close(): Promise<void> }>]>([
  [
    'single Redis',
    async () => {
      const server = await startRedisServer();
      const redis: Redis = server.connect({ maxRetriesPerRequest: null });
      let n = 0;
      return {
        store: () => redisDurableStore(redis, { prefix: `slow:${++n}:`, partitions: 4 }),
        close: () => server.close(),
      };
    },
  ],
  [
    '3-master cluster',
    async () => {
      const cluster: RedisClusterHandle = await startRedisCluster({ masters: 3 });
      const redis: Cluster = cluster.connect({ redisOptions: { maxRetriesPerRequest: null } });
      let n = 0;
      return {
        store: () => redisDurableStore(redis, { prefix: `slow:${++n}:`, partitions: 6 }),
        close: () => cluster.close(),
      };
    },
  ],
])('a slow downstream behind idempotency() (%s)', (_label, start) => {
  let rig: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    rig = await start();
  }, 60_000);
  afterAll(async () => {
    await rig.close();
  });

  it('handler slower than the attempt timeout, deadline generous: completes with the stored response, no compensation, one run', async () => {
    const r = await runScenario(rig.store(), {
      deadline: 20_000,
      attemptTimeout: ATTEMPT_TIMEOUT_MS,
    });
    expect(r.details?.record.state).toBe('completed');
    expect(r.given).toEqual([]);
    expect(r.succeeded).toEqual([201]);
    expect(r.downstream.runs).toEqual([r.outcome.id]);
    expect(JSON.parse(r.details?.record.response?.body ?? '{}')).toEqual({
      pass: 'B-12',
      booking: 'X1',
    });
    // The scenario happened: a timeout (no status), then the in-flight 409, then the replay.
    expect(r.statuses[0]).toBeUndefined();
    expect(r.statuses).toContain(409);
    expect(r.statuses.at(-1)).toBe(201);
  }, 40_000);

  it('a Retry-After pointing past the deadline gets one last attempt before it instead of an early give-up', async () => {
    // A server whose in-flight hint is a minute (the lease left, as before its fix).
    const r = await runScenario(rig.store(), {
      deadline: 5_000,
      attemptTimeout: 1_000,
      inFlightRetryAfterMs: 60_000,
    });
    expect(r.given).toEqual([]);
    expect(r.details?.record.state).toBe('completed');
    expect(r.downstream.runs).toEqual([r.outcome.id]);
    const inFlight = r.details?.history.find((h) => h.kind === 'attempt' && h.status === 409);
    expect(inFlight).toMatchObject({ delayReason: 'last-attempt' });
    // Made an attempt timeout before the deadline, not a minute later.
    const last = r.details?.history.filter((h) => h.kind === 'attempt').at(-1);
    expect(last?.status).toBe(201);
    expect(last?.at).toBeLessThan(r.details?.record.deadline ?? 0);
  }, 40_000);
});
