/**
 * The options of every public entry point of the durable queue, declared once for the
 * contract's validator: `createDurable`, `operation`, `start`, `find`, `startWorker`, the
 * dead-letter calls and the two stores. Unknown keys are rejected with a "did you mean" hint.
 */
import { MAX_TIMER_MS, option, type OptionsOf, type ShapeFor } from '@unfazed/contract';
import { BACKOFF_ALIASES } from './client-port.js';
import type { DurableBackoffOptions } from './backoff.js';
import type { DurableClient } from './client-port.js';
import { DEFAULT_MAX_INPUT_BYTES } from './json-input.js';
import type { DurableOptions, StartOptions } from './durable.js';
import type { MemoryDurableStoreOptions } from './memory-store.js';
import type { RedisDurableStoreOptions } from './redis-store.js';
import type { OperationDefinition } from './run.js';
import type { DeadLetterQuery, DurableClock, DurableStore } from './types.js';
import type { WorkerOptions } from './worker.js';

const ms = option.duration();
const msOrZero = option.duration({ zero: true });
const positiveInt = option.number({ integer: true, min: 1 });
/** The largest input: at most 512 MiB, the largest string Redis stores. */
const inputBytes = option.number({ integer: true, min: 1, max: 536_870_912 });
/** Deadlines and retention are compared with clocks, not waited for by one timer. */
const span = option.number({ above: 0 });

/** Every backoff key, each optional: layers (client, `createDurable`, definition) are merged. */
export const backoffRule = option.object(
  {
    initialMs: msOrZero.optional(),
    exponent: option.number({ min: 1 }).optional(),
    maxMs: msOrZero.optional(),
    jitter: option.oneOf(['full', 'equal', 'none']).optional(),
  } satisfies ShapeFor<DurableBackoffOptions>,
  { aliases: BACKOFF_ALIASES },
);

/** A merged backoff with its defaults: 1 s × 2 capped at 5 min, `equal` jitter. */
export const resolvedBackoffRule = option
  .object(
    {
      initialMs: msOrZero.default(1_000),
      exponent: option.number({ min: 1 }).default(2),
      maxMs: msOrZero.default(300_000),
      jitter: option.oneOf(['full', 'equal', 'none']).default('equal'),
    },
    { aliases: BACKOFF_ALIASES },
  )
  .refine((b, fail) =>
    b.maxMs < b.initialMs ? fail('maxMs', `must be at least initialMs (${b.initialMs})`) : b,
  );

/** Operations per store call: `create`, `claim`, `settle` and `get` are enough to tell. */
const STORE_METHODS = ['newId', 'create', 'claim', 'settle', 'get'];

/** A clock: `now()` in epoch ms. */
const clockRule = option.instance<DurableClock>('a clock with a now() method', ['now']);

/** The options of `createDurable`. */
export const durableOptionsRule = option.object(
  {
    client: option.instance<DurableClient>(
      'a client with an attempt() method (use createClient())',
      ['attempt'],
    ),
    store: option
      .instance<DurableStore>(
        'a durable store (redisDurableStore(redis) or memoryDurableStore())',
        STORE_METHODS,
      )
      .optional(),
    leaseMs: ms.default(30_000),
    attemptTimeout: ms.optional(),
    deadline: span.default(86_400_000),
    backoff: backoffRule.optional(),
    storeTimeout: ms.default(5_000),
    maxResponseBytes: positiveInt.default(65_536),
    maxInputBytes: inputBytes.default(DEFAULT_MAX_INPUT_BYTES),
    probeJitter: msOrZero.default(1_000),
    random: option.function<() => number>().optional(),
    clock: clockRule.optional(),
  } satisfies ShapeFor<DurableOptions>,
  {
    aliases: {
      storeTimeoutMs: 'storeTimeout',
      attemptTimeoutMs: 'attemptTimeout',
      deadlineMs: 'deadline',
      probeJitterMs: 'probeJitter',
      lease: 'leaseMs',
    },
  },
);

/** The durable options after validation. */
export type ResolvedDurableOptions = OptionsOf<typeof durableOptionsRule>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** An operation type's name. */
export const operationNameRule = option.string({
  test: { check: NAME, rule: 'a name matching /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/' },
});

/** The definition given to `durable.operation(name, definition)`, with the instance's defaults. */
export function definitionRule(defaults: {
  deadline: number;
  attemptTimeout: number;
  maxInputBytes: number;
}) {
  return option.object({
    request: option.function<OperationDefinition<unknown>['request']>(
      'a function building the request from the input',
    ),
    deadline: span.default(defaults.deadline),
    maxAttempts: positiveInt.optional(),
    backoff: backoffRule.optional(),
    attemptTimeout: ms.default(defaults.attemptTimeout),
    wait: msOrZero.default(2_000),
    maxInputBytes: inputBytes.default(defaults.maxInputBytes),
    onSuccess: option.function<NonNullable<OperationDefinition<unknown>['onSuccess']>>().optional(),
    onGiveUp: option.function<NonNullable<OperationDefinition<unknown>['onGiveUp']>>().optional(),
  } satisfies ShapeFor<OperationDefinition<unknown>>);
}

