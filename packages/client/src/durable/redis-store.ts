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
import { InvalidOptionError, validateOptions } from '@unfazed/contract';
import { durableRedisRule, redisStoreOptionsRule } from './options.js';
import { v7 as uuidv7 } from 'uuid';
import {
  before,
  decodeCursor,
  encodeCursor,
  matches,
  pageSize,
  type DeadLetterCursor,
} from './dead-letter-query.js';
import { DurabilityNotConfirmedError } from './errors.js';
import { hashSlot, partitionTags } from './hash-slot.js';
import { loadLuaScript } from '@unfazed/contract/internal';
import { bucket } from './memory-store.js';
import type {
  DeadLetterPage,
  DeadLetterQuery,
  DurableStore,
  HistoryEntry,
  NewOperation,
  OperationPhase,
  OperationRecord,
  QueueGauges,
  Settlement,
  StateCounts,
} from './types.js';
import type { OperationState } from '@unfazed/contract';

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
  unfazedDurableClaimAny(numberOfKeys: number, ...args: string[]): Promise<unknown[][]>;
  unfazedDurableRenew(...args: string[]): Promise<number>;
  unfazedDurableSettle(...args: string[]): Promise<number>;
  unfazedDurableRedrive(...args: string[]): Promise<number>;
  unfazedDurableDiscard(...args: string[]): Promise<number>;
  unfazedDurableGauges(...args: string[]): Promise<[string, string]>;
}

type ScriptName = keyof DurableCommands;

/** A script waiting for the next batched write. */
interface Pending {
  readonly name: ScriptName;
  readonly args: (string | number)[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Each command with its script, `lua/<name>-<numberOfKeys>.lua` (URLs written out so that a
 * bundler sees which files the module needs).
 */
const SCRIPTS: [keyof DurableCommands, number | undefined, URL][] = [
  [
    'unfazedDurableClaimAny',
    undefined,
    new URL('./lua/claim-across-partitions-2n.lua', import.meta.url),
  ],
  ['unfazedDurableCreate', 5, new URL('./lua/create-operation-5.lua', import.meta.url)],
  ['unfazedDurableClaim', 2, new URL('./lua/claim-operations-2.lua', import.meta.url)],
  ['unfazedDurableRenew', 2, new URL('./lua/renew-lease-2.lua', import.meta.url)],
  ['unfazedDurableSettle', 5, new URL('./lua/settle-operation-5.lua', import.meta.url)],
  ['unfazedDurableRedrive', 5, new URL('./lua/redrive-operation-5.lua', import.meta.url)],
  ['unfazedDurableDiscard', 5, new URL('./lua/discard-operation-5.lua', import.meta.url)],
  ['unfazedDurableGauges', 1, new URL('./lua/queue-gauges-1.lua', import.meta.url)],
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
  const { prefix, partitions, retention, waitAof } = validateOptions(
    redisStoreOptionsRule,
    options,
    where,
  );
  // The store is written against the workspace's own ioredis types; the user's client is the
  // same object at run time (ioredis 5 and 6 share these commands).
  const redis = client as unknown as Redis | Cluster;
  const tags = partitionTags(partitions);
  const isCluster = (redis as { isCluster?: boolean }).isCluster === true;

  for (const [name, numberOfKeys, file] of SCRIPTS) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') {
      const lua = loadLuaScript(file);
      redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
    }
  }
  const r = redis as unknown as DurableCommands & (Redis | Cluster);

  const base = (p: number): string => `${prefix}{${tags[p] ?? String(p)}}:`;
  const partitionOf = (id: string): number => {
    const p = Number(id.slice(id.lastIndexOf('.') + 1));
    if (!Number.isInteger(p) || p < 0 || p >= partitions) return -1;
    return p;
  };
  const keysOf = (id: string): [string, string, string, string, string] | undefined => {
    const p = partitionOf(id);
    if (p < 0) return undefined;
    const b = base(p);
    return [`${b}op:${id}`, `${b}hist:${id}`, `${b}schedule`, `${b}counts`, `${b}dlq`];
  };

