import type { Cluster, Redis } from 'ioredis';

/**
 * What {@link redisDurableStore} accepts: any ioredis `Redis` or `Cluster`, of the user's own
 * ioredis 5 or 6 copy. Typed by shape, not by ioredis's classes (their private members make two
 * installed copies, or two majors, unassignable to each other).
 */
export interface DurableRedisClient {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  pipeline(): unknown;
  call(command: string, ...args: string[]): Promise<unknown>;
}
import { InvalidOptionError, validateOptions, type OperationState } from '@unfazed/contract';
import { loadLuaScript } from '@unfazed/contract/internal';
import { v7 as uuidv7 } from 'uuid';
import { durableRedisRule, redisStoreOptionsRule } from './options.js';
import { bucket } from './memory-store.js';
import { confirmAof, type WaitAofOptions } from './redis-aof.js';
import { DeadLetterSearch } from './redis-dead-letters.js';
import { RedisKeys } from './redis-keys.js';
import { fromHash, parseClaimed, parseRecord, settleArgs } from './redis-record-codec.js';
import { BATCH_COMMAND, ScriptBatch, batchScript, closedError } from './redis-script-batch.js';
import type {
  DeadLetterPage,
  DeadLetterQuery,
  DurableStore,
  HistoryEntry,
  NewOperation,
  OperationRecord,
  QueueGauges,
  Settlement,
  StateCounts,
} from './types.js';

/** Options of {@link redisDurableStore}. */
export interface RedisDurableStoreOptions {
  /** Key prefix (no braces). Default `unfazed:durable:`. */
  readonly prefix?: string;
  /**
   * Schedule partitions, each with its own hash tag: on a cluster they spread one logical queue
   * over the shards. Every process of one queue must use the same number. Default 16.
   */
  readonly partitions?: number;
  /** How long completed operations are kept, ms. Default 86 400 000 (24 h). */
  readonly retention?: number;
  /**
   * Before `start` returns, wait until the write reached the AOF on disk (`WAITAOF`, Redis ≥ 7.2).
   * Without it, a Redis crash within the fsync interval (1 s with `appendfsync everysec`) can lose
   * an operation whose `accepted` was already returned. Unsupported servers fail the start with
   * `DurabilityNotConfirmedError` rather than silently weaken the promise.
   */
  readonly waitAof?: {
    readonly numLocal?: number;
    readonly numReplicas?: number;
    readonly timeout?: number;
  };
}

interface DurableCommands {
  unfazedDurableCreate(...args: string[]): Promise<unknown[]>;
  unfazedDurableClaim(...args: string[]): Promise<unknown[][]>;
  unfazedDurableClaimAny(...args: string[]): Promise<unknown[][]>;
  unfazedDurableRenew(...args: string[]): Promise<number>;
  unfazedDurableSettle(...args: string[]): Promise<number>;
  unfazedDurableRedrive(...args: string[]): Promise<number>;
  unfazedDurableDiscard(...args: string[]): Promise<number>;
  unfazedDurableGauges(...args: string[]): Promise<[string, string]>;
  unfazedDurableSearch(...args: string[]): Promise<unknown[]>;
  unfazedDurablePauseType(...args: string[]): Promise<number>;
  unfazedDurableOldestDue(...args: string[]): Promise<string>;
}

/**
 * Each command with its number of keys and its script, `lua/<name>-<numberOfKeys>.lua` (URLs
 * written out so that a bundler sees which files the module needs).
 */
const SCRIPTS: [keyof DurableCommands, number, URL][] = [
  ['unfazedDurableClaimAny', 0, new URL('./lua/claim-across-partitions-0.lua', import.meta.url)],
  ['unfazedDurableCreate', 5, new URL('./lua/create-operation-5.lua', import.meta.url)],
  ['unfazedDurableClaim', 2, new URL('./lua/claim-operations-2.lua', import.meta.url)],
  ['unfazedDurableRenew', 2, new URL('./lua/renew-lease-2.lua', import.meta.url)],
  ['unfazedDurableSettle', 5, new URL('./lua/settle-operation-5.lua', import.meta.url)],
  ['unfazedDurableRedrive', 5, new URL('./lua/redrive-operation-5.lua', import.meta.url)],
  ['unfazedDurableDiscard', 5, new URL('./lua/discard-operation-5.lua', import.meta.url)],
  ['unfazedDurableGauges', 1, new URL('./lua/queue-gauges-1.lua', import.meta.url)],
  ['unfazedDurableSearch', 1, new URL('./lua/search-dead-letters-1.lua', import.meta.url)],
  ['unfazedDurablePauseType', 1, new URL('./lua/pause-type-1.lua', import.meta.url)],
  ['unfazedDurableOldestDue', 1, new URL('./lua/oldest-due-1.lua', import.meta.url)],
];

