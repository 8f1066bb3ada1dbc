import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { createClient, type Client } from '@unfazed/client';
import { createDurable, redisDurableStore } from '@unfazed/client/durable';
import { preciseNow } from '@unfazed/testing';
import { boundedAll } from '../load.js';
import {
  callsOf,
  commandStats,
  openRedis,
  statsDelta,
  type BenchRedis,
  type SuiteRedis,
} from '../redis-env.js';
import { alternate, atLeast, compare, series, type Variant } from '../rounds.js';
import type { Measure } from '../results.js';
import { startNoopServer } from '../servers/noop-server.js';
import { percentiles } from '../stats.js';
import type { SuiteEnv, SuiteOutput } from '../suite.js';

const RETRY_DELAY_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Figure = 'started' | 'completed' | 'commands' | 'lateP50' | 'lateP99';
/** What one round of either queue measured. */
export type RoundFigures = Record<Figure, number>;

/** Resolves when `count()` reaches `n`, or rejects after `timeoutMs` saying how far it got. */
function waitFor(
  what: string,
  n: number,
  count: () => number,
  timeoutMs: number,
): {
  promise: Promise<number>;
  tick(): void;
} {
  let resolve!: (t: number) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(
    () => reject(new Error(`${what}: ${count()} of ${n} done after ${timeoutMs} ms`)),
    timeoutMs,
  );
  return {
    promise: promise.finally(() => clearTimeout(timer)),
    tick() {
      if (count() >= n) resolve(performance.now());
    },
  };
}

/**
 * The clients of the queue rounds, to the no-op server at `origin`: the work's client with every
 * policy on, and the lateness runs' client without a breaker (their planned 503s would open it).
 */
export function queueClients(origin: string): { client: Client; lateClient: Client } {
  return {
    client: createClient({ baseUrl: origin, pool: { connections: 64 } }),
    lateClient: createClient({ baseUrl: origin, breaker: false, pool: { connections: 64 } }),
  };
}

/**
 * Suite 3: the same work on the same Redis — N operations (jobs) that each make one HTTP POST to
 * a no-op server in another process — through the durable queue and through BullMQ, with one
 * worker at each concurrency; then operations whose first call gets a 503 and that retry 100 ms
 * later, to measure how late the retry starts.
 */
