import { v7 as uuidv7 } from 'uuid';
import { InvalidOptionError, validateOptions, type OperationState } from '@unfazed/contract';
import { before, decodeCursor, encodeCursor, matches, pageSize } from './dead-letter-query.js';
import { DurableStoreUnavailableError } from './errors.js';
import { memoryStoreOptionsRule } from './options.js';
import type {
  DeadLetterPage,
  DeadLetterQuery,
  DurableClock,
  DurableStore,
  HistoryEntry,
  NewOperation,
  OperationRecord,
  QueueGauges,
  Settlement,
  StateCounts,
} from './types.js';

/** Options of {@link memoryDurableStore}. */
export interface MemoryDurableStoreOptions {
  /** How long completed operations are kept, ms. Default 86 400 000 (24 h). */
  readonly retention?: number;
  /**
   * The clock of lease renewals (the only time the store reads itself; every other time comes
   * from the caller). Default `Date`; `createDurable` gives its own default store its clock.
   */
  readonly clock?: DurableClock;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** States `discard` deletes: what the dead-letter view holds once it has finished. */
const DISCARDABLE: ReadonlySet<OperationState> = new Set(['failed', 'dead', 'compensated']);

/**
 * A durable store in this process's memory: the same semantics as the Redis store within one
 * process, and nothing survives a restart. Meant for tests, development and callers that only
 * want the 200/202 flow with in-process retries.
 */
export function memoryDurableStore(options?: MemoryDurableStoreOptions): DurableStore {
  const { retention, clock } = validateOptions(memoryStoreOptionsRule, options, {
    name: 'memoryDurableStore',
  });
  return new MemoryDurableStore(retention, clock ?? Date);
}

type Claimed = { record: OperationRecord; takeover: boolean }[];

/** @internal The in-memory durable store; see {@link memoryDurableStore}. */
class MemoryDurableStore implements DurableStore {
  readonly partitions = 1;
  readonly kind = 'memory';
  readonly #ops = new Map<string, Mutable<OperationRecord>>();
  readonly #histories = new Map<string, HistoryEntry[]>();
  /** The (type, key) index of keyed operations. */
  readonly #keys = new Map<string, string>();
  readonly #completedCount = new Map<string, number>();
  /** When completed operations are dropped (after `retention`). */
  readonly #expiry = new Map<string, number>();
  /** Types whose pending operations are not leased (`pauseType`). */
  readonly #paused = new Set<string>();
  /** A fresh lease token per claim, as the Redis store gives: the worker's id and a sequence number. */
  #claims = 0;
  #closed = false;

  constructor(
    private readonly retention: number,
    private readonly clock: DurableClock,
  ) {}

  newId(): string {
    return uuidv7();
  }

