import { createHash, randomUUID } from 'node:crypto';
import {
  memoryIdempotencyStore,
  redisIdempotencyStore,
  type IdempotencyStore,
} from '@unfazed/server';
import { exposeGc, liveBytes, settledLiveBytes } from '../gc.js';
import { openRedis } from '../redis-env.js';
import { atMost, compare, single } from '../rounds.js';
import type { Measure } from '../results.js';
import type { SuiteEnv, SuiteOutput } from '../suite.js';

/** The memory store's default `maxEntries`: the records it keeps at most. */
const DEFAULT_MAX_ENTRIES = 10_000;
const BODY = Buffer.from(JSON.stringify({ pad: 'x'.repeat(1024 - 10) }));
const HEADERS = { 'content-type': 'application/json; charset=utf-8' };

/** Claims and completes record `i` the way the middleware does: hex key and fingerprint, a 1 KiB body. */
async function completeRecord(store: IdempotencyStore, i: number, salt: string): Promise<void> {
  const key = createHash('sha256').update(`${salt}:${i}`).digest('hex');
  const fingerprint = createHash('sha256').update(`fp:${salt}:${i}`).digest('hex');
  const owner = randomUUID();
  const claimed = await store.claim({ key, fingerprint, owner, leaseMs: 60_000 });
  if (claimed.outcome !== 'claimed') throw new Error(`record ${i}: claim gave ${claimed.outcome}`);
  const ok = await store.complete({
    key,
    fingerprint,
    owner,
    response: { status: 201, headers: { ...HEADERS }, body: Buffer.concat([BODY]) },
    retentionMs: 600_000,
  });
  if (!ok) throw new Error(`record ${i}: complete refused`);
}

/**
 * Fills a fresh memory store to `limit` then to `records`, reading live bytes at the start, at
 * the limit and at the end. A function of its own, so that no frame keeps an earlier round's
 * store alive.
 */
async function memoryStoreRound(
  gc: () => void,
  limit: number,
  records: number,
  salt: string,
): Promise<{
  start: number;
  full: number;
  end: number;
  belowRate: number;
  atLimitRate: number;
}> {
  const bytes = (): number => {
    const b = liveBytes(gc);
    return b.heap + b.buffers;
  };
  const start = await settledLiveBytes(gc);
  const store = memoryIdempotencyStore();
  const t0 = performance.now();
  let i = 0;
  for (; i < limit; i++) await completeRecord(store, i, salt);
  const belowRate = (limit * 1000) / (performance.now() - t0);
  const full = bytes();
  const t1 = performance.now();
  for (; i < records; i++) await completeRecord(store, i, salt);
  const atLimitRate = ((records - limit) * 1000) / (performance.now() - t1);
  const end = bytes();
  // Used after the last measurement, so the store cannot be collected before it.
  if ((await store.release({ key: 'none', owner: 'none' })) !== false) throw new Error('release');
  return { start, full, end, belowRate, atLimitRate };
}

/**
 * Suite 4: what completed idempotency records cost — live heap (and buffer) growth of the memory
 * store with its default limits after N records, which must level off at its `maxEntries`, and
 * Redis bytes per completed record (`MEMORY USAGE`) for a 1 KiB body.
 */