/** An idempotency key of `start` and `find`. */
export const startKeyRule = option.string({ nonEmpty: true, maxLength: 255 });

/** The options of `op.start(input, options)`. */
export const startOptionsRule = option
  .object(
    { key: startKeyRule.optional(), wait: msOrZero.optional() } satisfies ShapeFor<StartOptions>,
    { aliases: { idempotencyKey: 'key', timeout: 'wait' } },
  )
  .default({});

/** An operation id (`status`, `deadLetters.get`, `redrive`, `discard`). */
export const operationIdRule = option.string({ nonEmpty: true, maxLength: 1_024 });

/** The options of `deadLetters.redrive(id, options)`: `at` is epoch ms, `input` an edited input. */
export const redriveOptionsRule = option
  .object({ at: option.number({ min: 0 }).optional(), input: option.unknown().optional() })
  .default({});

/** The options of `deadLetters.redriveMany(query, options)`. */
export const redriveManyOptionsRule = option
  .object({ rate: option.number({ above: 0 }).default(10), max: positiveInt.optional() })
  .default({});

const queryShape = {
  states: option.array(option.oneOf(['failed', 'dead', 'compensated', 'compensating'])).optional(),
  type: option.string().optional(),
  errorCode: option.string().optional(),
  since: option.number().optional(),
  until: option.number().optional(),
  status: option.number({ integer: true, min: 100, max: 599 }).optional(),
  text: option.string().optional(),
  textIn: option.array(option.oneOf(['input', 'error'])).optional(),
  limit: option.number({ integer: true, min: 1, max: 1_000 }).optional(),
  cursor: option.string({ nonEmpty: true }).optional(),
} satisfies ShapeFor<DeadLetterQuery>;

/** The query of `deadLetters.list(query)`. */
export const deadLetterQueryRule = option.object(queryShape).default({});

/** The query of `deadLetters.redriveMany(query)`: every page, so no `limit` or `cursor`. */
export const redriveQueryRule = option.object({
  states: queryShape.states,
  type: queryShape.type,
  errorCode: queryShape.errorCode,
  since: queryShape.since,
  until: queryShape.until,
  status: queryShape.status,
  text: queryShape.text,
  textIn: queryShape.textIn,
});

/** The options of `durable.startWorker(options)`. */
export const workerOptionsRule = option
  .object(
    {
      concurrency: positiveInt.default(8),
      pollInterval: option.number({ min: 1, max: MAX_TIMER_MS }).default(250),
      targetConcurrency: positiveInt.optional(),
      name: option.string({ nonEmpty: true }).optional(),
    } satisfies ShapeFor<WorkerOptions>,
    { aliases: { pollIntervalMs: 'pollInterval', parallelism: 'concurrency' } },
  )
  .default({});

/** The options of `worker.stop(options)`. */
export const stopOptionsRule = option.object({ timeout: msOrZero.default(30_000) }).default({});

/** Worker options after validation. */
export type ResolvedWorkerOptions = OptionsOf<typeof workerOptionsRule>;

/** The options of `memoryDurableStore(options)`. */
export const memoryStoreOptionsRule = option
  .object(
    {
      retention: option.number({ min: 0 }).default(86_400_000),
      clock: clockRule.optional(),
    } satisfies ShapeFor<MemoryDurableStoreOptions>,
    { aliases: { retentionMs: 'retention', ttl: 'retention' } },
  )
  .default({});

/** The ioredis connection given to `redisDurableStore(redis)`. */
export const durableRedisRule = option.instance<object>(
  'an ioredis Redis or Cluster client (pass the client, not a URL)',
  ['defineCommand', 'evalsha'],
);

/** The options of `redisDurableStore(redis, options)`. */
export const redisStoreOptionsRule = option
  .object(
    {
      prefix: option
        .string({
          test: {
            check: /^[^{}]*$/,
            rule: 'a string without "{" or "}" (the store adds the Cluster hash tags itself)',
          },
        })
        .default('unfazed:durable:'),
      partitions: option.number({ integer: true, min: 1, max: 1024 }).default(16),
      retention: positiveInt.default(86_400_000),
      waitAof: option
        .object({
          numLocal: option.number({ integer: true, min: 0 }).optional(),
          numReplicas: option.number({ integer: true, min: 0 }).optional(),
          timeout: option.number({ integer: true, min: 0, max: MAX_TIMER_MS }).optional(),
        } satisfies ShapeFor<NonNullable<RedisDurableStoreOptions['waitAof']>>)
        .optional(),
    } satisfies ShapeFor<RedisDurableStoreOptions>,
    { aliases: { retentionMs: 'retention', ttl: 'retention', keyPrefix: 'prefix' } },
  )
  .default({});
