import { redisDurableStore } from '@unfazed/client/durable';
import { boundedAll } from '../load.js';
import { openRedis, ownRedis, usedMemory, type OwnRedis } from '../redis-env.js';
import { alternate, atLeast, atMost, compare, series, single, type Variant } from '../rounds.js';
import type { Measure, Target } from '../results.js';
import { startNoopServer } from '../servers/noop-server.js';
import type { SuiteEnv, SuiteOutput } from '../suite.js';
import { durableRound, queueClients } from './queue-vs-bullmq.js';

/** The type of the measured throughput operations, and so of the backlog. */
const TYPE = 'bench-call';
const HOUR_MS = 3_600_000;
/** Completed operations are kept 10 minutes: the suite deletes them anyway. */
const RETENTION_MS = 600_000;
/** Creates in flight at once while the backlog is written (the store batches them). */
const BUILD_CONCURRENCY = 256;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** used_memory once two readings 100 ms apart agree within 64 KiB (or after 2 s). */
async function settledUsedMemory(redis: OwnRedis): Promise<number> {
  let previous = await usedMemory(redis.admin);
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    const current = await usedMemory(redis.admin);
    if (Math.abs(current - previous) < 65_536) return current;
    previous = current;
  }
  return previous;
}

/**
 * Writes `size` operations of {@link TYPE} due an hour from now, as `start` writes them (the
 * store's own `create`: the durable API has no "run later"), and returns how long it took.
 */
async function writeBacklog(redis: OwnRedis, prefix: string, size: number): Promise<number> {
  const conn = redis.connect({ maxRetriesPerRequest: null, connectionName: 'bench-scale-backlog' });
  try {
    const store = redisDurableStore(conn, { prefix, retention: RETENTION_MS });
    const now = Date.now();
    const t0 = performance.now();
    await boundedAll(size, BUILD_CONCURRENCY, async (n) => {
      const { created } = await store.create({
        id: store.newId(TYPE),
        type: TYPE,
        input: JSON.stringify({ n, backlog: true }),
        now,
        deadline: now + 2 * HOUR_MS,
        dueAt: now + HOUR_MS,
      });
      if (!created) throw new Error('a backlog operation was not created');
    });
    const ms = performance.now() - t0;
    await store.close();
    return ms;
  } finally {
    await conn.quit().catch(() => conn.disconnect());
  }
}

/** Pending operations of {@link TYPE} under `prefix` (the backlog, once the rounds are done). */
async function pendingOf(redis: OwnRedis, prefix: string): Promise<number> {
  const conn = redis.connect({ maxRetriesPerRequest: 1, connectionName: 'bench-scale-check' });
  try {
    const store = redisDurableStore(conn, { prefix });
    const counts = await store.counts();
    await store.close();
    return counts[TYPE]?.pending ?? 0;
  } finally {
    await conn.quit().catch(() => conn.disconnect());
  }
}

const count = (n: number): string => n.toLocaleString('en-US');

/**
 * Suite `scale`: the durable queue's round (N operations through one worker, then retries due
 * 100 ms after a planned 503) with 0 and with B operations already scheduled an hour ahead in
 * the same store, in alternating rounds; Redis memory per scheduled operation; and how cost
 * grows from the smallest backlog to the largest.
 */
