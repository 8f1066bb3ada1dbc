/**
 * Redis round trips of a saga, counted on a redis-server of this test's own: INFO commandstats
 * after CONFIG RESETSTAT (what the server ran), MONITOR (what each EVALSHA carried: the
 * standalone store sends the scripts asked for in one event-loop turn as one EVALSHA of its batch
 * script, whose ARGV names each call) and a counting proxy over the store (which store method
 * made each script call). A step transition is one script call: the settle that journals step
 * N's result also starts step N+1. So a 3-step saga (local, request, request) worked by a worker
 * after `start(..., { wait: 0 })` costs create (1) + the claim that leases it (1) + one settle per
 * step (3) write scripts.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Redis } from 'ioredis';
import { createClient, type Client } from '@unfazed/client';
import {
  createDurable,
  redisDurableStore,
  type Durable,
  type DurableOperation,
  type DurableStore,
  type DurableWorker,
  type SagaStep,
} from '@unfazed/client/durable';
import { redisIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import {
  redisTestContext,
  startRedisServer,
  type RedisServerHandle,
  type RedisTestContext,
} from '@unfazed/testing';
import { until } from './durable-downstream.js';

const STEPS = 3;

/** The store's calls, by method, seen through a counting proxy. */
interface StoreCalls {
  create: number;
  /** Claim calls (claimAny on a standalone Redis). */
  claims: number;
  /** Claims that leased something, and how many operations they leased. */
  leasingClaims: number;
  leased: number;
  settle: number;
  renew: number;
  /** Every other store method (reads: get, history, counts...). */
  other: number;
}

const noCalls = (): StoreCalls => ({
  create: 0,
  claims: 0,
  leasingClaims: 0,
  leased: 0,
  settle: 0,
  renew: 0,
  other: 0,
});

function minus(a: StoreCalls, b: StoreCalls): StoreCalls {
  const out = noCalls();
  for (const k of Object.keys(out) as (keyof StoreCalls)[]) out[k] = a[k] - b[k];
  return out;
}

/** Counts the store's calls (each passes through unchanged) and knows when none is in flight. */
class CountedStore {
  readonly calls = noCalls();
  inFlight = 0;
  lastCallAt = 0;
  readonly store: DurableStore;

  constructor(target: DurableStore) {
    const track = <T>(p: Promise<T>): Promise<T> => {
      this.inFlight++;
      this.lastCallAt = Date.now();
      return p.finally(() => {
        this.inFlight--;
        this.lastCallAt = Date.now();
      });
    };
    const calls = this.calls;
    this.store = new Proxy(target, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t) as unknown;
        if (typeof value !== 'function') return value;
        const fn = (value as (...a: unknown[]) => unknown).bind(t);
        if (prop === 'newId' || prop === 'close') return fn;
        return (...args: unknown[]) => {
          if (prop === 'claim' || prop === 'claimAny') {
            calls.claims++;
            return track(fn(...args) as Promise<unknown[]>).then((got) => {
              if (got.length > 0) calls.leasingClaims++;
              calls.leased += got.length;
              return got;
            });
          }
          if (prop === 'create' || prop === 'settle' || prop === 'renew') calls[prop]++;
          else calls.other++;
          return track(fn(...args) as Promise<unknown>);
        };
      },
    });
  }

  /** Resolves once no call has been in flight for 50 ms. */
  quiet(): Promise<void> {
    return until(
      'the store to be quiet',
      () => this.inFlight === 0 && Date.now() - this.lastCallAt >= 50,
      10_000,
    );
  }
}

/** One EVALSHA/EVAL a client sent: the script calls it carried (several in a batch). */
type ScriptCommand = { command: string; calls: string[] };

/** A lone script's name, from its keys (see redis-store.ts and redis-keys.ts). */
function loneScript(args: readonly string[]): string {
  const numberOfKeys = args[2];
  const firstKey = args[3] ?? '';
  if (numberOfKeys === '0') return 'claimAny';
  if (numberOfKeys === '5') return firstKey.includes(':key:') ? 'create' : 'settle';
  if (numberOfKeys === '2') return firstKey.includes(':op:') ? 'renew' : 'claim';
  return `script/${numberOfKeys ?? '?'}`;
}

/** `unfazedDurableClaimAny` → `claimAny`. */
const shortName = (name: string): string =>
  name.replace(/^unfazedDurable(.)/, (_, c: string) => c.toLowerCase());