/**
 * A durable store in Redis (an ioredis `Redis` or `Cluster`). Every change is one Lua script;
 * all keys of one operation share its partition's hash tag, and the schedule is split into
 * partitions with their own tags. Give workers a connection with `maxRetriesPerRequest: null`
 * and without `enableAutoPipelining`. The store never closes the connection it was given.
 */
export function redisDurableStore(
  client: DurableRedisClient,
  options?: RedisDurableStoreOptions,
): DurableStore {
  const where = { name: 'redisDurableStore' };
  validateOptions(durableRedisRule, client, { ...where, path: 'redis' });
  const resolved = validateOptions(redisStoreOptionsRule, options, where);
  // The store is written against the workspace's own ioredis types; the user's client is the
  // same object at run time (ioredis 5 and 6 share these commands).
  const redis = client as unknown as Redis | Cluster;
  return (redis as { isCluster?: boolean }).isCluster === true
    ? new RedisDurableStore(redis, resolved, true)
    : new StandaloneRedisStore(redis, resolved, false);
}

type Claimed = { record: OperationRecord; takeover: boolean }[];

/** @internal The Redis durable store; see {@link redisDurableStore}. */
class RedisDurableStore implements DurableStore {
  readonly partitions: number;
  readonly kind: 'redis' | 'redis-cluster';
  readonly #redis: Redis | Cluster;
  readonly #r: DurableCommands;
  readonly #isCluster: boolean;
  protected readonly keys: RedisKeys;
  readonly #scripts: ScriptBatch;
  readonly #retention: number;
  readonly #waitAof: WaitAofOptions | undefined;
  /** A fresh lease token per claim: the worker's id, this store's nonce and a sequence number. */
  readonly #nonce = uuidv7().slice(-8);
  #claims = 0;
  #closed = false;