  const confirmAof = async (id: string, key: string): Promise<void> => {
    if (!waitAof) return;
    const numLocal = waitAof.numLocal ?? 1;
    const numReplicas = waitAof.numReplicas ?? 0;
    const timeout = waitAof.timeout ?? 1_000;
    let node: Redis | Cluster = redis;
    if (isCluster) {
      const cluster = redis as Cluster;
      const owner = (cluster as unknown as { slots: string[][] }).slots[hashSlot(key)]?.[0];
      const found = cluster
        .nodes('master')
        .find((n) => `${n.options.host}:${n.options.port}` === owner);
      if (!found)
        throw new DurabilityNotConfirmedError(`No cluster node known for the slot of ${key}`, id);
      node = found;
    }
    let reply: unknown;
    try {
      reply = await node.call('WAITAOF', String(numLocal), String(numReplicas), String(timeout));
    } catch (error) {
      throw new DurabilityNotConfirmedError(
        `WAITAOF failed (needs Redis >= 7.2 with appendonly yes): ${error instanceof Error ? error.message : String(error)}`,
        id,
        error,
      );
    }
    const [local, replicas] = Array.isArray(reply) ? (reply as number[]) : [0, 0];
    if ((local ?? 0) < numLocal || (replicas ?? 0) < numReplicas) {
      throw new DurabilityNotConfirmedError(
        `WAITAOF confirmed ${local ?? 0} local / ${replicas ?? 0} replica fsyncs, wanted ${numLocal} / ${numReplicas}`,
        id,
      );
    }
  };