/** MONITOR on the measured server: client commands, with ECHO markers between windows. */
class Monitor {
  readonly events: ({ script: ScriptCommand } | { other: string } | { marker: string })[] = [];
  #conn: Redis | undefined;

  static async start(server: RedisServerHandle): Promise<Monitor> {
    const m = new Monitor();
    m.#conn = await server.connect().monitor();
    m.#conn.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua') return; // run by a script, not sent by a client
      const command = (args[0] ?? '').toLowerCase();
      if (command === 'evalsha' || command === 'eval') {
        // A batch names each of its calls in ARGV; a lone script is one call.
        const names = args.filter((a) => /^unfazedDurable[A-Za-z]+$/.test(a)).map(shortName);
        m.events.push({
          script: { command, calls: names.length > 0 ? names : [loneScript(args)] },
        });
      } else if (command === 'echo') m.events.push({ marker: args[1] ?? '' });
      else m.events.push({ other: command });
    });
    return m;
  }

  /** What clients sent between the markers `from` and `to`. */
  between(from: string, to: string): { scripts: ScriptCommand[]; others: string[] } {
    const start = this.events.findIndex((e) => 'marker' in e && e.marker === from);
    const end = this.events.findIndex((e) => 'marker' in e && e.marker === to);
    const slice = this.events.slice(start + 1, end);
    return {
      scripts: slice.flatMap((e) => ('script' in e ? [e.script] : [])),
      others: slice.flatMap((e) => ('other' in e ? [e.other] : [])),
    };
  }

  has(marker: string): boolean {
    return this.events.some((e) => 'marker' in e && e.marker === marker);
  }

  stop(): void {
    this.#conn?.disconnect();
  }
}

/** `INFO commandstats` as calls per command. */
async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** Commands of the measuring connection itself. */
const ADMIN_COMMANDS = /^(config\|resetstat|info|echo|ping|monitor)$/;

interface Measured {
  /** Store calls made in the window. */
  calls: StoreCalls;
  /** The EVALSHA/EVAL commands, in order, each as the script calls it carried (`a+b`). */
  sequence: string[];
  scripts: ScriptCommand[];
  /** Commands clients sent that are not scripts. */
  otherCommands: string[];
  /** INFO commandstats: EVALSHA and EVAL calls (round trips), and the commands scripts ran. */
  evalsha: number;
  eval: number;
  inner: number;
}

interface Downstream {
  readonly url: string;
  readonly handled: string[];
  close(): Promise<void>;
}

