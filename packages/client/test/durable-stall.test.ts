import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Cluster, Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import {
  createDurable,
  redisDurableStore,
  type Durable,
  type DurableOperation,
  type DurableWorker,
} from '@unfazed/client/durable';
import {
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '@unfazed/testing';
import { until } from './durable-downstream.js';

/*
 * The stall test of issue 12: Redis stops answering (SIGSTOP) for longer than the lease while
 * workers hold operations and their claims, renewals and settles queue up (the connections use
 * `maxRetriesPerRequest: null`, as the README advises), then resumes. Before the fix a claim
 * that executed late granted a lease that had already expired by then (its times were computed
 * when it was queued), and the next claim — of the same worker, under the same owner token —
 * took the operation over while its first attempt was still in flight.
 */

const OPERATIONS = 16;
/** Operations started while Redis is stalled, each with a synchronous first attempt. */
const LATE_STARTS = 8;
const LEASE_MS = 1_500;
const STALL_MS = 3_000;
const HOLD_MS = 100;
/** Far below the minute-long Retry-After waits of the bug, far above a loaded machine's noise. */
const BOUND_MS = 20_000;

/** A loopback downstream that holds each request and records overlapping requests per key. */
interface Downstream {
  readonly url: string;
  /** Requests received per Idempotency-Key. */
  readonly attempts: Map<string, number>;
  /** Keys that had two requests in flight at once, with the in-flight count seen. */
  readonly overlaps: { key: string; inFlight: number }[];
  /** Requests held at this moment. */
  inFlight(): number;
  close(): Promise<void>;
}

async function startDownstream(): Promise<Downstream> {
  const attempts = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const overlaps: { key: string; inFlight: number }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let held = 0;
  const server: Server = createServer((req, res) => {
    const raw = req.headers['idempotency-key'];
    const key = typeof raw === 'string' ? raw.replace(/^"|"$/g, '') : '-';
    attempts.set(key, (attempts.get(key) ?? 0) + 1);
    const now = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, now);
    if (now > 1) overlaps.push({ key, inFlight: now });
    held++;
    req.resume();
    // The request counts as in flight until the handler is done, whether or not the caller
    // is still listening: that is when a second run would apply the effect concurrently.
    const timer = setTimeout(() => {
      timers.delete(timer);
      held--;
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      if (!res.destroyed) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    }, HOLD_MS);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    attempts,
    overlaps,
    inFlight: () => held,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface StallFigures {
  /** Attempts per operation (requests the downstream received with its key). */
  attempts: number[];
  /** The same for the operations started during the stall. */
  lateAttempts: number[];
  /** ms from the starts until every operation completed. */
  finishedMs: number;
  /** Per operation, ms from the starts to its completion. */
  slowestMs: number;
  overlaps: { key: string; inFlight: number }[];
  leaseLost: number;
}

/**
 * Runs OPERATIONS operations through two workers (each with its own durable instance and its own
 * Redis connection) and stalls Redis for STALL_MS once the first attempts are in flight.
 */
async function stallRun(
  connect: () => Redis | Cluster,
  prefix: string,
  stall: { pause(): Promise<void>; resume(): Promise<void> },
  partitions: number,
): Promise<StallFigures> {
  const downstream = await startDownstream();
  const client = createClient({ baseUrl: downstream.url, breaker: false });
  const connections: (Redis | Cluster)[] = [];
  const durables: Durable[] = [];
  const workers: DurableWorker[] = [];
  const completedAt = new Map<string, number>();
  let leaseLost = 0;
  try {
    for (let i = 0; i < 2; i++) {
      const redis = connect();
      connections.push(redis);
      const durable = createDurable({
        client,
        store: redisDurableStore(redis, { prefix, partitions }),
        leaseMs: LEASE_MS,
        attemptTimeout: 5_000,
        storeTimeout: 10_000,
      });
      durable.events.on('succeeded', (e) => {
        if (!completedAt.has(e.id)) completedAt.set(e.id, Date.now());
      });
      durable.events.on('lease-lost', () => leaseLost++);
      durables.push(durable);
    }
    const [a] = durables as [Durable, Durable];
    const op = a.operation<{ i: number }>('stall-run', {
      request: (input) => ({ method: 'POST', path: '/s', json: input }),
    });
    durables[1]?.operation('stall-run', {
      request: (input) => ({ method: 'POST', path: '/s', json: input }),
    });
    const t0 = Date.now();
    const ids: string[] = [];
    // Persisted pending (wait: 0): only the workers run them.
    for (let i = 0; i < OPERATIONS; i++) ids.push((await op.start({ i }, { wait: 0 })).id);
    for (const durable of durables)
      workers.push(durable.startWorker({ concurrency: 4, pollInterval: 50 }));
    // The stall begins while the workers hold operations with attempts in flight.
    await until('attempts in flight', () => downstream.inFlight() > 0, 10_000);
    await stall.pause();
    // Starts during the stall: their write-ahead (which leases the operation to the start's
    // own first attempt) reaches Redis only when it resumes, while the workers poll.
    let late: Promise<string[]>;
    try {
      late = Promise.all(
        Array.from({ length: LATE_STARTS }, (_, i) =>
          op.start({ i: OPERATIONS + i }, { wait: 2_000 }).then((o) => o.id),
        ),
      );
      await new Promise((r) => setTimeout(r, STALL_MS));
    } finally {
      await stall.resume();
    }
    const lateIds = await late;
    ids.push(...lateIds);
    await until(
      'every operation completed',
      async () => {
        for (const id of ids) if ((await a.status(id))?.state !== 'completed') return false;
        return true;
      },
      BOUND_MS + STALL_MS,
    );
    const finishedMs = Date.now() - t0;
    return {
      attempts: ids.map((id) => downstream.attempts.get(id) ?? 0),
      lateAttempts: lateIds.map((id) => downstream.attempts.get(id) ?? 0),
      finishedMs,
      slowestMs: Math.max(...ids.map((id) => (completedAt.get(id) ?? Infinity) - t0)),
      overlaps: downstream.overlaps,
      leaseLost,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop({ timeout: 2_000 })));
    for (const redis of connections) redis.disconnect();
    await client.close();
    await downstream.close();
  }
}

function expectNoDoubleRuns(figures: StallFigures): void {
  // Reported, so the figures of a run can be quoted.
  console.log(`stall figures: ${JSON.stringify(figures)}`);
  // No operation was attempted concurrently with itself.
  expect(figures.overlaps).toEqual([]);
  // Nothing lost: every operation was attempted and completed.
  expect(figures.attempts.every((n) => n >= 1)).toBe(true);
  // A start whose write-ahead took its whole `wait` sends nothing itself (an attempt with no
  // time left would only time out): the workers make the one attempt.
  expect(figures.lateAttempts).toEqual(figures.lateAttempts.map(() => 1));
  // No minute-long wait.
  expect(figures.slowestMs).toBeLessThan(BOUND_MS);
}

describe('Redis stalled longer than the lease (SIGSTOP), then resumed', () => {
  let own: RedisServerHandle;
  beforeAll(async () => {
    own = await startRedisServer();
  });
  afterAll(async () => {
    const pid = own.pid;
    if (pid !== undefined) process.kill(pid, 'SIGCONT');
    await own.close();
  });

  it('single Redis: no operation is attempted twice at once, nothing is lost, no minute-long wait', async () => {
    const pid = own.pid;
    if (pid === undefined) throw new Error('the spawned Redis has no pid');
    const figures = await stallRun(
      () => own.connect({ maxRetriesPerRequest: null }),
      'stall:single:',
      {
        pause: async () => void process.kill(pid, 'SIGSTOP'),
        resume: async () => void process.kill(pid, 'SIGCONT'),
      },
      4,
    );
    expectNoDoubleRuns(figures);
  }, 60_000);

  it('an attempt whose lease renewals stop coming back is aborted before the lease runs out', async () => {
    const pid = own.pid;
    if (pid === undefined) throw new Error('the spawned Redis has no pid');
    // The first request is held far past the stall; a caller that goes away ends it (as a
    // downstream that stops work for a gone caller would). Later requests answer at once.
    let n = 0;
    let inFlight = 0;
    const overlaps: number[] = [];
    const closedAt: number[] = [];
    const server = createServer((req, res) => {
      n++;
      inFlight++;
      if (inFlight > 1) overlaps.push(inFlight);
      req.resume();
      const timer = setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        },
        n === 1 ? 6_000 : 50,
      );
      res.on('close', () => {
        clearTimeout(timer);
        inFlight--;
        closedAt.push(Date.now());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = createClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      breaker: false,
    });
    const connections: Redis[] = [];
    const workers: DurableWorker[] = [];
    const lapsed: string[] = [];
    interface Run {
      durable: Durable;
      op: DurableOperation<unknown>;
    }
    try {
      const [first, second] = [0, 1].map(() => {
        const redis = own.connect({ maxRetriesPerRequest: null });
        connections.push(redis);
        const durable = createDurable({
          client,
          store: redisDurableStore(redis, { prefix: 'stall:lapse:', partitions: 2 }),
          leaseMs: LEASE_MS,
          attemptTimeout: 10_000,
        });
        durable.events.on('attempt', (e) => {
          if (e.error === 'lease-lapsed') lapsed.push(e.id);
        });
        const op = durable.operation('slow', {
          request: () => ({ method: 'POST', path: '/slow' }),
        });
        return { durable, op };
      }) as [Run, Run];
      const started = await first.op.start({}, { wait: 0 });
      workers.push(first.durable.startWorker({ concurrency: 2, pollInterval: 50 }));
      await until('the first attempt in flight', () => n === 1);
      workers.push(second.durable.startWorker({ concurrency: 2, pollInterval: 50 }));
      process.kill(pid, 'SIGSTOP');
      let closedDuringStall: number;
      try {
        await new Promise((r) => setTimeout(r, STALL_MS));
      } finally {
        closedDuringStall = closedAt.length;
        process.kill(pid, 'SIGCONT');
      }
      await until(
        'completed',
        async () => (await first.durable.status(started.id))?.state === 'completed',
        BOUND_MS,
      );
      // The first attempt was given up before Redis came back (its lease ran out meanwhile),
      // so the next one, by whichever worker, never overlapped it.
      expect(closedDuringStall).toBe(1);
      expect(overlaps).toEqual([]);
      expect(lapsed).toEqual([started.id]);
      expect(n).toBe(2);
    } finally {
      await Promise.all(workers.map((w) => w.stop({ timeout: 2_000 })));
      for (const redis of connections) redis.disconnect();
      await client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }, 60_000);
});

describe('a 3-master cluster with one master stalled longer than the lease, then resumed', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(async () => {
    await cluster.close();
  });

  it('cluster: no operation is attempted twice at once, nothing is lost, no minute-long wait', async () => {
    const admin = cluster.connect();
    const master = (): Redis => {
      const [first] = admin.nodes('master');
      if (!first) throw new Error('no master');
      return first;
    };
    try {
      const figures = await stallRun(
        () => cluster.connect({ redisOptions: { maxRetriesPerRequest: null } }),
        'stall:cluster:',
        {
          // One master holds a third of the partitions: its clients' commands queue while the
          // other masters answer (CLIENT PAUSE: the cluster bus keeps running, no failover).
          // The pause ends by itself (a paused node does not run CLIENT UNPAUSE either).
          pause: async () => {
            await master().call('CLIENT', 'PAUSE', String(STALL_MS), 'ALL');
          },
          resume: async () => undefined,
        },
        6,
      );
      expectNoDoubleRuns(figures);
    } finally {
      admin.disconnect();
    }
  }, 60_000);
});