  async create(n: NewOperation): Promise<{ created: boolean; record: OperationRecord }> {
    this.#assertOpen();
    this.#sweep(n.now);
    if (n.key !== undefined) {
      const existing = this.#keys.get(indexKey(n.type, n.key));
      const op = existing === undefined ? undefined : this.#ops.get(existing);
      if (op) return { created: false, record: this.#copy(op) };
    }
    const id = n.id;
    if (this.#ops.has(id)) throw new InvalidOptionError('id', 'is already taken', id);
    const op: Mutable<OperationRecord> = {
      id,
      type: n.type,
      input: n.input,
      state: n.owner === undefined ? 'pending' : 'running',
      phase: 'attempt',
      attempts: 0,
      createdAt: n.now,
      updatedAt: n.now,
      deadline: n.deadline,
      dueAt: n.dueAt,
    };
    if (n.key !== undefined) op.key = n.key;
    if (n.trace !== undefined) op.trace = n.trace;
    if (n.owner !== undefined) op.owner = n.owner;
    if (n.leaseUntil !== undefined) op.leaseUntil = n.leaseUntil;
    this.#ops.set(id, op);
    this.#histories.set(id, []);
    if (n.key !== undefined) this.#keys.set(indexKey(n.type, n.key), id);
    return { created: true, record: this.#copy(op) };
  }

  async claim(
    _partition: number,
    now: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): Promise<Claimed> {
    this.#assertOpen();
    this.#sweep(now);
    const due = [...this.#ops.values()]
      .filter(
        (op) =>
          (op.state === 'pending' && op.dueAt <= now && !this.#paused.has(op.type)) ||
          (op.state === 'running' && (op.leaseUntil ?? 0) <= now),
      )
      .sort((a, b) => score(a) - score(b))
      .slice(0, limit);
    const token = `${owner}#${(++this.#claims).toString(36)}`;
    return due.map((op) => {
      const takeover = op.state === 'running';
      if (takeover) {
        this.#histories.get(op.id)?.push({
          at: now,
          kind: 'lease-expired',
          worker: owner,
          note: `lease of ${op.owner ?? '?'} expired`,
        });
      }
      op.state = 'running';
      op.owner = token;
      op.leaseUntil = now + leaseMs;
      op.updatedAt = now;
      return { record: this.#copy(op), takeover };
    });
  }

  async claimAny(
    _start: number,
    now: number,
    limit: number,
    owner: string,
    leaseMs: number,
  ): Promise<Claimed> {
    this.#assertOpen();
    return this.claim(0, now, limit, owner, leaseMs);
  }

  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    this.#assertOpen();
    const op = this.#ops.get(id);
    if (!op || !this.#leased(op, owner)) return false;
    op.leaseUntil = this.clock.now() + leaseMs;
    return true;
  }

  async settle(
    id: string,
    owner: string,
    now: number,
    s: Settlement,
    entries: readonly HistoryEntry[],
  ): Promise<boolean> {
    this.#assertOpen();
    const op = this.#ops.get(id);
    if (!op || !this.#leased(op, owner)) return false;
    this.#histories.get(id)?.push(...entries);
    op.updatedAt = now;
    if (s.saga !== undefined) op.saga = structuredClone(s.saga);
    if (s.action === 'hook') {
      op.phase = s.phase;
      op.attempts = s.attempts;
      op.leaseUntil = s.leaseUntil;
      if (s.lastError !== undefined) op.lastError = s.lastError;
      if (s.response !== undefined) op.response = s.response;
    } else if (s.action === 'finish') {
      op.state = s.state;
      op.phase = 'attempt';
      if (s.attempts !== undefined) op.attempts = s.attempts;
      if (s.lastError !== undefined) op.lastError = s.lastError;
      if (s.response !== undefined) op.response = s.response;
      op.finishedAt = now;
      delete op.owner;
      delete op.leaseUntil;
      if (s.state === 'completed') {
        this.#completedCount.set(op.type, (this.#completedCount.get(op.type) ?? 0) + 1);
        this.#expiry.set(id, now + this.retention);
      }
    } else {
      op.state = 'pending';
      op.dueAt = s.dueAt;
      op.attempts = s.attempts;
      delete op.owner;
      delete op.leaseUntil;
      if (s.lastError !== undefined) op.lastError = s.lastError;
    }
    return true;
  }

  async get(id: string): Promise<OperationRecord | undefined> {
    this.#assertOpen();
    const op = this.#ops.get(id);
    return op ? this.#copy(op) : undefined;
  }

  async findByKey(type: string, key: string): Promise<OperationRecord | undefined> {
    this.#assertOpen();
    const id = this.#keys.get(indexKey(type, key));
    const op = id === undefined ? undefined : this.#ops.get(id);
    return op ? this.#copy(op) : undefined;
  }

  async history(id: string): Promise<HistoryEntry[]> {
    this.#assertOpen();
    return structuredClone(this.#histories.get(id) ?? []);
  }

  async redrive(
    id: string,
    now: number,
    dueAt: number,
    deadline: number,
    entry: HistoryEntry,
    input?: string,
  ): Promise<boolean> {
    this.#assertOpen();
    const op = this.#ops.get(id);
    if (!op || (op.state !== 'failed' && op.state !== 'dead')) return false;
    if (input !== undefined) op.input = input;
    op.state = 'pending';
    op.phase = 'attempt';
    op.dueAt = dueAt;
    op.deadline = deadline;
    op.updatedAt = now;
    delete op.finishedAt;
    this.#histories.get(id)?.push(entry);
    return true;
  }

  async discard(id: string): Promise<boolean> {
    this.#assertOpen();
    const op = this.#ops.get(id);
    if (!op || !DISCARDABLE.has(op.state)) return false;
    this.#ops.delete(id);
    this.#histories.delete(id);
    if (op.key !== undefined) this.#keys.delete(indexKey(op.type, op.key));
    return true;
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
    this.#assertOpen();
    const limit = pageSize(query);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const all = [...this.#ops.values()]
      .filter((op) => matches(op, query))
      .map((op) => ({ op, c: { at: op.finishedAt ?? op.updatedAt, id: op.id } }))
      .filter(({ c }) => after === undefined || before(after, c))
      .sort((a, b) => (before(a.c, b.c) ? -1 : 1));
    const items = all.slice(0, limit);
    const last = items[items.length - 1];
    return all.length > limit && last
      ? { items: items.map(({ op }) => this.#copy(op)), cursor: encodeCursor(last.c) }
      : { items: items.map(({ op }) => this.#copy(op)) };
  }

  async counts(): Promise<StateCounts> {
    this.#assertOpen();
    const out: StateCounts = {};
    for (const op of this.#ops.values()) {
      if (op.state === 'completed') continue;
      bucket(out, op.type)[op.state] += 1;
    }
    for (const [type, n] of this.#completedCount) bucket(out, type).completed = n;
    return out;
  }

  async gauges(now: number): Promise<QueueGauges> {
    this.#assertOpen();
    const due: Record<string, number> = {};
    const inFlight: Record<string, number> = {};
    for (const op of this.#ops.values()) {
      if (op.state === 'pending' && op.dueAt <= now) due[op.type] = (due[op.type] ?? 0) + 1;
      if (op.state === 'running' && (op.leaseUntil ?? 0) > now)
        inFlight[op.type] = (inFlight[op.type] ?? 0) + 1;
    }
    return { due, inFlight };
  }

  async oldestDue(now: number): Promise<Record<string, number>> {
    this.#assertOpen();
    const out: Record<string, number> = {};
    for (const op of this.#ops.values()) {
      if (op.state !== 'pending' || op.dueAt > now || this.#paused.has(op.type)) continue;
      out[op.type] = Math.min(out[op.type] ?? Infinity, op.dueAt);
    }
    return out;
  }

  async pauseType(type: string): Promise<void> {
    this.#assertOpen();
    this.#paused.add(type);
  }

  async resumeType(type: string): Promise<void> {
    this.#assertOpen();
    this.#paused.delete(type);
  }

  async pausedTypes(): Promise<string[]> {
    this.#assertOpen();
    return [...this.#paused].sort();
  }

  /**
   * Drops every operation and history this store holds, and refuses every later call
   * (`DurableStoreUnavailableError`): a memory store's operations do not outlive it.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#ops.clear();
    this.#histories.clear();
    this.#keys.clear();
    this.#completedCount.clear();
    this.#expiry.clear();
    this.#paused.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new DurableStoreUnavailableError('The durable store was closed');
  }

  #sweep(now: number): void {
    for (const [id, at] of this.#expiry) {
      if (at > now) continue;
      const op = this.#ops.get(id);
      this.#expiry.delete(id);
      if (!op) continue;
      this.#ops.delete(id);
      this.#histories.delete(id);
      if (op.key !== undefined) this.#keys.delete(indexKey(op.type, op.key));
    }
  }

  #copy(op: OperationRecord): OperationRecord {
    return structuredClone(op);
  }

  #leased(op: OperationRecord, owner: string): boolean {
    return op.state === 'running' && op.owner === owner;
  }
}

function indexKey(type: string, key: string): string {
  return `${type}\u0000${key}`;
}

function score(op: OperationRecord): number {
  return op.state === 'running' ? (op.leaseUntil ?? 0) : op.dueAt;
}

/** A zeroed per-state counter for `type`. */
export function bucket(out: StateCounts, type: string): Record<OperationState, number> {
  return (out[type] ??= {
    pending: 0,
    running: 0,
    completed: 0,
    failed: 0,
    dead: 0,
    compensating: 0,
    compensated: 0,
  });
}
