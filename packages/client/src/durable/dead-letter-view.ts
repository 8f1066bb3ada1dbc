import { validateOptions } from '@unfazed/contract';
import type { DeadLetters, OperationDetails } from './durable.js';
import {
  deadLetterQueryRule,
  operationIdRule,
  redriveManyOptionsRule,
  redriveOptionsRule,
  redriveQueryRule,
} from './options.js';
import type { QueueContext } from './queue-context.js';
import type { DeadLetterPage, DeadLetterQuery, OperationRecord } from './types.js';

/** @internal The "message hospital" of one durable instance: failed and dead operations. */
export class DeadLetterView implements DeadLetters {
  constructor(private readonly ctx: QueueContext) {}

  readonly list = async (query?: DeadLetterQuery): Promise<DeadLetterPage> => {
    validateOptions(deadLetterQueryRule, query, { name: 'deadLetters.list', path: 'query' });
    return this.ctx.env.store.listDeadLetters(query ?? {});
  };

  async get(id: string): Promise<OperationDetails | undefined> {
    validateOptions(operationIdRule, id, { name: 'deadLetters.get', path: 'id' });
    const { store } = this.ctx.env;
    const record = await store.get(id);
    if (!record) return undefined;
    return { record, history: await store.history(id) };
  }

  async redrive(id: string, given?: { at?: number }): Promise<boolean> {
    validateOptions(operationIdRule, id, { name: 'deadLetters.redrive', path: 'id' });
    const { at } = validateOptions(redriveOptionsRule, given, { name: 'deadLetters.redrive' });
    const rec = await this.ctx.env.store.get(id);
    if (!rec) return false;
    return this.ctx.redrive(rec, at ?? this.ctx.env.now(), 'redrive');
  }

  async redriveMany(
    query: Omit<DeadLetterQuery, 'cursor' | 'limit'>,
    given?: { rate?: number; max?: number },
  ): Promise<number> {
    const where = { name: 'deadLetters.redriveMany' };
    validateOptions(redriveQueryRule, query, { ...where, path: 'query' });
    const { rate, max = Infinity } = validateOptions(redriveManyOptionsRule, given, where);
    const start = this.ctx.env.now();
    const matches = await this.#collect(query, max);
    let n = 0;
    for (const rec of matches.slice(0, max === Infinity ? undefined : max)) {
      const dueAt = start + Math.round((n * 1000) / rate);
      if (await this.ctx.redrive(rec, dueAt, 'redrive-pacing')) n++;
    }
    return n;
  }

  async discard(id: string): Promise<boolean> {
    validateOptions(operationIdRule, id, { name: 'deadLetters.discard', path: 'id' });
    return this.ctx.env.store.discard(id);
  }

  /** Collects first: redriven operations leave the view, which would shift the pages. */
  async #collect(
    query: Omit<DeadLetterQuery, 'cursor' | 'limit'>,
    max: number,
  ): Promise<OperationRecord[]> {
    const matches: OperationRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.ctx.env.store.listDeadLetters({
        ...query,
        limit: 500,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      matches.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined && matches.length < max);
    return matches;
  }
}
