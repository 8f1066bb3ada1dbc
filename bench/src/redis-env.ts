import type { Redis, RedisOptions } from 'ioredis';
import { redisTestContext, startRedisServer, type RedisTestContext } from '@unfazed/testing';

/** The Redis of a suite: the test harness's server and a key prefix of its own. */
export interface BenchRedis {
  readonly ctx: RedisTestContext;
  /** A plain client for INFO, MEMORY USAGE and cleanup. */
  readonly admin: Redis;
  readonly version: string;
  /**
   * Deletes every key under `prefix`, which must lie under the context prefix, or be it with a
   * leading `"` (a peer that keys Redis with the `Idempotency-Key` header's value as sent).
   */
  deleteKeys(prefix: string): Promise<number>;
  /** Deletes the suite's keys and quits its clients. */
  close(): Promise<void>;
}

/**
 * Opens a Redis context by the harness's rules: REDIS_URL, else 127.0.0.1:6379, else a spawned
 * redis-server. Every key a suite writes lies under `ctx.prefix`; `close()` deletes them.
 */
export async function openRedis(label: string): Promise<BenchRedis> {
  const ctx = await redisTestContext(`bench-${label}`);
  const admin = ctx.connect({ maxRetriesPerRequest: 2, connectionName: 'unfazed-bench-admin' });
  const info = await admin.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    ctx,
    admin,
    version,
    async deleteKeys(prefix: string) {
      const bare = prefix.startsWith('"') ? prefix.slice(1) : prefix;
      if (!bare.startsWith(ctx.prefix)) throw new Error(`${prefix} is outside ${ctx.prefix}`);
      let cursor = '0';
      let deleted = 0;
      do {
        const [next, keys] = await admin.scan(
          cursor,
          'MATCH',
          `${globEscape(prefix)}*`,
          'COUNT',
          1000,
        );
        cursor = next;
        if (keys.length > 0) deleted += await admin.unlink(...keys);
      } while (cursor !== '0');
      return deleted;
    },
    close: () => ctx.close(),
  };
}

/** Calls per command name from `INFO commandstats` (server-wide, scripts' inner calls included). */
export async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

/** `after - before` per command, zero entries dropped. */
export function statsDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d !== 0) out.set(name, d);
  }
  return out;
}

/** Sum of a delta's calls, optionally only of the named commands. */
export function callsOf(delta: Map<string, number>, only?: readonly string[]): number {
  let sum = 0;
  for (const [name, calls] of delta) if (!only || only.includes(name)) sum += calls;
  return sum;
}

/** Counts the commands one ioredis client sends (its round trips), by command name. */
export interface CommandCounter {
  total(): number;
  reset(): void;
}

/** Wraps `redis.sendCommand` to count what this client sends. */
export function countCommands(redis: Redis): CommandCounter {
  let total = 0;
  const target = redis as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const original = target.sendCommand;
  target.sendCommand = function (this: unknown, ...args: unknown[]) {
    total++;
    return original.apply(this, args);
  };
  return {
    total: () => total,
    reset: () => {
      total = 0;
    },
  };
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** A Redis whose INFO commandstats only the counting code touches, when one can be had. */
export interface CountingRedis {
  readonly admin: Redis;
  /** Key prefix to write under. */
  readonly prefix: string;
  /** A new client for the counted store. */
  connect(): Redis;
  /** Where the counts come from, for the notes. */
  readonly note: string;
  close(): Promise<void>;
}

/**
 * A redis-server of its own (the harness's `startRedisServer`), so that INFO commandstats
 * deltas hold the counted commands only; when none can be spawned, the shared server, where
 * other clients' commands may add to a window (the counting code flags that).
 */
export async function countingRedis(shared: BenchRedis): Promise<CountingRedis> {
  try {
    const own = await startRedisServer();
    const admin = own.connect({ maxRetriesPerRequest: 1 });
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    return {
      admin,
      prefix: 'bench:',
      connect: () => own.connect({ maxRetriesPerRequest: 1 }),
      note: `Commands were counted on a redis-server ${version} started for the count alone (no other client), so the INFO commandstats deltas are exact.`,
      close: () => own.close(),
    };
  } catch (error) {
    return {
      admin: shared.admin,
      prefix: shared.ctx.prefix,
      connect: () => shared.ctx.connect({ maxRetriesPerRequest: 1 }),
      note: `No redis-server could be started for counting (${error instanceof Error ? error.message : String(error)}): commands were counted on the shared Redis, where other clients can add to a window.`,
      close: async () => undefined,
    };
  }
}

/** A Redis a suite writes to: where, under which prefix, and how to clean up. */
export interface SuiteRedis {
  /** A plain client for INFO and checks. */
  readonly admin: Redis;
  /** Key prefix to write under. */
  readonly prefix: string;
  /** A new client (quit by the caller). */
  connect(options?: RedisOptions): Redis;
  /** Deletes every key under `prefix` (which must lie under this Redis's prefix). */
  deleteKeys(prefix: string): Promise<number>;
}

/** A redis-server of a suite's own, or the shared one, with what to say about it. */
export interface OwnRedis extends SuiteRedis {
  /** True when no other client uses this server: `used_memory` deltas are the suite's alone. */
  readonly alone: boolean;
  readonly version: string;
  readonly note: string;
  close(): Promise<void>;
}

/**
 * A redis-server started for one suite (the harness's `startRedisServer`, no persistence, gone
 * with this process), so that `INFO memory` deltas hold only what the suite wrote and nothing it
 * writes can outlive the run; the shared server under the suite's prefix when none can be spawned.
 */
export async function ownRedis(shared: BenchRedis, what: string): Promise<OwnRedis> {
  try {
    const own = await startRedisServer();
    const admin = own.connect({ maxRetriesPerRequest: 1 });
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    const prefix = 'bench:';
    return {
      admin,
      prefix,
      alone: true,
      version,
      connect: (options) => own.connect(options),
      deleteKeys: (p) => deleteUnder(admin, prefix, p),
      note: `${what} ran on a redis-server ${version} started for this suite alone (no persistence, no other client), so its used_memory deltas are this suite's writes only.`,
      close: () => own.close(),
    };
  } catch (error) {
    return {
      admin: shared.admin,
      prefix: shared.ctx.prefix,
      alone: false,
      version: shared.version,
      connect: (options) => shared.ctx.connect(options),
      deleteKeys: (p) => shared.deleteKeys(p),
      note: `No redis-server could be started for ${what} (${error instanceof Error ? error.message : String(error)}): it ran on the shared Redis, where other clients' writes can move used_memory.`,
      close: async () => undefined,
    };
  }
}

/** `INFO memory` used_memory, bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

async function deleteUnder(admin: Redis, root: string, prefix: string): Promise<number> {
  if (!prefix.startsWith(root)) throw new Error(`${prefix} is outside ${root}`);
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await admin.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
