import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Cluster, Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import { createDurable, redisDurableStore, type Durable } from '@unfazed/client/durable';
import { memoryIdempotencyStore } from '@unfazed/server';
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

const OPERATIONS = 50;
const WORKERS = 2;
const SEED = Number(process.env['UNFAZED_SEED'] ?? 20261126);
const WORKER_MODULE = join(__dirname, 'durable-crash-worker.ts');

interface Downstream {
  url: string;
  ledger: Ledger;
  /** Handler runs (effects attempted past the middleware). */
  requests: number;
  /** Every HTTP request received, replays and 409s included. */
  attempts: number;
  close(): Promise<void>;
}

/** The downstream: an Express route behind the @unfazed/server idempotency middleware. */
async function startDownstream(random: () => number): Promise<Downstream> {
  const ledger = createLedger();
  const app = express();
  const state = { requests: 0, attempts: 0 };
  app.use((_req, _res, next) => {
    state.attempts++;
    next();
  });
  app.post(
    '/effects',
    idempotency({ store: memoryIdempotencyStore(), leaseMs: 5_000 }),
    express.json(),
    async (req, res) => {
      state.requests++;
      // Hold the request a little so that kills land while calls are in flight.
      await new Promise((r) => setTimeout(r, 50 + Math.floor(random() * 200)));
      ledger.record(req.headers['idempotency-key'], req.body);
      res.status(201).json({ applied: true });
    },
  );
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ledger,
    get requests() {
      return state.requests;
    },
    get attempts() {
      return state.attempts;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

interface CrashFigures {
  kills: number;
  operations: number;
  duplicates: number;
  takeovers: number;
  downstreamRequests: number;
  handlerRuns: number;
  hookRuns: number;
  seconds: number;
}

async function crashRun(
  label: string,
  redis: Redis | Cluster,
  childEnv: Record<string, string>,
  prefix: string,
): Promise<CrashFigures> {
  const random = seeded(SEED);
  const downstream = await startDownstream(random);
  const dir = mkdtempSync(join(tmpdir(), 'durable-crash-'));
  const hookFile = join(dir, 'hooks.txt');
  writeFileSync(hookFile, '');
  const client = createClient({ baseUrl: downstream.url, breaker: false });
  const durable: Durable = createDurable({
    client,
    store: redisDurableStore(redis, { prefix, partitions: 6 }),
  });
  const op = durable.operation<{ n: number }>('crash-op', {
    request: (input) => ({ method: 'POST', path: '/effects', json: input }),
  });
  const started = Date.now();
  const children = new Set<ChildRun>();
  let kills = 0;
  let stopping = false;
  try {
    const ids: string[] = [];
    for (let n = 0; n < OPERATIONS; n++)
      ids.push((await op.start({ n }, { key: `order-${n}`, wait: 0 })).id);
    const env = {
      ...childEnv,
      DOWNSTREAM_URL: downstream.url,
      PREFIX: prefix,
      HOOK_FILE: hookFile,
    };
    // Each slot keeps one worker alive: killed at a seeded random time, then replaced.
    const slot = async (i: number): Promise<void> => {
      let generation = 0;
      while (!stopping) {
        generation++;
        // Kill at a seeded random point after the worker is up (boot time varies with load).
        const killAfter = 50 + Math.floor(random() * 550);
        const child = await runChild(WORKER_MODULE, { env, timeoutMs: 120_000 });
        children.add(child);
        const ready = await child.waitForOutput('worker ready', { timeoutMs: 60_000 }).then(
          () => true,
          () => false,
        );
        if (ready && !stopping) {
          await new Promise((r) => setTimeout(r, killAfter));
          if (!stopping) {
            await child.kill('SIGKILL');
            kills++;
          }
        }
        const exit = await child.exited;
        children.delete(child);
        if (exit.code !== null && exit.code !== 0)
          throw new Error(`worker ${i}.${generation} failed: ${exit.stderr}`);
      }
    };
    const slots = Array.from({ length: WORKERS }, (_, i) => slot(i));
    await until(
      `${label}: all ${OPERATIONS} operations completed`,
      async () => (await durable.counts())['crash-op']?.completed === OPERATIONS,
      90_000,
    );
    stopping = true;
    await Promise.all([...children].map((c) => c.kill()));
    await Promise.all(slots);

    const counts = (await durable.counts())['crash-op'];
    expect(counts).toMatchObject({
      completed: OPERATIONS,
      pending: 0,
      running: 0,
      failed: 0,
      dead: 0,
    });
    expect(await durable.gauges()).toEqual({ due: {}, inFlight: {} });
    const keys = downstream.ledger.keys().sort();
    expect(keys).toEqual([...ids].sort());
    const duplicates = downstream.ledger.effects().length - keys.length;
    expect(ids.filter((id) => downstream.ledger.count(id) !== 1)).toEqual([]);
    const hooks = readFileSync(hookFile, 'utf8').split('\n').filter(Boolean);
    expect(new Set(hooks)).toEqual(new Set(ids));
    let takeovers = 0;
    for (const id of ids) {
      const details = await durable.deadLetters.get(id);
      expect(details?.record.state).toBe('completed');
      takeovers += details?.history.filter((h) => h.kind === 'lease-expired').length ?? 0;
    }
    const figures: CrashFigures = {
      kills,
      operations: OPERATIONS,
      duplicates,
      takeovers,
      downstreamRequests: downstream.attempts,
      handlerRuns: downstream.requests,
      hookRuns: hooks.length,
      seconds: (Date.now() - started) / 1000,
    };
    console.log(`durable crash test (${label}, seed ${SEED}): ${JSON.stringify(figures)}`);
    expect(kills).toBeGreaterThanOrEqual(3);
    return figures;
  } finally {
    stopping = true;
    await Promise.all([...children].map((c) => c.kill()));
    await client.close();
    await downstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('durable crash test: SIGKILLed workers, exactly one effect per operation', () => {
  let ctx: RedisTestContext;
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    ctx = await redisTestContext('durable-crash');
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(async () => {
    await ctx.close();
    await cluster.close();
  });

  it('single Redis: 50 operations, workers killed at seeded random points and replaced', async () => {
    await crashRun('redis', ctx.connect(), { REDIS_URL: ctx.url }, `${ctx.prefix}crash:`);
  }, 120_000);

  it('3-master Redis Cluster: the same', async () => {
    const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    await crashRun('cluster', cluster.connect(), { CLUSTER_NODES: nodes }, 'durable-crash:');
  }, 120_000);
});
