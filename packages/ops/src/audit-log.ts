import type { BulkRedriveFilter } from './bulk-redrive.js';

/** The actions the console records (every state-changing route). */
export type AuditAction =
  'redrive' | 'discard' | 'bulk-redrive' | 'cancel-bulk-redrive' | 'pause' | 'resume';

/** One line of the audit log, as written (the log adds `id` and `at`). */
export interface NewAuditEntry {
  /** Who, as `authorize` named them. */
  readonly who: string;
  readonly action: AuditAction;
  /** The operation id (redrive, discard). */
  readonly operationId?: string;
  /** The operation type (pause, resume). */
  readonly type?: string;
  /** The bulk redrive job (bulk-redrive, cancel-bulk-redrive). */
  readonly jobId?: string;
  /** The filter of a bulk redrive. */
  readonly filter?: BulkRedriveFilter;
  /** Operations concerned (a bulk redrive: how many matched and were queued to redrive). */
  readonly count: number;
  readonly reason: string;
  /** The edited input of a redrive, redacted. */
  readonly input?: unknown;
}

/** One line of the audit log. */
export interface AuditEntry extends NewAuditEntry {
  /** Opaque, increasing. */
  readonly id: string;
  /** Epoch ms. */
  readonly at: number;
}

/** One page of the audit log, newest first. */
export interface AuditPage {
  readonly items: readonly AuditEntry[];
  /** Pass back for the next (older) page; absent on the last page. */
  readonly cursor?: string;
}

/**
 * Where the console writes what operators did: `redisAuditLog(redis)` or `memoryAuditLog()`.
 * Implement it to send the audit elsewhere.
 */
export interface OpsAuditLog {
  /** Appends an entry; resolves once it is stored. */
  append(entry: NewAuditEntry, at: number): Promise<AuditEntry>;
  /** Entries newest first, `limit` a page, from `cursor` (a previous page's) on. */
  list(query: { readonly cursor?: string; readonly limit: number }): Promise<AuditPage>;
}

/** Options of {@link memoryAuditLog}. */
export interface MemoryAuditLogOptions {
  /** Entries kept (the oldest are dropped). Default 10 000. */
  readonly maxEntries?: number;
}

/**
 * An audit log in this process's memory (for the memory durable store, tests and development):
 * lost on restart, the newest `maxEntries` kept.
 */
export function memoryAuditLog(options?: MemoryAuditLogOptions): OpsAuditLog {
  return new MemoryAuditLog(options?.maxEntries ?? 10_000);
}

/** @internal See {@link memoryAuditLog}. */
class MemoryAuditLog implements OpsAuditLog {
  readonly #entries: AuditEntry[] = [];
  #seq = 0;

  constructor(private readonly max: number) {}

  async append(entry: NewAuditEntry, at: number): Promise<AuditEntry> {
    const stored: AuditEntry = { ...structuredClone(entry), id: String(++this.#seq), at };
    this.#entries.push(stored);
    if (this.#entries.length > this.max) this.#entries.shift();
    return structuredClone(stored);
  }

  async list(query: { readonly cursor?: string; readonly limit: number }): Promise<AuditPage> {
    const below = query.cursor === undefined ? Infinity : Number(query.cursor);
    const older = this.#entries.filter((e) => Number(e.id) < below).reverse();
    const items = older.slice(0, query.limit).map((e) => structuredClone(e));
    const last = items[items.length - 1];
    return older.length > query.limit && last ? { items, cursor: last.id } : { items };
  }
}