export async function queueVsBullmq(env: SuiteEnv): Promise<SuiteOutput> {
  const q = env.settings.queue;
  const redis = await openRedis('queue');
  const bound = q.timeoutMs * 4 * q.concurrency.length * env.settings.rounds + 60_000;
  const server = await startNoopServer(bound);
  const { client, lateClient } = queueClients(server.origin);
  const measures: Measure[] = [];
  try {
    for (const concurrency of q.concurrency) {
      const unfazed: Variant = {
        name: 'unfazed durable',
        run: (round) => {
          const prefix = `${redis.ctx.prefix}durable:c${concurrency}r${round}:`;
          return durableRound(env, suiteRedisOf(redis), client, lateClient, concurrency, {
            prefix,
            latePrefix: `${prefix}late:`,
            cleanup: true,
          });
        },
      };
      const bull: Variant = {
        name: 'BullMQ',
        run: (round) => bullRound(env, redis, client, lateClient, concurrency, round),
      };
      env.log(`queue: worker concurrency ${concurrency}, ${env.settings.rounds} rounds`);
      const results = await alternate([bull, unfazed], env.settings.rounds);
      const row = (
        scenario: string,
        metric: string,
        unit: string,
        figure: Figure,
        target = false,
      ): Measure =>
        compare({
          suite: 'queue',
          scenario: `${scenario}, worker concurrency ${concurrency}`,
          metric,
          unit,
          baseline: { name: bull.name, values: series(results, bull.name, figure) },
          subject: { name: unfazed.name, values: series(results, unfazed.name, figure) },
          ...(target ? { target: atLeast(concurrency === 32 ? 1.5 : 1.0, 'unfazed/BullMQ') } : {}),
        });
      measures.push(
        row(`${q.operations} operations`, 'started/s', 'ops/s', 'started'),
        row(`${q.operations} operations`, 'completed/s end-to-end', 'ops/s', 'completed', true),
        row(`${q.operations} operations`, 'Redis commands per operation', 'commands', 'commands'),
        row(`retry scheduled ${RETRY_DELAY_MS} ms ahead`, 'p50 lateness', 'ms', 'lateP50'),
        row(`retry scheduled ${RETRY_DELAY_MS} ms ahead`, 'p99 lateness', 'ms', 'lateP99'),
      );
    }
  } finally {
    await Promise.allSettled([client.close(), lateClient.close()]);
    await server.close();
    await redis.close();
  }
  return {
    measures,
    notes: [
      `Per round: one worker, then ${q.operations} operations started by ${q.starters} callers at once (durable: \`op.start(input, { wait: 0 })\`, persisted only; BullMQ: \`queue.add\`, default job options). started/s = operations / time until every start resolved; completed/s = operations / time from the first start to the last completion.`,
      'Both sides make the same call with the same `@unfazed/client` (durable: the operation id as Idempotency-Key, one attempt per run; BullMQ: the job id, `maxRetries: 0`); worker and starters share this process, the no-op server runs in another.',
      `Lateness: ${q.lateOperations} operations started ${q.lateSpacingMs} ms apart whose first call gets a 503; the durable type has a fixed ${RETRY_DELAY_MS} ms backoff (jitter none), the BullMQ job \`attempts: 2, backoff: { type: 'fixed', delay: ${RETRY_DELAY_MS} }\`. Lateness = start of the second call − its due time: for the durable queue the \`dueAt\` of its own \`scheduled\` event (end of the first call + ${RETRY_DELAY_MS} ms); for BullMQ the end of the first call, in whole ms, + ${RETRY_DELAY_MS} ms. Both workers keep their default polling settings.`,
      'Redis commands per operation: INFO commandstats delta over the throughput phase (Lua inner calls included, BullMQ blocking reads included), divided by operations; server-wide, so other clients of a shared Redis add to it.',
      'Keys of each round are deleted after it; BullMQ keeps completed jobs by default and so does the durable store (for its retention), so both write their records.',
    ],
    redis: { source: redis.ctx.source, version: redis.version },
  };
}

/** The harness Redis as a {@link SuiteRedis}. */
function suiteRedisOf(redis: BenchRedis): SuiteRedis {
  return {
    admin: redis.admin,
    prefix: redis.ctx.prefix,
    connect: (options) => redis.ctx.connect(options),
    deleteKeys: (prefix) => redis.deleteKeys(prefix),
  };
}

/** Where one durable round writes. */
export interface DurableRoundOptions {
  /** Store prefix of the throughput operations. */
  readonly prefix: string;
  /** Store prefix of the lateness operations (may equal `prefix`: another type, same schedule). */
  readonly latePrefix: string;
  /** Delete everything under `prefix` afterwards (false: a backlog stays there for later rounds). */
  readonly cleanup: boolean;
  /** Retention of completed operations, ms (default: the store's). */
  readonly retention?: number;
}

/**
 * One durable round: N operations started by the callers while one worker runs, then the
 * lateness of retries due 100 ms after a planned 503. Exported for the scale suite, which runs
 * it with a backlog of operations scheduled far ahead under the same prefix.
 */
