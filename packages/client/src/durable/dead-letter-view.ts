import { InvalidOptionError, validateOptions } from '@unfazed/contract';
import { serialiseInput } from './json-input.js';
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

  async redrive(id: string, given?: { at?: number; input?: unknown }): Promise<boolean> {
    const where = { name: 'deadLetters.redrive' };
    validateOptions(operationIdRule, id, { ...where, path: 'id' });
    const o = validateOptions(redriveOptionsRule, given, where);
    const rec = await this.ctx.env.store.get(id);
    if (!rec) return false;
    let input: string | undefined;
    if (given !== undefined && 'input' in given) {
      // Checked as `start` checks an input, against the type's own limit.
      const t = this.ctx.types.get(rec.type);
      if (!t) {
        throw new InvalidOptionError(
          'input',
          `cannot be checked: the type '${rec.type}' is not defined in this durable instance`,
          given.input,
          { factory: where.name },
        );
      }
      input = serialiseInput(rec.type, given.input, t.maxInputBytes);
    }
    return this.ctx.redrive(rec, o.at ?? this.ctx.env.now(), 'redrive', input);
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
