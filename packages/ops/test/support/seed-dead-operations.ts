import type { Redis } from 'ioredis';
// The store's key layout, to write 100 000 dead operations in seconds rather than minutes
// through the workers.
import { partitionTags } from '../../../client/src/durable/hash-slot.js';

/** Writes per pipeline while seeding. */
const BATCH = 5_000;

/**
 * Writes `count` dead operations under `prefix` (record hash + dead-letter index entry, the
 * layout the Redis durable store keeps): every 10th with error code `deadline`, half of type
 * `charge`, inputs `{ order, customer: { name: 'customer <i % 1000>' }, items }`. Returns ms.
 * A failed write throws.
 */
export async function seedDeadOperations(
  redis: Redis,
  prefix: string,
  count: number,
  partitions: number,
): Promise<number> {
  const t0 = performance.now();
  const tags = partitionTags(partitions);
  const now = Date.now();
  for (let start = 0; start < count; start += BATCH) {
    const pipe = redis.pipeline();
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const p = i % partitions;
      const base = `${prefix}{${tags[p]}}:`;
      const id = `${String(i).padStart(8, '0')}.${p}`;
      const at = now - count + i;
      const input = JSON.stringify({
        order: `order-${i}`,
        customer: { name: `customer ${i % 1000}` },
        items: [1, 2, 3],
      });
      const error = {
        code: i % 10 === 0 ? 'deadline' : 'status 404',
        message: `answered 404 for order-${i}`,
        status: 404,
        outcome: 'failed',
      };
      pipe.hset(`${base}op:${id}`, {
        id,
        type: i % 2 ? 'charge' : 'refund',
        input,
        state: 'dead',
        phase: 'attempt',
        attempts: '3',
        createdAt: String(at),
        updatedAt: String(at),
        deadline: String(at),
        dueAt: String(at),
        finishedAt: String(at),
        lastError: JSON.stringify(error),
      });
      pipe.zadd(`${base}dlq`, at, id);
    }
    const replies = (await pipe.exec()) ?? [];
    const failed = replies.find(([e]) => e);
    if (failed) throw failed[0] as Error;
  }
  return performance.now() - t0;
}