export async function memoryFootprint(env: SuiteEnv): Promise<SuiteOutput> {
  const m = env.settings.memory;
  const gc = exposeGc();
  const limit = Math.min(DEFAULT_MAX_ENTRIES, m.records);
  const total: number[] = [];
  const toLimit: number[] = [];
  const perRecord: number[] = [];
  const belowRate: number[] = [];
  const atLimitRate: number[] = [];
  for (let round = 0; round < m.rounds; round++) {
    env.log(`memory: round ${round + 1}/${m.rounds}, ${m.records} records in the memory store`);
    const r = await memoryStoreRound(gc, limit, m.records, `${round}-${Date.now()}`);
    total.push(r.end - r.start);
    toLimit.push(r.full - r.start);
    perRecord.push((r.full - r.start) / limit);
    belowRate.push(r.belowRate);
    atLimitRate.push(r.atLimitRate);
  }
  const n = m.records.toLocaleString('en-US');
  const lim = limit.toLocaleString('en-US');
  const measures: Measure[] = [
    single({
      suite: 'memory',
      scenario: `memory store (default limits), ${n} completed records, 1 KiB body`,
      metric: 'live heap + buffer growth',
      unit: 'B',
      subject: { name: 'memoryIdempotencyStore()', values: total },
    }),
    compare({
      suite: 'memory',
      scenario: `memory store (default limits), after ${n} records vs after ${lim}`,
      metric: 'live growth, bounded: ratio ≈ 1',
      unit: 'B',
      baseline: { name: `after ${lim} (the limit)`, values: toLimit },
      subject: { name: `after ${n}`, values: total },
      target: atMost(1.05, 'growth ratio'),
    }),
    single({
      suite: 'memory',
      scenario: `memory store (default limits), ${lim} records kept`,
      metric: 'bytes per kept record',
      unit: 'B',
      subject: { name: 'memoryIdempotencyStore()', values: perRecord },
    }),
    compare({
      suite: 'memory',
      scenario: 'memory store, claim + complete, direct calls',
      metric: 'records/s at the limit vs below it',
      unit: 'ops/s',
      baseline: { name: `records 1–${lim}`, values: belowRate },
      subject: {
        name: `records ${(limit + 1).toLocaleString('en-US')}–${n} (at the limit)`,
        values: atLimitRate,
      },
    }),
  ];

  const redis = await openRedis('memory');
  const redisBytes: number[] = [];
  try {
    const connection = redis.ctx.connect({ maxRetriesPerRequest: 1 });
    for (let round = 0; round < m.rounds; round++) {
      const prefix = `${redis.ctx.prefix}idem-r${round}:`;
      const store = redisIdempotencyStore(connection, { prefix });
      for (let i = 0; i < m.redisRecords; i++) await completeRecord(store, i, `redis-${round}`);
      const keys = (await redis.ctx.keys()).filter((k) => k.startsWith(prefix));
      if (keys.length !== m.redisRecords) {
        throw new Error(
          `expected ${m.redisRecords} record keys under ${prefix}, found ${keys.length}`,
        );
      }
      const sizes: number[] = [];
      for (const key of keys) {
        sizes.push(Number(await redis.admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')));
      }
      sizes.sort((a, b) => a - b);
      redisBytes.push(sizes[Math.floor(sizes.length / 2)] as number);
      await redis.deleteKeys(prefix);
    }
  } finally {
    await redis.close();
  }
  measures.push(
    single({
      suite: 'memory',
      scenario: 'Redis store, completed record, 1 KiB body',
      metric: 'Redis bytes per record (MEMORY USAGE, median key)',
      unit: 'B',
      subject: { name: 'redisIdempotencyStore()', values: redisBytes },
    }),
  );
  return {
    measures,
    notes: [
      `Memory store: a fresh \`memoryIdempotencyStore()\` per round (defaults: ${DEFAULT_MAX_ENTRIES.toLocaleString('en-US')} records, 64 MiB), ${n} records claimed and completed through the store API with 64-hex keys and fingerprints, a UUID owner and a 1 KiB body, as the middleware stores them. Live bytes = heapUsed + arrayBuffers after two forced collections.`,
      'Bounded means: past its limit the store evicts as it inserts, so growth after N records stays at the growth at the limit (ratio ≈ 1). Bytes per kept record = growth up to the limit / records kept.',
      'records/s compares the store below its limit with the store at it, in the same round: the cost of eviction per insert.',
      `Redis: ${m.redisRecords} records per round through \`redisIdempotencyStore\`; MEMORY USAGE (SAMPLES 0) of each record's hash, the median key per round.`,
    ],
    redis: { source: redis.ctx.source, version: redis.version },
  };
}
