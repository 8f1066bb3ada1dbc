import { InvalidOptionError, validateOptions } from '@unfazed/contract';
import { deadLetterQueryRule } from './options.js';
import type { DeadLetterQuery, DeadLetterState, OperationRecord } from './types.js';

/** A position in the dead-letter order (newest first: finishedAt desc, then id desc). */
export interface DeadLetterCursor {
  readonly at: number;
  readonly id: string;
}

/** Encodes a cursor as an opaque string. */
export function encodeCursor(c: DeadLetterCursor): string {
  return Buffer.from(`${c.at}:${c.id}`, 'utf8').toString('base64url');
}

/** Decodes a cursor, throwing `InvalidOptionError('cursor', ...)` when it is not one of ours. */
export function decodeCursor(cursor: string): DeadLetterCursor {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const sep = text.indexOf(':');
  const at = Number(text.slice(0, sep));
  if (sep <= 0 || !Number.isFinite(at)) {
    throw new InvalidOptionError('cursor', 'must be a cursor returned by a previous page', cursor);
  }
  return { at, id: text.slice(sep + 1) };
}

/**
 * Checks a dead-letter query (a store can be called directly, not only through `durable`) and
 * returns its page size (default 50).
 * @throws {InvalidOptionError} naming the query option and the rule it broke.
 */
export function pageSize(query: DeadLetterQuery): number {
  const checked = validateOptions(deadLetterQueryRule, query, {
    name: 'listDeadLetters',
    path: 'query',
  });
  return checked.limit ?? 50;
}

/** True when `a` sorts before `b` in the dead-letter order (newest first). */
export function before(a: DeadLetterCursor, b: DeadLetterCursor): boolean {
  return a.at > b.at || (a.at === b.at && a.id > b.id);
}

/**
 * The state a record has in the dead-letter view: failed, dead, compensated, or `compensating`
 * for a saga whose compensation is stuck; undefined for anything else.
 */
export function deadLetterState(record: OperationRecord): DeadLetterState | undefined {
  switch (record.state) {
    case 'failed':
    case 'dead':
    case 'compensated':
      return record.state;
    case 'pending':
    case 'running':
      return record.phase === 'compensate' && record.saga?.stuck === true
        ? 'compensating'
        : undefined;
    default:
      return undefined;
  }
}

/** Whether a finished record matches the filters (not the cursor). */
export function matches(record: OperationRecord, query: DeadLetterQuery): boolean {
  const state = deadLetterState(record);
  if (state === undefined) return false;
  if (query.states !== undefined && !query.states.includes(state)) return false;
  if (query.type !== undefined && record.type !== query.type) return false;
  if (query.errorCode !== undefined && record.lastError?.code !== query.errorCode) return false;
  const at = record.finishedAt ?? record.updatedAt;
  if (query.since !== undefined && at < query.since) return false;
  if (query.until !== undefined && at > query.until) return false;
  if (query.status !== undefined && record.lastError?.status !== query.status) return false;
  if (query.text !== undefined && !textMatches(record, query.text, query.textIn)) return false;
  return true;
}

/** Whether `text` is in the input or the last error's message, as `textIn` says. */
export function textMatches(
  record: OperationRecord,
  text: string,
  textIn: readonly ('input' | 'error')[] = ['input'],
): boolean {
  if (textIn.includes('error') && (record.lastError?.message ?? '').includes(text)) return true;
  return textIn.includes('input') && record.input.includes(text);
}
