import type { Cluster, Redis } from 'ioredis';
import {
  before,
  decodeCursor,
  encodeCursor,
  matches,
  pageSize,
  type DeadLetterCursor,
} from './dead-letter-query.js';
import type { RedisKeys } from './redis-keys.js';
import type { DeadLetterPage, DeadLetterQuery, OperationRecord } from './types.js';

/** One partition's dead-letter index, read newest first in batches. */
interface PartitionCursor {
  readonly p: number;
  offset: number;
  done: boolean;
  readonly buffer: DeadLetterCursor[];
}

/**
 * @internal One page of dead letters: a k-way merge over the partitions' dead-letter indexes,
 * newest first, from the query's cursor on.
 */
export class DeadLetterMerge {
  readonly #limit: number;
  readonly #after: DeadLetterCursor | undefined;
  readonly #max: string;
  readonly #min: string;
  readonly #batch: number;
  readonly #cursors: PartitionCursor[];

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: RedisKeys,
    private readonly get: (id: string) => Promise<OperationRecord | undefined>,
    private readonly query: DeadLetterQuery,
  ) {
    this.#limit = pageSize(query);
    this.#after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const max = Math.min(query.until ?? Infinity, this.#after?.at ?? Infinity);
    const min = query.since ?? -Infinity;
    this.#max = max === Infinity ? '+inf' : String(max);
    this.#min = min === -Infinity ? '-inf' : String(min);
    this.#batch = Math.max(this.#limit, 100);
    this.#cursors = Array.from({ length: keys.partitions }, (_, p) => ({
      p,
      offset: 0,
      done: false,
      buffer: [],
    }));
  }

  async page(): Promise<DeadLetterPage> {
    const items: OperationRecord[] = [];
    let last: DeadLetterCursor | undefined;
    for (;;) {
      const head = await this.#next();
      if (head === undefined) break;
      if (items.length === this.#limit) {
        return last ? { items, cursor: encodeCursor(last) } : { items };
      }
      const record = await this.get(head.id);
      if (record && matches(record, this.query)) {
        items.push(record);
        last = head;
      }
    }
    return { items };
  }

  /** The newest entry left over all partitions. */
  async #next(): Promise<DeadLetterCursor | undefined> {
    await Promise.all(this.#cursors.map((c) => this.#refill(c)));
    let best: PartitionCursor | undefined;
    for (const c of this.#cursors) {
      const head = c.buffer[0];
      if (head && (!best || before(head, best.buffer[0] as DeadLetterCursor))) best = c;
    }
    return best?.buffer.shift();
  }

  async #refill(c: PartitionCursor): Promise<void> {
    if (c.done || c.buffer.length > 0) return;
    const reply = await this.redis.zrevrangebyscore(
      `${this.keys.base(c.p)}dlq`,
      this.#max,
      this.#min,
      'WITHSCORES',
      'LIMIT',
      c.offset,
      this.#batch,
    );
    c.offset += reply.length / 2;
    if (reply.length / 2 < this.#batch) c.done = true;
    for (let i = 0; i < reply.length; i += 2) {
      const item = { id: reply[i] as string, at: Number(reply[i + 1]) };
      if (this.#after === undefined || before(this.#after, item)) c.buffer.push(item);
    }
  }
}