export async function durableRound(
  env: SuiteEnv,
  redis: SuiteRedis,
  client: Client,
  lateClient: Client,
  concurrency: number,
  options: DurableRoundOptions,
): Promise<RoundFigures> {
  const q = env.settings.queue;
  const { prefix, latePrefix } = options;
  const storeOptions = options.retention !== undefined ? { retention: options.retention } : {};
  const conn = redis.connect({ maxRetriesPerRequest: null, connectionName: 'bench-durable' });
  const lateConn = redis.connect({
    maxRetriesPerRequest: null,
    connectionName: 'bench-durable-late',
  });
  const errors: unknown[] = [];
  try {
    // Throughput.
    const durable = createDurable({
      client,
      store: redisDurableStore(conn, { prefix, ...storeOptions }),
    });
    durable.events.on('worker-error', (e) => errors.push(e.error));
    const op = durable.operation('bench-call', {
      request: (input: { n: number }) => ({ method: 'POST', path: '/charges', json: input }),
      wait: 0,
    });
    let completed = 0;
    const done = waitFor('durable throughput', q.operations, () => completed, q.timeoutMs);
    durable.events.on('succeeded', () => {
      completed++;
      done.tick();
    });
    durable.events.on('failed', (e) => errors.push(new Error(`failed: ${e.failure.message}`)));
    const before = await commandStats(redis.admin);
    const worker = durable.startWorker({ concurrency });
    const t0 = performance.now();
    let tStarted: number;
    let tDone: number;
    try {
      await boundedAll(q.operations, q.starters, async (n) => {
        const outcome = await op.start({ n }, { wait: 0 });
        if (outcome.status !== 'accepted') throw new Error(`start answered ${outcome.status}`);
      });
      tStarted = performance.now();
      tDone = await done.promise;
    } finally {
      await worker.stop({ timeout: 5_000 });
    }
    const delta = statsDelta(before, await commandStats(redis.admin));
    delta.delete('info');
    if (errors.length > 0) throw errors[0];

    // Lateness of a retry scheduled 100 ms ahead.
    const late = createDurable({
      client: lateClient,
      store: redisDurableStore(lateConn, { prefix: latePrefix, ...storeOptions }),
    });
    late.events.on('worker-error', (e) => errors.push(e.error));
    const dueAt = new Map<string, number>();
    const lateness: number[] = [];
    // The due time the queue itself computed (end of the first call + 100 ms, epoch ms).
    late.events.on('scheduled', (e) => {
      if (e.reason === 'backoff') dueAt.set(e.id, e.dueAt);
    });
    const lateOp = late.operation('bench-late', {
      request: (input: { n: number }, ctx) => {
        const due = dueAt.get(ctx.id);
        if (due !== undefined) {
          // `due` is the queue's own Date-based time (whole ms), which the worker waits for; the
          // sub-ms clock can read a hair earlier than Date.now() (a skew, not an early run).
          lateness.push(Math.max(preciseNow(), Date.now()) - due);
          dueAt.delete(ctx.id);
        }
        return { method: 'POST', path: '/fail-once', json: input };
      },
      wait: 0,
      backoff: {
        initialMs: RETRY_DELAY_MS,
        exponent: 1,
        maxMs: RETRY_DELAY_MS,
        jitter: 'none',
      },
    });
    let lateDone = 0;
    const allLate = waitFor('durable lateness', q.lateOperations, () => lateDone, q.timeoutMs);
    late.events.on('succeeded', () => {
      lateDone++;
      allLate.tick();
    });
    const lateWorker = late.startWorker({ concurrency });
    try {
      for (let n = 0; n < q.lateOperations; n++) {
        await lateOp.start({ n }, { wait: 0 });
        await sleep(q.lateSpacingMs);
      }
      await allLate.promise;
    } finally {
      await lateWorker.stop({ timeout: 5_000 });
    }
    if (errors.length > 0) throw errors[0];
    const { p50, p99 } = percentiles(lateness);
    return {
      started: (q.operations * 1000) / (tStarted - t0),
      completed: (q.operations * 1000) / (tDone - t0),
      commands: callsOf(delta) / q.operations,
      lateP50: p50,
      lateP99: p99,
    };
  } finally {
    await Promise.allSettled([conn.quit(), lateConn.quit()]);
    if (options.cleanup) {
      await redis.deleteKeys(prefix);
      if (!latePrefix.startsWith(prefix)) await redis.deleteKeys(latePrefix);
    }
  }
}

