/**
 * Saga crash test: 50 sagas of 3 steps (local, request, request) worked by child processes that
 * are SIGKILLed at seeded random moments and replaced. Every saga must end `completed` or
 * `compensated` (the one its input asks for), every step effect and every compensation must be
 * applied exactly once (the downstream's ledger counted by Idempotency-Key, the local ledger by
 * step key), compensations run newest first, and nothing that was not reached, or that failed
 * with a final answer, is compensated. Then the same on a 3-master Redis Cluster.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Cluster, Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import { createDurable, redisDurableStore, type Durable } from '@unfazed/client/durable';
import { redisIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import {
  createLedger,
  redisTestContext,
  runChild,
  startRedisCluster,
  type ChildRun,
  type Ledger,
  type RedisClusterHandle,
  type RedisTestContext,
} from '@unfazed/testing';
import { seeded, until } from './durable-downstream.js';
import { CRASH_SAGA, defineCrashSaga, ledgerKeys, type CrashInput } from './saga-crash-worker.js';

const SAGAS = 50;
const WORKERS = 2;
/** Kills per run, at most: then the last workers finish the job. */
const MAX_KILLS = 8;
const SEED = Number(process.env['UNFAZED_SEED'] ?? 20261207);
const WORKER_MODULE = join(__dirname, 'saga-crash-worker.ts');
/** Every saga terminal within this long after the last start. */
const SETTLE_MS = 30_000;

interface Downstream {
  readonly url: string;
  /** Effects applied, by Idempotency-Key: `{ route, seq, body }`. */
  readonly ledger: Ledger;
  /** Every HTTP request received (replays and in-flight 409s included). */
  readonly received: number;
  /** The Idempotency-Keys of every request received. */
  readonly keysSeen: ReadonlySet<string>;
  /** Handler runs (requests the idempotency middleware let through). */
  readonly handlerRuns: number;
  /** Responses whose connection was gone before they were sent (a kill mid-request). */
  readonly cut: number;
  close(): Promise<void>;
}

/**
 * The downstream: a loopback Express app behind the @unfazed/server idempotency middleware on
 * Redis. Often slow (so kills land mid-request); a body with `fail: true` is answered with a
 * final 402. Every applied effect takes a number from the shared sequence (which orders it
 * against the local effects) and goes into the ledger under its Idempotency-Key.
 */
