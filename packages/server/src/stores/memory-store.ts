import { option, validateOptions, type ShapeFor } from '@unfazed/contract';
import type {
  ClaimInput,
  ClaimResult,
  CompleteInput,
  IdempotencyStore,
  OwnerInput,
  ReplayableResponse,
} from '../core/store.js';
import { IdempotencyStoreFullError } from '../errors.js';

/** Options of {@link memoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** Most records kept (in flight and completed). Default 10 000. */
  maxEntries?: number;
  /** Most bytes of stored responses (bodies and headers) kept. Default 64 MiB. */
  maxBytes?: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

const optionsRule = option
  .object(
    {
      maxEntries: option.number({ integer: true, min: 1 }).default(10_000),
      maxBytes: option.number({ integer: true, min: 1 }).default(64 * 1_048_576),
      now: option.function<() => number>().default(Date.now),
    } satisfies ShapeFor<MemoryIdempotencyStoreOptions>,
    { aliases: { maxRecords: 'maxEntries', maxSize: 'maxBytes', clock: 'now' } },
  )
  .default({});

interface MemoryRecord {
  fingerprint: string;
  /** The claim's owner while in flight; `null` once completed. */
  owner: string | null;
  /** The owner that completed the record (a repeated completion answers `true`). */
  completedBy: string | null;
  expiresAt: number;
  response: ReplayableResponse | null;
  bytes: number;
}

/**
 * An in-process store for one server or tests. Bounded: when `maxEntries` or `maxBytes` would be
 * exceeded, expired records go first, then the oldest completed ones; in-flight records are never
 * evicted (a claim that would need it fails, and the request is answered 503). Records expire
 * lazily on access and during eviction. Nothing is shared between processes: use `redisIdempotencyStore`
 * when more than one server instance answers the same keys.
 */
export function memoryIdempotencyStore(options?: MemoryIdempotencyStoreOptions): IdempotencyStore {
  const { maxEntries, maxBytes, now } = validateOptions(optionsRule, options, {
    name: 'memoryIdempotencyStore',
  });
  // Map iteration order is insertion order: oldest first.
  const records = new Map<string, MemoryRecord>();
  let bytes = 0;

  const remove = (key: string): void => {
    const rec = records.get(key);
    if (!rec) return;
    bytes -= rec.bytes;
    records.delete(key);
  };
  const fits = (entries: number, extraBytes: number): boolean =>
    records.size + entries <= maxEntries && bytes + extraBytes <= maxBytes;
  // At capacity every claim needs room, and finding it scans the records: free a batch of
  // entries per scan (1/64 of maxEntries) so that the scan runs once per batch of claims,
  // not once per claim (10 000 records walked per request with the defaults).
  const evictionBatch = Math.max(1, Math.floor(maxEntries / 64));
  // A lower bound of every record's expiresAt (every write lowers it; removals cannot make it
  // wrong): while the clock is below it no record has expired, and the walk looking for expired
  // records is skipped. Each walk sets it to the earliest expiry left, so a full store walks
  // its records for expired ones about once per lease, not once per batch.
  let soonest = -Infinity;
  const expiring = (at: number): number => {
    if (at < soonest) soonest = at;
    return at;
  };
  const makeRoom = (entries: number, extraBytes: number): boolean => {
    if (fits(entries, extraBytes)) return true;
    const want = entries > 0 ? Math.min(entries + evictionBatch - 1, maxEntries) : 0;
    const t = now();
    if (t >= soonest) {
      let left = Infinity;
      for (const [key, rec] of records) {
        // Stopped early, the records after this one were not looked at: the bound stays.
        if (fits(want, extraBytes)) return true;
        if (rec.expiresAt <= t) remove(key);
        else if (rec.expiresAt < left) left = rec.expiresAt;
      }
      soonest = left;
    }
    for (const [key, rec] of records) {
      if (fits(want, extraBytes)) return true;
      if (rec.owner === null) remove(key);
    }
    return fits(entries, extraBytes);
  };

  return {
    claim(input: ClaimInput): Promise<ClaimResult> {
      const existing = records.get(input.key);
      let recovered = false;
      if (existing) {
        const expired = existing.expiresAt <= now();
        if (!expired && existing.fingerprint !== input.fingerprint) {
          return Promise.resolve({ outcome: 'mismatch' });
        }
        if (!expired && existing.response) {
          return Promise.resolve({ outcome: 'completed', response: existing.response });
        }
        if (!expired) {
          return Promise.resolve({
            outcome: 'in-flight',
            leaseRemainingMs: existing.expiresAt - now(),
          });
        }
        recovered = existing.owner !== null;
        remove(input.key);
      }
      if (!makeRoom(1, 0)) {
        return Promise.reject(new IdempotencyStoreFullError(`${maxEntries} entries`));
      }
      records.set(input.key, {
        fingerprint: input.fingerprint,
        owner: input.owner,
        completedBy: null,
        expiresAt: expiring(now() + input.leaseMs),
        response: null,
        bytes: 0,
      });
      return Promise.resolve({ outcome: 'claimed', recovered });
    },

    complete(input: CompleteInput): Promise<boolean> {
      // An owner whose lease ran out may still complete while nobody has taken the key over;
      // so may an owner whose record is gone. A record it completed already answers true.
      let rec = records.get(input.key);
      if (rec?.response) return Promise.resolve(rec.completedBy === input.owner);
      if (rec && rec.owner !== input.owner) return Promise.resolve(false);
      const size = sizeOf(input.response);
      // Leave the claim in place while making room so that it is not evicted.
      if (size > maxBytes || !makeRoom(rec ? 0 : 1, size)) {
        remove(input.key);
        return Promise.reject(new IdempotencyStoreFullError(`${maxBytes} bytes`));
      }
      if (!rec) {
        rec = {
          fingerprint: input.fingerprint,
          owner: null,
          completedBy: null,
          expiresAt: 0,
          response: null,
          bytes: 0,
        };
        records.set(input.key, rec);
      }
      rec.owner = null;
      rec.completedBy = input.owner;
      rec.response = input.response;
      rec.bytes = size;
      rec.expiresAt = expiring(now() + input.retentionMs);
      bytes += size;
      // Re-insert so that the completed record is the newest for eviction order.
      records.delete(input.key);
      records.set(input.key, rec);
      return Promise.resolve(true);
    },

    release(input: OwnerInput): Promise<boolean> {
      const rec = records.get(input.key);
      if (!rec || rec.owner !== input.owner) return Promise.resolve(false);
      remove(input.key);
      return Promise.resolve(true);
    },

    renew(input: OwnerInput & { leaseMs: number }): Promise<boolean> {
      const rec = records.get(input.key);
      if (!rec || rec.owner !== input.owner) return Promise.resolve(false);
      rec.expiresAt = expiring(now() + input.leaseMs);
      return Promise.resolve(true);
    },
  };
}

function sizeOf(response: ReplayableResponse): number {
  let size = 64 + (response.body?.length ?? 0);
  const { headers } = response;
  // for...in: no entry arrays (the headers are a plain object of the middleware's own).
  for (const name in headers) size += name.length + (headers[name]?.length ?? 0);
  return size;
}
