import { createHash, randomUUID } from 'node:crypto';
import { memoryStore, redisStore, type IdempotencyStore } from '@unfazed/server';
import { exposeGc, liveBytes } from '../gc.js';
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
    owner,
    response: { status: 201, headers: { ...HEADERS }, body: Buffer.concat([BODY]) },
    retentionMs: 600_000,
  });
  if (!ok) throw new Error(`record ${i}: complete refused`);
}

/**
 * Suite 4: what completed idempotency records cost — live heap (and buffer) growth of the memory
 * store with its default limits after N records, which must level off at its `maxEntries`, and
 * Redis bytes per completed record (`MEMORY USAGE`) for a 1 KiB body.
 */
export async function memoryFootprint(env: SuiteEnv): Promise<SuiteOutput> {
  const m = env.settings.memory;
  const gc = exposeGc();
  const half = Math.floor(m.records / 2);
  const total: number[] = [];
  const secondHalf: number[] = [];
  const perRecord: number[] = [];
  const belowRate: number[] = [];
  const atLimitRate: number[] = [];
  for (let round = 0; round < m.rounds; round++) {
    env.log(`memory: round ${round + 1}/${m.rounds}, ${m.records} records in the memory store`);
    const salt = `${round}-${Date.now()}`;
    const start = liveBytes(gc);
    // Held until measured, then dropped before the next round.
    const held: { store?: IdempotencyStore } = { store: memoryStore() };
    const store = held.store as IdempotencyStore;
    let t = performance.now();
    let i = 0;
    for (; i < Math.min(DEFAULT_MAX_ENTRIES, half); i++) await completeRecord(store, i, salt);
    belowRate.push((i * 1000) / (performance.now() - t));
    for (; i < half; i++) await completeRecord(store, i, salt);
    const mid = liveBytes(gc);
    const tLimit = performance.now();
    for (; i < m.records; i++) await completeRecord(store, i, salt);
    atLimitRate.push(((m.records - half) * 1000) / (performance.now() - tLimit));
    t = performance.now() - t;
    const end = liveBytes(gc);
    const growth = end.heap + end.buffers - (start.heap + start.buffers);
    total.push(growth);
    secondHalf.push(end.heap + end.buffers - (mid.heap + mid.buffers));
    perRecord.push(growth / Math.min(m.records, DEFAULT_MAX_ENTRIES));
    delete held.store;
  }
  const n = m.records.toLocaleString('en-US');
  const measures: Measure[] = [
    single({
      suite: 'memory',
      scenario: `memory store (default limits), ${n} completed records, 1 KiB body`,
      metric: 'live heap + buffer growth',
      unit: 'B',
      subject: { name: 'memoryStore()', values: total },
    }),
    single({
      suite: 'memory',
      scenario: `memory store (default limits), records ${(half + 1).toLocaleString('en-US')}–${n}`,
      metric: 'growth over the second half (bounded: ≈ 0)',
      unit: 'B',
      subject: { name: 'memoryStore()', values: secondHalf },
      target: atMost(DEFAULT_MAX_ENTRIES * 100, 'growth B'),
    }),
    single({
      suite: 'memory',
      scenario: `memory store (default limits), ${DEFAULT_MAX_ENTRIES.toLocaleString('en-US')} records kept`,
      metric: 'bytes per kept record',
      unit: 'B',
      subject: { name: 'memoryStore()', values: perRecord },
    }),
    compare({
      suite: 'memory',
      scenario: 'memory store, claim + complete, direct calls',
      metric: 'records/s at the limit vs below it',
      unit: 'ops/s',
      baseline: { name: `records 1–${Math.min(DEFAULT_MAX_ENTRIES, half)}`, values: belowRate },
      subject: { name: `records ${half + 1}–${m.records} (at the limit)`, values: atLimitRate },
    }),
  ];

  const redis = await openRedis('memory');
  const redisBytes: number[] = [];
  try {
    const connection = redis.ctx.connect({ maxRetriesPerRequest: 1 });
    for (let round = 0; round < m.rounds; round++) {
      const prefix = `${redis.ctx.prefix}idem-r${round}:`;
      const store = redisStore(connection, { prefix });
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
      subject: { name: 'redisStore()', values: redisBytes },
    }),
  );
  return {
    measures,
    notes: [
      `Memory store: a fresh \`memoryStore()\` per round (defaults: ${DEFAULT_MAX_ENTRIES.toLocaleString('en-US')} records, 64 MiB), ${n} records claimed and completed through the store API with 64-hex keys and fingerprints, a UUID owner and a 1 KiB body, as the middleware stores them. Live bytes = heapUsed + arrayBuffers after two forced collections.`,
      'Bounded means: past its limit the store evicts as it inserts, so the second half adds (next to) nothing. Bytes per kept record divide the whole growth by the records the limit keeps.',
      'records/s compares the store below its limit with the store at it, in the same round: the cost of eviction per insert.',
      `Redis: ${m.redisRecords} records per round through \`redisStore\`; MEMORY USAGE (SAMPLES 0) of each record's hash, the median key per round.`,
    ],
    redis: { source: redis.ctx.source, version: redis.version },
  };
}