async function startDownstream(
  redis: Redis | Cluster,
  idemPrefix: string,
  seqKey: string,
  random: () => number,
): Promise<Downstream> {
  const ledger = createLedger();
  const state = { received: 0, handlerRuns: 0, cut: 0 };
  const keysSeen = new Set<string>();
  const app = express();
  app.use(express.json());
  app.use((req, res, next) => {
    state.received++;
    keysSeen.add(String(req.get('idempotency-key') ?? '').replace(/^"|"$/g, ''));
    res.on('close', () => {
      if (!res.writableFinished) state.cut++;
    });
    next();
  });
  app.use(
    idempotency({
      store: redisIdempotencyStore(redis, { prefix: idemPrefix }),
      inFlightRetryAfterMs: 100,
    }),
  );
  app.post('/:route', async (req, res) => {
    state.handlerRuns++;
    const route = `/${req.params['route'] as string}`;
    const body = req.body as { fail?: boolean };
    const slow = random() < 0.4;
    const delay = slow ? 150 + Math.floor(random() * 350) : Math.floor(random() * 25);
    await new Promise((r) => setTimeout(r, delay));
    if (body.fail === true) {
      res.status(402).json({ error: 'payment required' });
      return;
    }
    const seq = await redis.incr(seqKey);
    ledger.record(req.get('idempotency-key'), { route, seq, body });
    res.status(201).json({ route, seq });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ledger,
    get received() {
      return state.received;
    },
    keysSeen,
    get handlerRuns() {
      return state.handlerRuns;
    },
    get cut() {
      return state.cut;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

interface CrashFigures {
  label: string;
  completed: number;
  compensated: number;
  kills: number;
  cutRequests: number;
  takeovers: number;
  downstreamEffects: number;
  localEffects: number;
  duplicates: number;
  localRuns: number;
  httpRequests: number;
  handlerRuns: number;
  seconds: number;
}

interface Effect {
  seq: number;
  outcome?: string;
}

async function crashRun(
  label: string,
  redis: Redis | Cluster,
  childEnv: Record<string, string>,
  prefix: string,
): Promise<CrashFigures> {
  const random = seeded(SEED);
  const ledgerPrefix = `${prefix}ledger:`;
  const lk = ledgerKeys(ledgerPrefix);
  const downstream = await startDownstream(redis, `${prefix}idem:`, lk.seq, seeded(SEED + 1));
  const client = createClient({ baseUrl: downstream.url, breaker: false });
  const durable: Durable = createDurable({
    client,
    store: redisDurableStore(redis, { prefix: `${prefix}durable:`, partitions: 6 }),
  });
  // The same definition the workers run; this process only starts and inspects.
  const saga = defineCrashSaga(durable, redis, ledgerPrefix);
  const started = Date.now();
  const children = new Set<ChildRun>();
  let kills = 0;
  let stopping = false;
  const env = {
    ...childEnv,
    SAGA_WORKER: '1',
    DOWNSTREAM_URL: downstream.url,
    PREFIX: `${prefix}durable:`,
    LEDGER: ledgerPrefix,
    LEASE_MS: '600',
    CONCURRENCY: '3',
    POLL_MS: '20',
  };
  // Each slot keeps one worker alive: killed at a seeded random moment, then replaced, until
  // MAX_KILLS kills in all; the last ones run until the test stops them.
  const slot = async (i: number): Promise<void> => {
    let generation = 0;
    while (!stopping) {
      generation++;
      const killAfter = 100 + Math.floor(random() * 700);
      const child = await runChild(WORKER_MODULE, { env, timeoutMs: 120_000 });
      children.add(child);
      const ready = await child.waitForOutput('worker ready', { timeoutMs: 60_000 }).then(
        () => true,
        () => false,
      );
      if (ready && !stopping && kills < MAX_KILLS) {
        await new Promise((r) => setTimeout(r, killAfter));
        if (!stopping && kills < MAX_KILLS) {
          kills++;
          await child.kill('SIGKILL');
        }
      }
      const exit = await child.exited;
      children.delete(child);
      if (exit.signal === null && exit.code !== 0)
        throw new Error(`worker ${i}.${generation} failed: ${exit.summary}\n${exit.stderr}`);
    }
  };
  const ids = new Map<string, CrashInput>();
  const slotErrors: unknown[] = [];
  try {
    const slots = Array.from({ length: WORKERS }, (_, i) =>
      slot(i).catch((error: unknown) => void slotErrors.push(error)),
    );
    // Started in five waves while the workers are killed and replaced.
    for (let wave = 0; wave < 5; wave++) {
      for (let n = wave * 10; n < wave * 10 + 10; n++) {
        const hold = Math.floor(random() * 80);
        const fail = n % 4 === 1 ? 'ship' : n % 4 === 3 ? 'charge' : undefined;
        const input: CrashInput = fail ? { n, fail, hold } : { n, hold };
        const outcome = await saga.start(input, { key: `order-${n}`, wait: 0 });
        ids.set(outcome.id, input);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    const terminal = async (): Promise<number> => {
      const c = (await durable.counts())[CRASH_SAGA];
      return (c?.completed ?? 0) + (c?.compensated ?? 0);
    };
    await until(
      `${label}: all ${SAGAS} sagas completed or compensated`,
      async () => {
        if (slotErrors.length > 0) throw slotErrors[0];
        return (await terminal()) === SAGAS;
      },
      SETTLE_MS,
    );
    stopping = true;
    await Promise.all([...children].map((c) => c.kill()));
    await Promise.all(slots);
    expect(slotErrors).toEqual([]);

    expect((await durable.counts())[CRASH_SAGA]).toMatchObject({
      pending: 0,
      running: 0,
      failed: 0,
      dead: 0,
    });
    expect(await durable.gauges()).toEqual({ due: {}, inFlight: {} });

    const localEffects = new Map(
      Object.entries(await redis.hgetall(lk.effects)).map(
        ([k, v]) => [k, JSON.parse(v) as Effect] as const,
      ),
    );
    const localRuns = Object.values(await redis.hgetall(lk.runs)).reduce(
      (sum, v) => sum + Number(v),
      0,
    );
    const remote = (key: string): Effect | undefined => {
      const entries = downstream.ledger.effects(key);
      const effect = entries[0]?.effect as { seq: number; body: { outcome?: string } } | undefined;
      if (!effect) return undefined;
      const { outcome } = effect.body;
      return outcome === undefined ? { seq: effect.seq } : { seq: effect.seq, outcome };
    };

    let completed = 0;
    let compensated = 0;
    let takeovers = 0;
    const expectedDownstream = new Set<string>();
    const expectedLocal = new Set<string>();
    for (const [id, input] of ids) {
      const status = await durable.status(id);
      const details = await durable.deadLetters.get(id);
      takeovers += details?.history.filter((h) => h.kind === 'lease-expired').length ?? 0;
      const steps = status?.steps?.map((s) => `${s.name} ${s.state}`);
      const k = (step: string): string => `${id}:${step}`;
      const c = (step: string): string => `${id}:${step}:compensate`;
      const reserve = localEffects.get(k('reserve'));
      const release = localEffects.get(c('reserve'));
      const charge = remote(k('charge'));
      const refund = remote(c('charge'));
      const ship = remote(k('ship'));
      // Step 1 always ran, its effect once (at least once, idempotent by its step key).
      expect(reserve).toBeDefined();
      expectedLocal.add(k('reserve'));
      // Never: ship either completes or fails with a final answer.
      expect(downstream.keysSeen.has(c('ship'))).toBe(false);
      const saga = `saga ${input.n} (${input.fail ? `fails at ${input.fail}` : 'completes'})`;
      if (input.fail === undefined) {
        completed++;
        expect([saga, status?.state]).toEqual([saga, 'completed']);
        expect(steps).toEqual(['reserve completed', 'charge completed', 'ship completed']);
        expect(downstream.ledger.count(k('charge'))).toBe(1);
        expect(downstream.ledger.count(k('ship'))).toBe(1);
        expect(reserve?.seq).toBeLessThan(charge?.seq ?? 0);
        expect(charge?.seq).toBeLessThan(ship?.seq ?? 0);
        // Nothing undone.
        expect(downstream.keysSeen.has(c('charge'))).toBe(false);
        expect(release).toBeUndefined();
        expectedDownstream.add(k('charge')).add(k('ship'));
        continue;
      }
      compensated++;
      expect([saga, status?.state]).toEqual([saga, 'compensated']);
      expect(status?.lastError).toMatchObject({ code: 'status 402', outcome: 'failed' });
      // The step that failed had no effect and is not compensated; every completed step is
      // compensated once, newest first, knowing it completed.
      expectedLocal.add(c('reserve'));
      expect(release?.outcome).toBe('completed');
      if (input.fail === 'ship') {
        expect(steps).toEqual(['reserve compensated', 'charge compensated', 'ship failed']);
        expect(downstream.ledger.count(k('charge'))).toBe(1);
        expect(downstream.ledger.count(k('ship'))).toBe(0);
        expect(downstream.ledger.count(c('charge'))).toBe(1);
        expect(refund?.outcome).toBe('completed');
        expect(reserve?.seq).toBeLessThan(charge?.seq ?? 0);
        expect(charge?.seq).toBeLessThan(refund?.seq ?? 0);
        expect(refund?.seq).toBeLessThan(release?.seq ?? 0);
        expectedDownstream.add(k('charge')).add(c('charge'));
      } else {
        // The charge failed: not refunded; ship was never reached: never sent, never recalled.
        expect(steps).toEqual(['reserve compensated', 'charge failed', 'ship waiting']);
        expect(downstream.ledger.count(k('charge'))).toBe(0);
        expect(downstream.keysSeen.has(c('charge'))).toBe(false);
        expect(downstream.keysSeen.has(k('ship'))).toBe(false);
        expect(reserve?.seq).toBeLessThan(release?.seq ?? 0);
      }
    }
    // No effect under any other key (a recall, a stray step key).
    expect(downstream.ledger.keys().sort()).toEqual([...expectedDownstream].sort());
    expect([...localEffects.keys()].sort()).toEqual([...expectedLocal].sort());
    const duplicates = downstream.ledger.effects().length - downstream.ledger.keys().length;
    expect(duplicates).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(3);

    const figures: CrashFigures = {
      label,
      completed,
      compensated,
      kills,
      cutRequests: downstream.cut,
      takeovers,
      downstreamEffects: downstream.ledger.effects().length,
      localEffects: localEffects.size,
      duplicates,
      localRuns,
      httpRequests: downstream.received,
      handlerRuns: downstream.handlerRuns,
      seconds: (Date.now() - started) / 1000,
    };
    return figures;
  } finally {
    stopping = true;
    await Promise.all([...children].map((c) => c.kill()));
    await durable.store.close().catch(() => undefined);
    await client.close();
    await downstream.close();
  }
}

describe('saga crash test: SIGKILLed workers, every saga terminal, every effect and compensation once', () => {
  let ctx: RedisTestContext;
  let cluster: RedisClusterHandle;
  const table: CrashFigures[] = [];
  beforeAll(async () => {
    ctx = await redisTestContext('saga-crash');
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(async () => {
    if (table.length > 0) {
      const cols = Object.keys(table[0] as CrashFigures) as (keyof CrashFigures)[];
      const rows = [cols, ...table.map((f) => cols.map((c) => String(f[c])))];
      const widths = cols.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
      const line = (r: readonly string[]): string =>
        r.map((cell, i) => cell.padStart(widths[i] as number)).join('  ');
      console.log(
        `saga crash test (seed ${SEED}, ${SAGAS} sagas, ${WORKERS} workers):\n${rows.map(line).join('\n')}`,
      );
    }
    await ctx?.close();
    await cluster?.close();
  });

  it('single Redis: 50 sagas, workers killed at seeded random points and replaced', async () => {
    table.push(
      await crashRun(
        'redis',
        ctx.connect({ maxRetriesPerRequest: null }),
        { REDIS_URL: ctx.url },
        `${ctx.prefix}saga-crash:`,
      ),
    );
  }, 60_000);

  it('3-master Redis Cluster: the same', async () => {
    const nodes = cluster.nodes.map((a) => `${a.host}:${a.port}`).join(',');
    const prefix = `saga-crash:${randomBytes(4).toString('hex')}:`;
    const redis = cluster.connect({ redisOptions: { maxRetriesPerRequest: null } });
    table.push(await crashRun('cluster', redis, { CLUSTER_NODES: nodes }, prefix));
  }, 60_000);
});