  constructor(
    redis: Redis | Cluster,
    options: { prefix: string; partitions: number; retention: number; waitAof?: WaitAofOptions },
    isCluster: boolean,
  ) {
    this.#redis = redis;
    this.#isCluster = isCluster;
    this.kind = this.#isCluster ? 'redis-cluster' : 'redis';
    this.partitions = options.partitions;
    this.#retention = options.retention;
    this.#waitAof = options.waitAof;
    this.keys = new RedisKeys(options.prefix, options.partitions);
    const defined = redis as unknown as Record<string, unknown>;
    const sources = new Map<string, string>();
    const keyCounts = new Map<string, number>();
    for (const [name, numberOfKeys, file] of SCRIPTS) {
      const lua = loadLuaScript(file);
      sources.set(name, lua);
      keyCounts.set(name, numberOfKeys);
      if (typeof defined[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
    }
    if (!this.#isCluster && typeof defined[BATCH_COMMAND] !== 'function') {
      redis.defineCommand(BATCH_COMMAND, { lua: batchScript(sources) });
    }
    this.#r = redis as unknown as DurableCommands;
    this.#scripts = new ScriptBatch(redis, !this.#isCluster, keyCounts);
  }

  newId(type: string, key?: string): string {
    const p =
      key !== undefined
        ? this.keys.keyPartition(type, key)
        : Math.floor(Math.random() * this.partitions);
    return `${uuidv7()}.${p}`;
  }

  async create(n: NewOperation): Promise<{ created: boolean; record: OperationRecord }> {
    const id = n.id;
    const keys = this.keys;
    const p = keys.partitionOf(id);
    if (p < 0 || (n.key !== undefined && p !== keys.keyPartition(n.type, n.key)))
      throw new InvalidOptionError('id', "must come from this store's newId(type, key)", id);
    const b = keys.base(p);
    const keyIndex = n.key !== undefined ? `${b}key:${n.type}:${n.key}` : `${b}key:-`;
    const reply = await this.send<unknown[]>(
      'unfazedDurableCreate',
      keyIndex,
      `${b}op:${id}`,
      `${b}hist:${id}`,
      `${b}schedule`,
      `${b}counts`,
      id,
      n.type,
      n.key ?? '',
      n.input,
      String(n.deadline - n.now),
      String(n.dueAt - n.now),
      n.owner ?? '',
      n.leaseUntil !== undefined ? String(n.leaseUntil - n.now) : '',
      `${b}op:`,
      n.trace ?? '',
    );
    if (Number(reply[0]) === 0)
      return { created: false, record: parseRecord(reply.slice(1) as string[]) };
    if (this.#waitAof) {
      await confirmAof(this.#redis, this.#isCluster, this.#waitAof, id, `${b}op:${id}`);
    }
    // Redis's now when the script ran: the record's times are on its clock.
    return { created: true, record: createdRecord(n, Number(reply[1])) };
  }

  async claim(
    partition: number,
    _now: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): Promise<Claimed> {
    const args = this.keys.claimArgs(partition, limit, this.leaseToken(owner), leaseMs, owner);
    return parseClaimed(await this.send<unknown[][]>('unfazedDurableClaim', ...args));
  }

  async dueCounts(now: number): Promise<number[]> {
    const keys = this.keys;
    return Promise.all(
      keys.tags.map((_, p) => this.#conn.zcount(`${keys.base(p)}schedule`, '-inf', String(now))),
    );
  }

  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const k = this.keys.of(id);
    if (!k) return false;
    const args = [k[0], k[2], id, owner, String(leaseMs)];
    return (await this.send<number>('unfazedDurableRenew', ...args)) === 1;
  }

  async settle(
    id: string,
    owner: string,
    now: number,
    s: Settlement,
    entries: readonly HistoryEntry[],
  ): Promise<boolean> {
    const k = this.keys.of(id);
    if (!k) return false;
    const args = settleArgs(k, id, owner, now, s, entries, this.#retention);
    return (await this.send<number>('unfazedDurableSettle', ...args)) === 1;
  }

  async get(id: string): Promise<OperationRecord | undefined> {
    const k = this.keys.of(id);
    if (!k) return undefined;
    const fields = await this.#conn.hgetall(k[0]);
    if (Object.keys(fields).length === 0) return undefined;
    return fromHash(fields);
  }

  async findByKey(type: string, key: string): Promise<OperationRecord | undefined> {
    const id = await this.#conn.get(this.keys.keyIndex(type, key));
    return id === null ? undefined : this.get(id);
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const k = this.keys.of(id);
    if (!k) return [];
    return (await this.#conn.lrange(k[1], 0, -1)).map((line) => JSON.parse(line) as HistoryEntry);
  }

  async redrive(
    id: string,
    now: number,
    dueAt: number,
    deadline: number,
    entry: HistoryEntry,
    input?: string,
  ): Promise<boolean> {
    const k = this.keys.of(id);
    if (!k) return false;
    const args = [...k, id, String(dueAt - now), String(deadline - now), JSON.stringify(entry)];
    if (input !== undefined) args.push(input);
    return (await this.#cmds.unfazedDurableRedrive(...args)) === 1;
  }

  async discard(id: string): Promise<boolean> {
    const k = this.keys.of(id);
    if (!k) return false;
    return (await this.#cmds.unfazedDurableDiscard(...k, id)) === 1;
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
    const cmds = this.#cmds;
    const search = (...args: string[]): Promise<unknown[]> => cmds.unfazedDurableSearch(...args);
    return new DeadLetterSearch(this.keys, search, query).page();
  }

  async oldestDue(): Promise<Record<string, number>> {
    const keys = this.keys;
    const out: Record<string, number> = {};
    const replies = await Promise.all(
      keys.tags.map((_, p) =>
        this.#cmds.unfazedDurableOldestDue(
          `${keys.base(p)}schedule`,
          `${keys.base(p)}op:`,
          '10000',
        ),
      ),
    );
    for (const reply of replies) {
      for (const [type, at] of Object.entries(JSON.parse(reply) as Record<string, number>))
        out[type] = Math.min(out[type] ?? Infinity, at);
    }
    return out;
  }

  async pauseType(type: string): Promise<void> {
    await this.#setPaused(type, 'pause');
  }

  async resumeType(type: string): Promise<void> {
    await this.#setPaused(type, 'resume');
  }

  async pausedTypes(): Promise<string[]> {
    // Every partition holds the same set; the union covers a pause that is still being written.
    const keys = this.keys;
    const all = await Promise.all(
      keys.tags.map((_, p) => this.#conn.smembers(`${keys.base(p)}paused`)),
    );
    return [...new Set(all.flat())].sort();
  }

  async #setPaused(type: string, action: 'pause' | 'resume'): Promise<void> {
    const keys = this.keys;
    const cmds = this.#cmds;
    await Promise.all(
      keys.tags.map((_, p) =>
        cmds.unfazedDurablePauseType(`${keys.base(p)}paused`, type, action, keys.base(p)),
      ),
    );
  }

  async counts(): Promise<StateCounts> {
    const keys = this.keys;
    const out: StateCounts = {};
    const all = await Promise.all(
      keys.tags.map((_, p) => this.#conn.hgetall(`${keys.base(p)}counts`)),
    );
    for (const fields of all) {
      for (const [field, value] of Object.entries(fields)) {
        const sep = field.indexOf(':');
        const state = field.slice(0, sep) as OperationState;
        bucket(out, field.slice(sep + 1))[state] += Number(value);
      }
    }
    return out;
  }

  async gauges(): Promise<QueueGauges> {
    const keys = this.keys;
    const due: Record<string, number> = {};
    const inFlight: Record<string, number> = {};
    const replies = await Promise.all(
      keys.tags.map((_, p) =>
        this.#cmds.unfazedDurableGauges(`${keys.base(p)}schedule`, `${keys.base(p)}op:`, '10000'),
      ),
    );
    for (const [d, f] of replies) {
      for (const [type, n] of Object.entries(JSON.parse(d) as Record<string, number>))
        due[type] = (due[type] ?? 0) + n;
      for (const [type, n] of Object.entries(JSON.parse(f) as Record<string, number>))
        inFlight[type] = (inFlight[type] ?? 0) + n;
    }
    return { due, inFlight };
  }

  /**
   * Sends the scripts still waiting for the next batched write, waits for every reply, then
   * refuses every later call (`DurableStoreUnavailableError`). The connection belongs to the
   * caller and stays open.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#scripts.close();
  }

  /** The caller's connection, while this store is open. */
  get #conn(): Redis | Cluster {
    if (this.#closed) throw closedError();
    return this.#redis;
  }

  /** The scripts called directly (not batched), while this store is open. */
  get #cmds(): DurableCommands {
    if (this.#closed) throw closedError();
    return this.#r;
  }

  protected send<T>(name: keyof DurableCommands, ...args: (string | number)[]): Promise<T> {
    return this.#scripts.send<T>(name, ...args);
  }

  protected leaseToken(owner: string): string {
    return `${owner}#${this.#nonce}.${(++this.#claims).toString(36)}`;
  }
}

/**
 * @internal The store on a standalone Redis: it also claims across every partition in one script
 * (a cluster cannot: the partitions live on different shards), which builds each partition's
 * keys from the prefix and the tags rather than being sent them.
 */
class StandaloneRedisStore extends RedisDurableStore {
  async claimAny(
    startPartition: number,
    _now: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): Promise<Claimed> {
    const token = this.leaseToken(owner);
    const args = this.keys.claimAnyArgs(startPartition, limit, token, leaseMs, owner);
    return parseClaimed(await this.send<unknown[][]>('unfazedDurableClaimAny', ...args));
  }
}

/** The record `create` wrote, its times on Redis's clock (`at`, its now when the script ran). */
function createdRecord(n: NewOperation, at: number): OperationRecord {
  return {
    id: n.id,
    type: n.type,
    input: n.input,
    state: n.owner !== undefined ? 'running' : 'pending',
    phase: 'attempt',
    attempts: 0,
    createdAt: at,
    updatedAt: at,
    deadline: at + (n.deadline - n.now),
    dueAt: at + (n.dueAt - n.now),
    ...(n.key !== undefined ? { key: n.key } : {}),
    ...(n.trace !== undefined ? { trace: n.trace } : {}),
    ...(n.owner !== undefined ? { owner: n.owner } : {}),
    ...(n.leaseUntil !== undefined ? { leaseUntil: at + (n.leaseUntil - n.now) } : {}),
  };
}
