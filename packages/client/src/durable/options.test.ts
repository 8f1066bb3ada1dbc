import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { isInvalidOptionError, type InvalidOptionError } from '@unfazed/contract';
import { createClient } from '../client.js';
import { createDurable, type Durable } from './durable.js';
import { memoryDurableStore } from './memory-store.js';
import { redisDurableStore } from './redis-store.js';

/** The InvalidOptionError `run` throws or rejects with. */
async function rejection(run: () => unknown): Promise<InvalidOptionError> {
  try {
    await run();
  } catch (error) {
    if (isInvalidOptionError(error)) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

const client = createClient({ baseUrl: 'http://127.0.0.1:1' });
const request = () => ({ method: 'POST', path: '/x' });
// A real client that never connects: the options are checked before any command.
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });

afterAll(async () => {
  redis.disconnect();
  await client.close();
});

function durable(): Durable {
  return createDurable({ client, store: memoryDurableStore() });
}

describe('createDurable', () => {
  it.each<[unknown, string, RegExp]>([
    [undefined, 'options', /must be an object/],
    [{}, 'client', /client with an attempt\(\) method .*required/],
    [{ client: {} }, 'client', /use createClient\(\)/],
    // The queue reads one classified value per attempt: request() alone is not enough.
    [{ client: { request: () => undefined } }, 'client', /attempt\(\) method/],
    [{ client, store: {} }, 'store', /a durable store/],
    [{ client, probeJitter: Number.NaN }, 'probeJitter', /finite number of milliseconds >= 0/],
    [{ client, leaseMs: 0 }, 'leaseMs', /> 0/],
    [{ client, storeTimeout: 2 ** 31 }, 'storeTimeout', /<= 2147483647/],
    [{ client, maxResponseBytes: 1.5 }, 'maxResponseBytes', /integer >= 1/],
    [{ client, maxInputBytes: 0 }, 'maxInputBytes', /integer from 1 to 536870912/],
    [{ client, maxInputBytes: 2 ** 30 }, 'maxInputBytes', /integer from 1 to 536870912/],
    [{ client, random: 0.5 }, 'random', /must be a function/],
    [{ client, backoff: { initialDelay: 10 } }, 'backoff.initialDelay', /did you mean "initialMs"/],
    [{ client, backoff: { initialMs: 500, maxMs: 10 } }, 'backoff.maxMs', /at least initialMs/],
    [{ client, storeTimout: 5 }, 'storeTimout', /did you mean "storeTimeout"/],
    [{ client, storeTimeoutMs: 5 }, 'storeTimeoutMs', /did you mean "storeTimeout"/],
    [{ client, leasems: 5 }, 'leasems', /did you mean "leaseMs"/],
  ])('rejects %p naming %s', async (options, option, rule) => {
    const error = await rejection(() => createDurable(options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^createDurable: Invalid option/);
    expect(error.message).toMatch(rule);
  });
});

describe('durable.operation', () => {
  it.each<[unknown, string, RegExp]>([
    [undefined, 'options', /must be an object/],
    [{}, 'request', /a function building the request/],
    [{ request, maxAttempts: 0 }, 'maxAttempts', /integer >= 1/],
    [{ request, maxInputBytes: 1.5 }, 'maxInputBytes', /integer from 1 to 536870912/],
    [{ request, wait: -1 }, 'wait', />= 0/],
    [{ request, deadline: Infinity }, 'deadline', /finite number > 0/],
    [{ request, attemptTimeout: 'fast' }, 'attemptTimeout', /milliseconds/],
    [{ request, backoff: { factor: 2 } }, 'backoff.factor', /did you mean "exponent"/],
    [{ request, onSucess: () => {} }, 'onSucess', /did you mean "onSuccess"/],
    [{ request, maxAttempt: 3 }, 'maxAttempt', /did you mean "maxAttempts"/],
  ])('rejects the definition %p naming %s', async (definition, option, rule) => {
    const error = await rejection(() => durable().operation('charge', definition as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^durable\.operation\('charge'\): Invalid option/);
    expect(error.message).toMatch(rule);
  });

  it('rejects a bad or repeated name', async () => {
    const d = durable();
    expect((await rejection(() => d.operation('no spaces', { request }))).option).toBe('name');
    d.operation('charge', { request });
    const again = await rejection(() => d.operation('charge', { request }));
    expect(again.rule).toBe('is already defined in this durable instance');
  });

  it("layers a type's backoff over createDurable's", async () => {
    const d = createDurable({ client, backoff: { initialMs: 5_000 } });
    const error = await rejection(() => d.operation('x', { request, backoff: { maxMs: 1_000 } }));
    expect(error.option).toBe('backoff.maxMs');
    expect(error.rule).toBe('must be at least initialMs (5000)');
  });
});

describe('op.start and op.find', () => {
  const op = durable().operation('charge', { request, wait: 0 });

  it.each<[unknown, string, RegExp]>([
    [null, 'options', /must be an object/],
    ['key-1', 'options', /must be an object/],
    [{ deadline: -1 }, 'deadline', /is not a known option/],
    [{ wait: -1 }, 'wait', />= 0/],
    [{ wait: Number.NaN }, 'wait', /finite/],
    [{ key: '' }, 'key', /non-empty string/],
    [{ key: 'k'.repeat(256) }, 'key', /at most 255 characters/],
    [{ key: 42 }, 'key', /string/],
    [{ idempotencyKey: 'k' }, 'idempotencyKey', /did you mean "key"/],
    [{ wiat: 1 }, 'wiat', /did you mean "wait"/],
  ])('start rejects %p naming %s before writing', async (options, option, rule) => {
    const error = await rejection(() => op.start({ n: 1 }, options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^charge\.start: Invalid option/);
    expect(error.message).toMatch(rule);
  });

  it('find rejects a key that start could not have used', async () => {
    expect((await rejection(() => op.find('' as never))).option).toBe('key');
    expect((await rejection(() => op.find(7 as never))).option).toBe('key');
  });
});

describe('startWorker and stop', () => {
  it.each<[unknown, string, RegExp]>([
    [null, 'options', /must be an object/],
    [{ concurrency: 0 }, 'concurrency', /integer >= 1/],
    [{ concurrency: 2.5 }, 'concurrency', /integer >= 1/],
    [{ pollInterval: 0 }, 'pollInterval', /from 1 to 2147483647/],
    [{ pollInterval: Infinity }, 'pollInterval', /finite/],
    [{ targetConcurrency: -1 }, 'targetConcurrency', /integer >= 1/],
    [{ name: '' }, 'name', /non-empty/],
    [{ concurency: 4 }, 'concurency', /did you mean "concurrency"/],
  ])('startWorker rejects %p naming %s', async (options, option, rule) => {
    const error = await rejection(() => durable().startWorker(options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(rule);
  });

  it('stop rejects a bad timeout and still stops with a good one', async () => {
    const worker = durable().startWorker({ pollInterval: 5 });
    expect((await rejection(() => worker.stop({ timeout: -1 }))).option).toBe('timeout');
    expect((await rejection(() => worker.stop({ timout: 1 } as never))).rule).toMatch(
      /did you mean "timeout"/,
    );
    await worker.stop({ timeout: 1_000 });
  });
});

describe('status and the dead-letter calls', () => {
  it('rejects an id that is not a string', async () => {
    const d = durable();
    for (const run of [
      () => d.status(42 as never),
      () => d.deadLetters.get(undefined as never),
      () => d.deadLetters.discard('' as never),
      () => d.deadLetters.redrive({} as never),
    ]) {
      const error = await rejection(run);
      expect(error.option).toBe('id');
    }
  });

  it.each([Number.NaN, 'tomorrow', Infinity, -1])(
    'redrive rejects at = %p before touching the store',
    async (at) => {
      const store = memoryDurableStore();
      const d = createDurable({ client, store });
      const { record } = await store.create({
        id: store.newId('charge'),
        type: 'charge',
        input: '{}',
        now: 0,
        deadline: 1,
        dueAt: 0,
      });
      const error = await rejection(() => d.deadLetters.redrive(record.id, { at } as never));
      expect(error.option).toBe('at');
      expect(error.message).toMatch(/^deadLetters\.redrive: Invalid option/);
    },
  );

  it.each<[unknown, unknown, string]>([
    [{}, { rate: 0 }, 'rate'],
    [{}, { rate: Number.NaN }, 'rate'],
    [{}, { max: 0.5 }, 'max'],
    [{ limit: 5 }, {}, 'query.limit'],
    [{ state: ['dead'] }, {}, 'query.state'],
  ])('redriveMany rejects %p %p naming %s', async (query, options, option) => {
    const error = await rejection(() =>
      durable().deadLetters.redriveMany(query as never, options as never),
    );
    expect(error.option).toBe(option);
  });

  it.each<[unknown, string]>([
    [{ limit: 0 }, 'query.limit'],
    [{ limit: 1_001 }, 'query.limit'],
    [{ states: ['done'] }, 'query.states[0]'],
    [{ errorcode: 'x' }, 'query.errorcode'],
  ])('list rejects %p naming %s, also on the store directly', async (query, option) => {
    expect((await rejection(() => durable().deadLetters.list(query as never))).option).toBe(option);
    const store = memoryDurableStore();
    expect((await rejection(() => store.listDeadLetters(query as never))).option).toBe(option);
  });
});

describe('the stores', () => {
  it.each<[unknown, string, RegExp]>([
    [null, 'options', /must be an object/],
    [{ retention: -1 }, 'retention', />= 0/],
    [{ retention: Number.NaN }, 'retention', /finite/],
    [{ ttl: 5 }, 'ttl', /did you mean "retention"/],
  ])('memoryDurableStore rejects %p naming %s', async (options, option, rule) => {
    const error = await rejection(() => memoryDurableStore(options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^memoryDurableStore: Invalid option/);
    expect(error.message).toMatch(rule);
  });

  it.each([undefined, 'redis://127.0.0.1:6379', {}])(
    'redisDurableStore(%p) asks for an ioredis client',
    async (value) => {
      const error = await rejection(() => redisDurableStore(value as never));
      expect(error.option).toBe('redis');
      expect(error.message).toMatch(/an ioredis Redis or Cluster client \(pass the client/);
    },
  );

  it.each<[unknown, string, RegExp]>([
    [{ prefix: 'app:{x}:' }, 'prefix', /without "\{" or "\}"/],
    [{ partitions: 0 }, 'partitions', /from 1 to 1024/],
    [{ partitions: 2_000 }, 'partitions', /from 1 to 1024/],
    [{ retention: 1.5 }, 'retention', /integer >= 1/],
    [{ waitAof: { numLocal: -1 } }, 'waitAof.numLocal', /integer >= 0/],
    [{ waitAof: { timeOut: 5 } }, 'waitAof.timeOut', /did you mean "timeout"/],
    [{ prefx: 'a:' }, 'prefx', /did you mean "prefix"/],
  ])('redisDurableStore rejects %p naming %s', async (options, option, rule) => {
    const error = await rejection(() => redisDurableStore(redis, options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^redisDurableStore: Invalid option/);
    expect(error.message).toMatch(rule);
  });
});