export async function queueScale(env: SuiteEnv): Promise<SuiteOutput> {
  const q = env.settings.queue;
  const sc = env.settings.scale;
  const shared = await openRedis('scale');
  const redis = await ownRedis(shared, 'The scale suite');
  const sizes = [0, ...sc.backlogs];
  const bound = q.timeoutMs * 2 * sizes.length * env.settings.rounds + 120_000;
  const server = await startNoopServer(bound);
  const { client, lateClient } = queueClients(server.origin);
  const base = `${redis.prefix}scale:${Date.now().toString(36)}:`;
  const prefixOf = (size: number): string => `${base}b${size}:`;
  const measures: Measure[] = [];
  const notes: string[] = [redis.note];
  try {
    // Loads the store's scripts first, so that the script cache is not counted in a backlog.
    await writeBacklog(redis, `${base}warm:`, 1);
    await redis.deleteKeys(`${base}warm:`);
    const bytesPerOp = new Map<number, number>();
    for (const size of sc.backlogs) {
      const before = await settledUsedMemory(redis);
      const ms = await writeBacklog(redis, prefixOf(size), size);
      const after = await settledUsedMemory(redis);
      bytesPerOp.set(size, (after - before) / size);
      env.log(`scale: ${count(size)} operations scheduled an hour ahead in ${Math.round(ms)} ms`);
      notes.push(
        `${count(size)} operations written in ${(ms / 1000).toFixed(1)} s (${Math.round((size * 1000) / ms).toLocaleString('en-US')}/s, ${BUILD_CONCURRENCY} creates in flight).`,
      );
    }
    const label = (size: number): string =>
      size === 0 ? 'no backlog' : `${count(size)} scheduled ahead`;
    const variants = sizes.map((size): Variant => ({
      name: label(size),
      run: async () =>
        durableRound(env, redis, client, lateClient, sc.concurrency, {
          prefix: prefixOf(size),
          latePrefix: prefixOf(size),
          cleanup: false,
          retention: RETENTION_MS,
        }),
    }));
    // One round first, not recorded, so that the first variant does not pay for the warm-up.
    await durableRound(env, redis, client, lateClient, sc.concurrency, {
      prefix: `${base}warm:`,
      latePrefix: `${base}warm:`,
      cleanup: true,
      retention: RETENTION_MS,
    });
    env.log(`scale: ${variants.length} backlogs × ${env.settings.rounds} rounds`);
    const results = await alternate(variants, env.settings.rounds);
    for (const size of sc.backlogs) {
      const pending = await pendingOf(redis, prefixOf(size));
      if (pending !== size) {
        throw new Error(`${count(size)} were scheduled an hour ahead but ${pending} are pending`);
      }
    }

    const largest = Math.max(...sc.backlogs);
    const smallest = Math.min(...sc.backlogs);
    const scenario = (size: number): string =>
      `durable, ${count(size)} operations scheduled 1 h ahead, worker concurrency ${sc.concurrency}`;
    const row = (
      size: number,
      metric: string,
      unit: string,
      figure: string,
      target?: (v: number) => Target,
    ): Measure =>
      compare({
        suite: 'scale',
        scenario: scenario(size),
        metric,
        unit,
        baseline: { name: label(0), values: series(results, label(0), figure) },
        subject: { name: label(size), values: series(results, label(size), figure) },
        ...(target ? { target } : {}),
      });
    for (const size of sc.backlogs) {
      measures.push(
        row(size, `${q.operations} operations, completed/s end-to-end`, 'ops/s', 'completed'),
        row(size, `retry due in 100 ms, p50 lateness`, 'ms', 'lateP50'),
        row(size, `retry due in 100 ms, p99 lateness`, 'ms', 'lateP99'),
        single({
          suite: 'scale',
          scenario: scenario(size),
          metric: 'Redis used_memory per scheduled operation',
          unit: 'B',
          subject: { name: label(size), values: [bytesPerOp.get(size) ?? Number.NaN] },
        }),
      );
    }
    // The lateness target, an absolute figure, at 100 000 scheduled.
    const p99At = (size: number): Measure =>
      single({
        suite: 'scale',
        scenario: scenario(size),
        metric: 'retry due in 100 ms, p99 lateness (absolute)',
        unit: 'ms',
        subject: { name: label(size), values: series(results, label(size), 'lateP99') },
        ...(size >= 100_000 ? { target: atMost(5, 'p99 ms') } : {}),
      });
    measures.push(p99At(largest));
    // Growth from the smallest backlog to the largest: logarithmic growth allows the cost per
    // operation to rise by at most log(largest) / log(smallest).
    const logFactor = Math.log(largest) / Math.log(smallest);
    const growth = `cost growth ${count(smallest)} → ${count(largest)} scheduled`;
    measures.push(
      compare({
        suite: 'scale',
        scenario: `durable, ${growth}, worker concurrency ${sc.concurrency}`,
        metric: `completed/s at ${count(largest)} vs at ${count(smallest)} (≥ log ${count(smallest)} / log ${count(largest)} = ${(1 / logFactor).toFixed(2)} is no worse than logarithmic)`,
        unit: 'ops/s',
        baseline: { name: label(smallest), values: series(results, label(smallest), 'completed') },
        subject: { name: label(largest), values: series(results, label(largest), 'completed') },
        target: atLeast(Number((1 / logFactor).toFixed(2)), 'ratio'),
      }),
      compare({
        suite: 'scale',
        scenario: `durable, ${growth}, worker concurrency ${sc.concurrency}`,
        metric: `p99 lateness at ${count(largest)} vs at ${count(smallest)} (≤ ${logFactor.toFixed(2)} is no worse than logarithmic)`,
        unit: 'ms',
        baseline: { name: label(smallest), values: series(results, label(smallest), 'lateP99') },
        subject: { name: label(largest), values: series(results, label(largest), 'lateP99') },
        target: atMost(Number(logFactor.toFixed(2)), 'ratio'),
      }),
    );
  } finally {
    await Promise.allSettled([client.close(), lateClient.close()]);
    await server.close();
    await redis.deleteKeys(base).catch(() => undefined);
    await redis.close();
    await shared.close();
  }
  notes.push(
    `Backlog: B operations of the measured type written through the Redis store's own \`create\` (what \`start\` writes with \`wait: 0\`, but due an hour ahead: the durable API has no "run later"), ${BUILD_CONCURRENCY} at once, before the rounds; they live in the same schedule partitions as the measured operations and must still be pending when the rounds end (checked), then every key is deleted.`,
    `Each round is the queue suite's durable round at worker concurrency ${sc.concurrency} (${q.operations} operations started by ${q.starters} callers, then ${q.lateOperations} retries due 100 ms after a planned 503), run under the prefix of each backlog in turn (A, B, C …); the baseline of each row is the same round with no backlog. Completed operations of earlier rounds stay (10 min retention) and are not in the schedule.`,
    'Redis used_memory per scheduled operation: the INFO memory delta over writing the backlog (settled readings before and after; the store scripts were loaded first), divided by B; one figure per backlog.',
    'Growth rows: with a cost per operation growing as log B, completed/s may fall, and p99 lateness rise, by at most the factor log(largest)/log(smallest) between the smallest and the largest backlog; the targets say whether this run stayed within it.',
  );
  return { measures, notes, redis: { source: shared.ctx.source, version: shared.version } };
}