  // On a standalone Redis the scripts asked for in one turn of the event loop (e.g. the settles
  // of every attempt whose response arrived in one poll phase) go out in one write, as a
  // pipeline: one syscall and one reply parse instead of one per script. Not ioredis's
  // enableAutoPipelining: only these scripts are batched, and a lone script is sent as is.
  let pending: Pending[] = [];
  const flush = (): void => {
    const batch = pending;
    pending = [];
    const lone = batch.length === 1 ? batch[0] : undefined;
    if (lone) {
      (r[lone.name] as (...a: (string | number)[]) => Promise<unknown>)(...lone.args).then(
        lone.resolve,
        lone.reject,
      );
      return;
    }
    const pipeline = redis.pipeline() as unknown as Record<
      ScriptName,
      (...a: unknown[]) => unknown
    > & { exec(): Promise<unknown> };
    // A callback per script settles its caller as soon as its own reply is read, as a direct
    // call would, rather than after the whole batch.
    for (const q of batch)
      pipeline[q.name](...q.args, (error: Error | null, reply: unknown) => {
        if (error) q.reject(error);
        else q.resolve(reply);
      });
    pipeline.exec().catch((error: unknown) => {
      for (const q of batch) q.reject(error);
    });
  };
  const send = <T>(name: ScriptName, ...args: (string | number)[]): Promise<T> => {
    if (isCluster) return (r[name] as (...a: (string | number)[]) => Promise<T>)(...args);
    return new Promise<T>((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ name, args, resolve: resolve as (v: unknown) => void, reject });
    });
  };

  // A fresh lease token per claim: the worker's id, this store's nonce and a sequence number.
  const nonce = uuidv7().slice(-8);
  let claims = 0;
  const leaseToken = (owner: string): string => `${owner}#${nonce}.${(++claims).toString(36)}`;
  const claimArgs = (
    partition: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): string[] => {
    const b = base(partition);
    return [
      `${b}schedule`,
      `${b}counts`,
      String(limit),
      leaseToken(owner),
      String(leaseMs),
      `${b}op:`,
      `${b}hist:`,
      owner,
    ];
  };
  // The keys and key bases of a claim over every partition, per start partition (built once).
  const claimAnyKeys = new Map<number, { keys: string[]; bases: string[] }>();
  const claimAnyArgs = (
    startPartition: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): (string | number)[] => {
    let cached = claimAnyKeys.get(startPartition);
    if (!cached) {
      cached = { keys: [], bases: [] };
      for (let i = 0; i < partitions; i++) {
        const b = base((startPartition + i) % partitions);
        cached.keys.push(`${b}schedule`, `${b}counts`);
        cached.bases.push(b);
      }
      claimAnyKeys.set(startPartition, cached);
    }
    return [
      cached.keys.length,
      ...cached.keys,
      String(limit),
      leaseToken(owner),
      String(leaseMs),
      owner,
      ...cached.bases,
    ];
  };

  // A keyed operation lives in the partition its (type, key) hashes to, so it can be found again.
  const keyPartition = (type: string, key: string): number =>
    hashSlot(`${type}\u0000${key}`) % partitions;

  const store: DurableStore = {
    partitions,
    kind: isCluster ? 'redis-cluster' : 'redis',
    newId(type: string, key?: string) {
      const p =
        key !== undefined ? keyPartition(type, key) : Math.floor(Math.random() * partitions);
      return `${uuidv7()}.${p}`;
    },
    async create(n: NewOperation) {
      const id = n.id;
      const p = partitionOf(id);
      if (p < 0 || (n.key !== undefined && p !== keyPartition(n.type, n.key)))
        throw new InvalidOptionError('id', "must come from this store's newId(type, key)", id);
      const b = base(p);
      const keyIndex = n.key !== undefined ? `${b}key:${n.type}:${n.key}` : `${b}key:-`;
      const reply = await send<unknown[]>(
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
      );
      if (Number(reply[0]) === 0)
        return { created: false, record: parseRecord(reply.slice(1) as string[]) };
      await confirmAof(id, `${b}op:${id}`);
      // Redis's now when the script ran: the record's times are on its clock.
      const at = Number(reply[1]);
      const record: OperationRecord = {
        id,
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
        ...(n.owner !== undefined ? { owner: n.owner } : {}),
        ...(n.leaseUntil !== undefined ? { leaseUntil: at + (n.leaseUntil - n.now) } : {}),
      };
      return { created: true, record };
    },
    async claim(partition, _now, limit, owner, leaseMs) {
      return parseClaimed(
        await send<unknown[][]>(
          'unfazedDurableClaim',
          ...claimArgs(partition, limit, owner, leaseMs),
        ),
      );
    },
    ...(isCluster
      ? {}
      : {
          async claimAny(
            startPartition: number,
            _now: number,
            limit: number,
            owner: string,
            leaseMs: number,
          ) {
            return parseClaimed(
              await send<unknown[][]>(
                'unfazedDurableClaimAny',
                ...claimAnyArgs(startPartition, limit, owner, leaseMs),
              ),
            );
          },
        }),
    async dueCounts(now: number) {
      return Promise.all(
        tags.map((_, p) => redis.zcount(`${base(p)}schedule`, '-inf', String(now))),
      );
    },
    async renew(id, owner, leaseMs) {
      const k = keysOf(id);
      if (!k) return false;
      return (
        (await send<number>('unfazedDurableRenew', k[0], k[2], id, owner, String(leaseMs))) === 1
      );
    },
    async settle(id, owner, now, s: Settlement, entries: readonly HistoryEntry[]) {
      const k = keysOf(id);
      if (!k) return false;
      return (
        (await send<number>(
          'unfazedDurableSettle',
          ...settleArgs(k, id, owner, now, s, entries, retention),
        )) === 1
      );
    },
    async get(id) {
      const k = keysOf(id);
      if (!k) return undefined;
      const fields = await redis.hgetall(k[0]);
      if (Object.keys(fields).length === 0) return undefined;
      return fromHash(fields);
    },
    async findByKey(type, key) {
      const id = await redis.get(`${base(keyPartition(type, key))}key:${type}:${key}`);
      return id === null ? undefined : store.get(id);
    },
    async history(id) {
      const k = keysOf(id);
      if (!k) return [];
      return (await redis.lrange(k[1], 0, -1)).map((line) => JSON.parse(line) as HistoryEntry);
    },
    async redrive(id, now, dueAt, deadline, entry) {
      const k = keysOf(id);
      if (!k) return false;
      return (
        (await r.unfazedDurableRedrive(
          ...k,
          id,
          String(dueAt - now),
          String(deadline - now),
          JSON.stringify(entry),
        )) === 1
      );
    },
    async discard(id) {
      const k = keysOf(id);
      if (!k) return false;
      return (await r.unfazedDurableDiscard(...k, id)) === 1;
    },
    async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
      const limit = pageSize(query);
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const max = Math.min(query.until ?? Infinity, after?.at ?? Infinity);
      const min = query.since ?? -Infinity;
      const batch = Math.max(limit, 100);
      // A k-way merge over the partitions' dead-letter indexes, newest first.
      const cursors = Array.from({ length: partitions }, (_, p) => ({
        p,
        offset: 0,
        done: false,
        buffer: [] as DeadLetterCursor[],
      }));
      const refill = async (c: (typeof cursors)[number]): Promise<void> => {
        if (c.done || c.buffer.length > 0) return;
        const reply = await redis.zrevrangebyscore(
          `${base(c.p)}dlq`,
          max === Infinity ? '+inf' : String(max),
          min === -Infinity ? '-inf' : String(min),
          'WITHSCORES',
          'LIMIT',
          c.offset,
          batch,
        );
        c.offset += reply.length / 2;
        if (reply.length / 2 < batch) c.done = true;
        for (let i = 0; i < reply.length; i += 2) {
          const item = { id: reply[i] as string, at: Number(reply[i + 1]) };
          if (after === undefined || before(after, item)) c.buffer.push(item);
        }
      };
      const items: OperationRecord[] = [];
      let last: DeadLetterCursor | undefined;
      let more = false;
      for (;;) {
        await Promise.all(cursors.map(refill));
        let best: (typeof cursors)[number] | undefined;
        for (const c of cursors) {
          const head = c.buffer[0];
          if (head && (!best || before(head, best.buffer[0] as DeadLetterCursor))) best = c;
        }
        if (!best) break;
        const head = best.buffer.shift() as DeadLetterCursor;
        if (items.length === limit) {
          more = true;
          break;
        }
        const record = await store.get(head.id);
        if (record && matches(record, query)) {
          items.push(record);
          last = head;
        }
      }
      return more && last ? { items, cursor: encodeCursor(last) } : { items };
    },
    async counts() {
      const out: StateCounts = {};
      const all = await Promise.all(tags.map((_, p) => redis.hgetall(`${base(p)}counts`)));
      for (const fields of all) {
        for (const [field, value] of Object.entries(fields)) {
          const sep = field.indexOf(':');
          const state = field.slice(0, sep) as OperationState;
          bucket(out, field.slice(sep + 1))[state] += Number(value);
        }
      }
      return out;
    },
    async gauges(): Promise<QueueGauges> {
      const due: Record<string, number> = {};
      const inFlight: Record<string, number> = {};
      const replies = await Promise.all(
        tags.map((_, p) => r.unfazedDurableGauges(`${base(p)}schedule`, `${base(p)}op:`, '10000')),
      );
      for (const [d, f] of replies) {
        for (const [type, n] of Object.entries(JSON.parse(d) as Record<string, number>))
          due[type] = (due[type] ?? 0) + n;
        for (const [type, n] of Object.entries(JSON.parse(f) as Record<string, number>))
          inFlight[type] = (inFlight[type] ?? 0) + n;
      }
      return { due, inFlight };
    },
    async close() {
      // The connection belongs to the caller.
    },
  };
  return store;
}

