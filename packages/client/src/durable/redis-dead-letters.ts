import {
  before,
  decodeCursor,
  encodeCursor,
  matches,
  pageSize,
  type DeadLetterCursor,
} from './dead-letter-query.js';
import type { RedisKeys } from './redis-keys.js';
import { parseRecord } from './redis-record-codec.js';
import type { DeadLetterPage, DeadLetterQuery, OperationRecord } from './types.js';

/**
 * Index entries one page reads per partition, at most: a page costs at most this many reads
 * per partition whatever the filter (16 000 with the default 16 partitions).
 */
export const SCAN_BUDGET = 1000;

/** The search script, as the store defines it (`search-dead-letters-1.lua`). */
export type SearchCommand = (dlq: string, ...args: string[]) => Promise<unknown[]>;

/**
 * @internal One page of dead letters: every partition's search script (run in Redis, filters
 * included) answers its newest matches after the cursor, reading at most {@link SCAN_BUDGET}
 * entries; the page is the newest `limit` of their merge that no partition could still beat
 * (not older than the newest position a partition stopped at). A sparse filter can give a short
 * (even empty) page with a cursor: keep paging until the cursor is absent.
 */
export class DeadLetterSearch {
  readonly #limit: number;
  readonly #after: DeadLetterCursor | undefined;

  constructor(
    private readonly keys: RedisKeys,
    private readonly search: SearchCommand,
    private readonly query: DeadLetterQuery,
  ) {
    this.#limit = pageSize(query);
    this.#after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  }

  async page(): Promise<DeadLetterPage> {
    const args = this.#args();
    const replies = await Promise.all(
      Array.from({ length: this.keys.partitions }, (_, p) => {
        const base = this.keys.base(p);
        return this.search(`${base}dlq`, `${base}op:`, ...args);
      }),
    );
    // The newest position some partition has not read past: nothing older is known complete.
    let frontier: DeadLetterCursor | undefined;
    const found: { c: DeadLetterCursor; record: OperationRecord }[] = [];
    for (const reply of replies) {
      const [exhausted, lastAt, lastId, ...flats] = reply as [
        number,
        string,
        string,
        ...string[][],
      ];
      if (Number(exhausted) === 0 && lastAt !== '') {
        const c = { at: Number(lastAt), id: lastId };
        if (frontier === undefined || before(frontier, c)) frontier = c;
      }
      for (const flat of flats) {
        const record = parseRecord(flat);
        if (!matches(record, this.query)) continue;
        found.push({ c: { at: record.finishedAt ?? record.updatedAt, id: record.id }, record });
      }
    }
    const f = frontier;
    const known = f === undefined ? found : found.filter(({ c }) => !before(f, c));
    known.sort((a, b) => (before(a.c, b.c) ? -1 : 1));
    const items = known.slice(0, this.#limit);
    const page = items.map((i) => i.record);
    const last = items[items.length - 1];
    if (items.length === this.#limit && last && (known.length > this.#limit || f !== undefined))
      return { items: page, cursor: encodeCursor(last.c) };
    // A short page with more to read: the cursor resumes after what was read.
    if (f !== undefined) return { items: page, cursor: encodeCursor(f) };
    return { items: page };
  }

  /** The script's arguments after the keys and the op prefix. */
  #args(): string[] {
    const q = this.query;
    const max = Math.min(q.until ?? Infinity, this.#after?.at ?? Infinity);
    const min = q.since ?? -Infinity;
    return [
      max === Infinity ? '+inf' : String(max),
      min === -Infinity ? '-inf' : String(min),
      this.#after ? String(this.#after.at) : '',
      this.#after ? this.#after.id : '',
      // One more than the page: a partition that has it tells the page is not the last.
      String(this.#limit + 1),
      q.states ? q.states.map((s) => `${s} `).join('') : '',
      q.type ?? '',
      q.errorCode ?? '',
      q.status !== undefined ? String(q.status) : '',
      q.text ?? '',
      (q.textIn ?? ['input']).join(' ') || 'none',
      String(SCAN_BUDGET),
    ];
  }
}
