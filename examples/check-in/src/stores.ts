import { Redis } from 'ioredis';
import { memoryDurableStore, redisDurableStore, type DurableStore } from '@unfazed/client/durable';
import {
  memoryIdempotencyStore,
  redisIdempotencyStore,
  type IdempotencyStore,
} from '@unfazed/server';
import { PREFIXES } from './config.js';
import { memoryCreditLedger, redisCreditLedger, type CreditLedger } from './credit-ledger.js';

/** Schedule partitions of the durable Redis stores: every process of one run must agree. */
export const PARTITIONS = 2;

/** Every store of one run: in memory, or in Redis under one prefix. */
export interface Stores {
  readonly kind: 'memory' | 'redis';
  readonly checkInQueue: DurableStore;
  readonly paymentQueue: DurableStore;
  readonly outputKeys: IdempotencyStore;
  readonly cardKeys: IdempotencyStore;
  readonly paymentKeys: IdempotencyStore;
  /** The payment service's own database: customer credit, written by the payment saga. */
  readonly credit: CreditLedger;
  /** Deletes every key the run wrote (Redis) and closes the connections. */
  close(): Promise<void>;
}

/** The in-memory stores: one process, nothing survives it. */
export function memoryStores(initialCredit: number): Stores {
  return {
    kind: 'memory',
    checkInQueue: memoryDurableStore(),
    paymentQueue: memoryDurableStore(),
    outputKeys: memoryIdempotencyStore(),
    cardKeys: memoryIdempotencyStore(),
    paymentKeys: memoryIdempotencyStore(),
    credit: memoryCreditLedger(initialCredit),
    close: () => Promise.resolve(),
  };
}

/** A durable-queue connection as the client README asks for it (no retry limit, no auto-pipelining). */
export function queueConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
}

/** The Redis stores, every key under `prefix`. Fails with a clear message when Redis does not answer. */
export async function redisStores(
  url: string,
  prefix: string,
  initialCredit: number,
): Promise<Stores> {
  const queue = queueConnection(url);
  const keys = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await Promise.race([
      Promise.all([queue.connect(), keys.connect()]),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('no answer within 3 s')), 3_000).unref(),
      ),
    ]);
  } catch (error) {
    queue.disconnect();
    keys.disconnect();
    throw new Error(
      `cannot reach Redis at ${url} (REDIS_URL): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const listKeys = async (): Promise<string[]> => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await keys.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  };
  return {
    kind: 'redis',
    checkInQueue: redisDurableStore(queue, {
      prefix: `${prefix}${PREFIXES.checkInQueue}`,
      partitions: PARTITIONS,
    }),
    paymentQueue: redisDurableStore(queue, {
      prefix: `${prefix}${PREFIXES.paymentQueue}`,
      partitions: PARTITIONS,
    }),
    outputKeys: redisIdempotencyStore(keys, { prefix: `${prefix}${PREFIXES.outputKeys}` }),
    cardKeys: redisIdempotencyStore(keys, { prefix: `${prefix}${PREFIXES.cardKeys}` }),
    paymentKeys: redisIdempotencyStore(keys, { prefix: `${prefix}${PREFIXES.paymentKeys}` }),
    credit: redisCreditLedger(keys, `${prefix}${PREFIXES.credit}`, initialCredit),
    async close() {
      const found = await listKeys();
      for (let i = 0; i < found.length; i += 500) await keys.unlink(...found.slice(i, i + 500));
      await Promise.allSettled([queue.quit(), keys.quit()]);
    },
  };
}