async function bullRound(
  env: SuiteEnv,
  redis: BenchRedis,
  client: Client,
  lateClient: Client,
  concurrency: number,
  round: number,
): Promise<RoundFigures> {
  const q = env.settings.queue;
  const prefix = `${redis.ctx.prefix}bull`;
  const name = `c${concurrency}r${round}`;
  const lateName = `${name}-late`;
  const connect = (label: string): Redis =>
    redis.ctx.connect({ maxRetriesPerRequest: null, connectionName: `bench-bull-${label}` });
  const conns = [
    connect('queue'),
    connect('worker'),
    connect('late-queue'),
    connect('late-worker'),
  ];
  const [queueConn, workerConn, lateQueueConn, lateWorkerConn] = conns as [
    Redis,
    Redis,
    Redis,
    Redis,
  ];
  const errors: unknown[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    // Throughput.
    const queue = new Queue(name, { connection: queueConn, prefix });
    closers.push(() => queue.close());
    let completed = 0;
    const done = waitFor('BullMQ throughput', q.operations, () => completed, q.timeoutMs);
    const worker = new Worker(
      name,
      async (job: Job<{ n: number }>) => {
        const res = await client.request({
          method: 'POST',
          path: '/charges',
          json: job.data,
          idempotencyKey: `bull-${name}-${job.id ?? ''}`,
          retry: { maxRetries: 0 },
        });
        await res.text();
        if (res.status >= 300) throw new Error(`status ${res.status}`);
      },
      { connection: workerConn, prefix, concurrency },
    );
    closers.unshift(() => worker.close());
    worker.on('completed', () => {
      completed++;
      done.tick();
    });
    worker.on('failed', (_job, error) => errors.push(error));
    worker.on('error', (error) => errors.push(error));
    await worker.waitUntilReady();
    const before = await commandStats(redis.admin);
    const t0 = performance.now();
    await boundedAll(q.operations, q.starters, async (n) => {
      await queue.add('call', { n });
    });
    const tStarted = performance.now();
    const tDone = await done.promise;
    const delta = statsDelta(before, await commandStats(redis.admin));
    delta.delete('info');
    if (errors.length > 0) throw errors[0];

    // Lateness of a retry scheduled 100 ms ahead.
    const lateQueue = new Queue(lateName, { connection: lateQueueConn, prefix });
    closers.push(() => lateQueue.close());
    const failedAt = new Map<string, number>();
    const lateness: number[] = [];
    let lateDone = 0;
    const allLate = waitFor('BullMQ lateness', q.lateOperations, () => lateDone, q.timeoutMs);
    const lateWorker = new Worker(
      lateName,
      async (job: Job<{ n: number }>) => {
        const id = job.id ?? '';
        const failed = failedAt.get(id);
        if (failed !== undefined) {
          lateness.push(preciseNow() - (failed + RETRY_DELAY_MS));
          failedAt.delete(id);
        }
        let status: number;
        try {
          const res = await lateClient.request({
            method: 'POST',
            path: '/fail-once',
            json: job.data,
            idempotencyKey: `bull-${lateName}-${id}`,
            retry: { maxRetries: 0 },
          });
          await res.text();
          status = res.status;
        } catch (error) {
          // With no retries left the client throws a 503 (RetriesExhaustedError): the planned
          // failure. Whole ms, taken before BullMQ reads Date.now() for the due time, so that
          // this reference is never later than BullMQ's own.
          failedAt.set(id, Math.floor(preciseNow()));
          throw error;
        }
        if (status >= 300) throw new Error(`status ${status}`);
      },
      { connection: lateWorkerConn, prefix, concurrency },
    );
    closers.unshift(() => lateWorker.close());
    lateWorker.on('completed', () => {
      lateDone++;
      allLate.tick();
    });
    lateWorker.on('error', (error) => errors.push(error));
    await lateWorker.waitUntilReady();
    for (let n = 0; n < q.lateOperations; n++) {
      await lateQueue.add(
        'late',
        { n },
        { attempts: 2, backoff: { type: 'fixed', delay: RETRY_DELAY_MS } },
      );
      await sleep(q.lateSpacingMs);
    }
    await allLate.promise;
    if (errors.length > 0) throw errors[0];
    const { p50, p99 } = percentiles(lateness);
    return {
      started: (q.operations * 1000) / (tStarted - t0),
      completed: (q.operations * 1000) / (tDone - t0),
      commands: callsOf(delta) / q.operations,
      lateP50: p50,
      lateP99: p99,
    };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await Promise.allSettled(conns.map((c) => c.quit()));
    await redis.deleteKeys(`${prefix}:${name}:`);
    await redis.deleteKeys(`${prefix}:${lateName}:`);
  }
}