function settleArgs(
  k: readonly [string, string, string, string, string],
  id: string,
  owner: string,
  now: number,
  s: Settlement,
  entries: readonly HistoryEntry[],
  retention: number,
): string[] {
  const str = (v: number | undefined): string => (v === undefined ? '' : String(v));
  const lastError =
    'lastError' in s && s.lastError !== undefined ? JSON.stringify(s.lastError) : '';
  const response = 'response' in s && s.response !== undefined ? JSON.stringify(s.response) : '';
  // Due times and lease expiries go as offsets from `now`: the script applies them to Redis's clock.
  return [
    ...k,
    id,
    owner,
    s.action,
    s.action === 'retry' || s.action === 'release' ? String(s.dueAt - now) : '',
    s.action === 'hook' ? s.phase : '',
    s.action === 'hook' ? String(s.leaseUntil - now) : '',
    s.action === 'finish' ? s.state : '',
    str(s.attempts),
    lastError,
    response,
    String(retention),
    ...entries.map((e) => JSON.stringify(e)),
  ];
}

function parseClaimed(
  reply: readonly unknown[][],
): { record: OperationRecord; takeover: boolean }[] {
  return reply.map((fields) => ({
    takeover: Number(fields[0]) === 1,
    record: parseRecord(fields.slice(1) as string[]),
  }));
}

function parseRecord(flat: readonly string[]): OperationRecord {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return fromHash(fields);
}

function fromHash(f: Record<string, string>): OperationRecord {
  const num = (k: string): number => Number(f[k] ?? 0);
  const rec: Record<string, unknown> = {
    id: f['id'],
    type: f['type'],
    input: f['input'] ?? 'null',
    state: f['state'] as OperationState,
    phase: (f['phase'] ?? 'attempt') as OperationPhase,
    attempts: num('attempts'),
    createdAt: num('createdAt'),
    updatedAt: num('updatedAt'),
    deadline: num('deadline'),
    dueAt: num('dueAt'),
  };
  if (f['key'] !== undefined) rec['key'] = f['key'];
  if (f['owner'] !== undefined) rec['owner'] = f['owner'];
  if (f['leaseUntil'] !== undefined) rec['leaseUntil'] = num('leaseUntil');
  if (f['finishedAt'] !== undefined) rec['finishedAt'] = num('finishedAt');
  if (f['lastError'] !== undefined) rec['lastError'] = JSON.parse(f['lastError']);
  if (f['response'] !== undefined) rec['response'] = JSON.parse(f['response']);
  return rec as unknown as OperationRecord;
}