/** The downstream, its idempotency records on the shared Redis (not the measured one). */
async function startDownstream(redis: Redis, prefix: string): Promise<Downstream> {
  const handled: string[] = [];
  const app = express();
  app.use(express.json());
  app.use(idempotency({ store: redisIdempotencyStore(redis, { prefix }) }));
  app.post('/:route', (req, res) => {
    handled.push(`${req.path} ${req.get('idempotency-key') ?? ''}`);
    res.status(201).json({ ok: true });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handled,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

type Input = { n: number };

/** local → request → request, none compensated (nothing fails here). */
const THREE_STEPS: SagaStep<Input>[] = [
  { name: 'reserve', run: (input) => ({ reserved: input.n }) },
  { name: 'charge', request: (input) => ({ method: 'POST', path: '/charges', json: input }) },
  { name: 'ship', request: (input) => ({ method: 'POST', path: '/shipments', json: input }) },
];

describe('saga round trips: one script call per step transition', () => {
  let server: RedisServerHandle;
  let ctx: RedisTestContext;
  let downstream: Downstream;
  let client: Client;
  let redis: Redis;
  let admin: Redis;
  let monitor: Monitor;
  const report: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
    ctx = await redisTestContext('saga-round-trips');
    downstream = await startDownstream(ctx.connect(), `${ctx.prefix}idem:`);
    client = createClient({ baseUrl: downstream.url, breaker: false, retry: { maxRetries: 0 } });
    redis = server.connect({ maxRetriesPerRequest: null });
    admin = server.connect();
    await Promise.all([redis.ping(), admin.ping()]);
    monitor = await Monitor.start(server);
  }, 30_000);
  // Each test's workers stop before the next test measures anything.
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    if (report.length > 0) console.log(`saga round trips:\n${report.join('\n')}`);
    monitor?.stop();
    await client?.close();
    await downstream?.close();
    await ctx?.close();
    await server?.close();
  });

  let rigs = 0;
  function rig(steps: SagaStep<Input>[] = THREE_STEPS): {
    durable: Durable;
    saga: DurableOperation<Input>;
    counted: CountedStore;
    work(concurrency: number): DurableWorker;
  } {
    const counted = new CountedStore(
      redisDurableStore(redis, { prefix: `saga-rt:${++rigs}:`, partitions: 4 }),
    );
    // A long lease: no renewal during a saga of a few milliseconds.
    const durable = createDurable({ client, store: counted.store, leaseMs: 30_000 });
    const saga = durable.saga<Input>('rt-saga', { steps });
    const workers: DurableWorker[] = [];
    cleanups.push(async () => {
      await Promise.all(workers.map((w) => w.stop({ timeout: 1_000 })));
      await counted.store.close();
    });
    return {
      durable,
      saga,
      counted,
      // A long poll interval: no timed polls, only the wake-ups of this process.
      work: (concurrency) => {
        const w = durable.startWorker({ concurrency, pollInterval: 60_000 });
        workers.push(w);
        return w;
      },
    };
  }

  let windows = 0;
  /** Runs `body` alone on the measured server (the store quiet before and after) and counts. */
  async function measure(counted: CountedStore, body: () => Promise<void>): Promise<Measured> {
    await counted.quiet();
    const w = ++windows;
    await admin.config('RESETSTAT');
    await admin.echo(`window ${w} begin`);
    const before = { ...counted.calls };
    await body();
    await counted.quiet();
    const stats = await commandStats(admin);
    await admin.echo(`window ${w} end`);
    await until('MONITOR to catch up', () => monitor.has(`window ${w} end`));
    const { scripts, others } = monitor.between(`window ${w} begin`, `window ${w} end`);
    const inner = Object.entries(stats)
      .filter(([name]) => name !== 'evalsha' && name !== 'eval' && !ADMIN_COMMANDS.test(name))
      .reduce((sum, [, calls]) => sum + calls, 0);
    return {
      calls: minus(counted.calls, before),
      sequence: scripts.map((s) => s.calls.join('+')),
      scripts,
      otherCommands: others.filter((c) => !ADMIN_COMMANDS.test(c)),
      evalsha: stats['evalsha'] ?? 0,
      eval: stats['eval'] ?? 0,
      inner,
    };
  }

  /** Starts one saga with `wait` and resolves when it has completed. */
  async function runOne(
    durable: Durable,
    saga: DurableOperation<Input>,
    n: number,
    wait: number,
  ): Promise<string> {
    let completed: (id: string) => void = () => undefined;
    const done = new Promise<string>((resolve) => (completed = resolve));
    const off = durable.events.on('succeeded', (e) => completed(e.id));
    try {
      const outcome = await saga.start({ n }, { wait });
      if (outcome.status === 'completed') return outcome.id;
      expect(outcome.status).toBe('accepted');
      expect(await done).toBe(outcome.id);
      return outcome.id;
    } finally {
      off();
    }
  }

  /** Every script command is what MONITOR and INFO commandstats both saw, and the store made. */
  function expectConsistent(m: Measured): void {
    const scriptCalls = m.scripts.reduce((sum, s) => sum + s.calls.length, 0);
    expect(m.evalsha + m.eval).toBe(m.scripts.length);
    expect(scriptCalls).toBe(m.calls.create + m.calls.claims + m.calls.settle + m.calls.renew);
    expect(m.eval).toBe(0); // every script was loaded by the warm-up
    expect(m.otherCommands).toEqual([]);
    expect(m.calls.other).toBe(0);
  }

  const perSaga = (m: Measured, sagas = 1): string => {
    const calls = m.scripts.reduce((sum, s) => sum + s.calls.length, 0);
    const f = (x: number): string => String(Math.round((x / sagas) * 100) / 100);
    return `${f(m.evalsha + m.eval)} round trips (EVALSHA ${f(m.evalsha)}, EVAL ${f(m.eval)}) carrying ${f(calls)} script calls (create ${f(m.calls.create)}, claims ${f(m.calls.claims)} of which ${f(m.calls.leasingClaims)} leasing, settles ${f(m.calls.settle)}, renewals ${f(m.calls.renew)}); ${f(m.inner)} Redis commands run inside the scripts`;
  };

  it('a worker: create + the claim that leases it + one settle per step (the final settle carries the next claim)', async () => {
    const { durable, saga, counted, work } = rig();
    // One slot: after its claim the worker does not claim again at once to fill another.
    work(1);
    // Warm-up, alone (after the worker's first poll): ioredis sends each script as EVAL the
    // first time on a connection.
    await counted.quiet();
    await runOne(durable, saga, 0, 0);
    const SAGAS = 5;
    const measured: Measured[] = [];
    for (let n = 1; n <= SAGAS; n++)
      measured.push(await measure(counted, async () => void (await runOne(durable, saga, n, 0))));
    for (const m of measured) {
      expectConsistent(m);
      // The saga's own writes: 1 + 1 + 3, each its own round trip, the last one shared with the
      // worker's next claim (sent in the same event-loop turn, so in one batch).
      expect(m.calls).toMatchObject({
        create: 1,
        leasingClaims: 1,
        leased: 1,
        settle: STEPS,
        renew: 0,
      });
      expect(m.sequence.slice(0, 5)).toEqual([
        'create',
        'claimAny',
        'settle',
        'settle',
        'settle+claimAny',
      ]);
      // Nothing after it: the claim sent with the last settle answers the worker's wake-up.
      expect(m.sequence).toHaveLength(5);
    }
    const m = measured[0] as Measured;
    report.push(
      `  worker (concurrency 1), start wait 0, 3 steps: ${perSaga(m)}; sequence ${m.sequence.join(', ')}`,
    );
  });

  /*
   * An idle worker woken by the final write of an operation claims once (the claim sent with that
   * settle), not twice: the wake-up flag used to outlive the claim that served it, so an empty
   * claim followed every operation finishing on an idle worker (one extra round trip per saga).
   */
  it('a wake-up that ends the idle wait is served by one claim (the one sent with the final settle), not two', async () => {
    const { durable, saga, counted, work } = rig([{ name: 'only', run: () => 'done' }]);
    work(1);
    await counted.quiet();
    await runOne(durable, saga, 0, 0); // warm-up
    const m = await measure(counted, async () => void (await runOne(durable, saga, 1, 0)));
    // Before the fix: create, claimAny, settle+claimAny, claimAny (a second, empty claim).
    expect(m.sequence).toEqual(['create', 'claimAny', 'settle+claimAny']);
  });

  it('start with a wait, no worker: the write-ahead leases it, then one settle per step (4 round trips)', async () => {
    const { durable, saga, counted } = rig();
    await runOne(durable, saga, 0, 5_000); // warm-up
    const m = await measure(counted, async () => void (await runOne(durable, saga, 1, 5_000)));
    expectConsistent(m);
    expect(m.calls).toMatchObject({ create: 1, claims: 0, settle: STEPS, renew: 0 });
    expect(m.sequence).toEqual(['create', 'settle', 'settle', 'settle']);
    report.push(`  start wait 5000 (runs in start), 3 steps: ${perSaga(m)}`);
  });

  it('20 sagas started at once, a worker of 8 slots: the batches carry several script calls per round trip', async () => {
    const { durable, saga, counted, work } = rig();
    work(8);
    await counted.quiet();
    await runOne(durable, saga, 0, 0); // warm-up
    const SAGAS = 20;
    const m = await measure(counted, async () => {
      const ids = new Set<string>();
      const done = new Promise<void>((resolve) => {
        durable.events.on('succeeded', (e) => {
          ids.add(e.id);
          if (ids.size === SAGAS) resolve();
        });
      });
      await Promise.all(Array.from({ length: SAGAS }, (_, n) => saga.start({ n }, { wait: 0 })));
      await done;
    });
    expectConsistent(m);
    expect(m.calls).toMatchObject({
      create: SAGAS,
      leased: SAGAS,
      settle: STEPS * SAGAS,
      renew: 0,
    });
    // Never more round trips than script calls; fewer here, the batches carrying several.
    const scriptCalls = m.scripts.reduce((sum, s) => sum + s.calls.length, 0);
    expect(m.evalsha + m.eval).toBeLessThan(scriptCalls);
    report.push(
      `  worker (concurrency 8), ${SAGAS} sagas started at once: per saga ${perSaga(m, SAGAS)}`,
    );
  });
});
