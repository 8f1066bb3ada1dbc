import type { AuditEntry, AuditPage, NewAuditEntry, OpsAuditLog } from './audit-log.js';

/**
 * What {@link redisAuditLog} needs of an ioredis `Redis` or `Cluster` (typed by shape, so the
 * user's own ioredis 5 or 6 fits).
 */
export interface AuditRedisClient {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
}

/** Options of {@link redisAuditLog}. */
export interface RedisAuditLogOptions {
  /** Key prefix; the log is the stream `<prefix>audit`. Default `unfazed:ops:`. */
  readonly prefix?: string;
  /** Entries kept, about (`XADD ... MAXLEN ~`). Default 100 000. */
  readonly maxEntries?: number;
}

/**
 * The audit log in a Redis stream (`<prefix>audit`): one `XADD` per action, trimmed to about
 * `maxEntries`, read newest first with `XREVRANGE`. Its ids are the cursor.
 */
export function redisAuditLog(
  redis: AuditRedisClient,
  options?: RedisAuditLogOptions,
): OpsAuditLog {
  return new RedisAuditLog(
    redis,
    `${options?.prefix ?? 'unfazed:ops:'}audit`,
    options?.maxEntries ?? 100_000,
  );
}

/** @internal See {@link redisAuditLog}. */
class RedisAuditLog implements OpsAuditLog {
  constructor(
    private readonly redis: AuditRedisClient,
    private readonly key: string,
    private readonly max: number,
  ) {}

  async append(entry: NewAuditEntry, at: number): Promise<AuditEntry> {
    const body = JSON.stringify({ ...entry, at });
    const args = [this.key, 'MAXLEN', '~', this.max, '*', 'entry', body];
    const id = (await this.redis.call('XADD', ...args)) as string;
    return { ...(JSON.parse(body) as NewAuditEntry & { at: number }), id };
  }

  async list(query: { readonly cursor?: string; readonly limit: number }): Promise<AuditPage> {
    const end = query.cursor === undefined ? '+' : `(${query.cursor}`;
    const reply = (await this.redis.call(
      'XREVRANGE',
      this.key,
      end,
      '-',
      'COUNT',
      query.limit + 1,
    )) as [string, string[]][];
    const items = reply.slice(0, query.limit).map(([id, fields]) => {
      const body = fields[fields.indexOf('entry') + 1] ?? '{}';
      return { ...(JSON.parse(body) as NewAuditEntry & { at: number }), id };
    });
    const last = items[items.length - 1];
    return reply.length > query.limit && last ? { items, cursor: last.id } : { items };
  }
}
