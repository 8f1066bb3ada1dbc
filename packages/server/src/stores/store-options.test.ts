import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { isInvalidOptionError, type InvalidOptionError } from '@unfazed/contract';
import { memoryIdempotencyStore } from './memory-store.js';
import { redisIdempotencyStore } from './redis-store.js';

function rejection(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (isInvalidOptionError(error)) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

// A real client that never connects: the options are checked before any command.
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
afterAll(() => redis.disconnect());

describe('memoryIdempotencyStore options', () => {
  it.each<[unknown, string, RegExp]>([
    [null, 'options', /must be an object/],
    ['big', 'options', /must be an object/],
    [{ maxEntries: 0 }, 'maxEntries', /integer >= 1/],
    [{ maxEntries: Number.NaN }, 'maxEntries', /integer >= 1/],
    [{ maxBytes: 1.5 }, 'maxBytes', /integer >= 1/],
    [{ now: 5 }, 'now', /must be a function/],
    [{ maxEntires: 5 }, 'maxEntires', /did you mean "maxEntries"/],
    [{ maxRecords: 5 }, 'maxRecords', /did you mean "maxEntries"/],
  ])('rejects %p naming %s', (options, option, rule) => {
    const error = rejection(() => memoryIdempotencyStore(options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^memoryIdempotencyStore: Invalid option/);
    expect(error.message).toMatch(rule);
  });

  it('takes no options, or an empty object', () => {
    expect(() => memoryIdempotencyStore()).not.toThrow();
    expect(() => memoryIdempotencyStore({})).not.toThrow();
  });
});

describe('redisIdempotencyStore arguments', () => {
  it.each([undefined, null, 'redis://127.0.0.1:6379', {}])(
    'redisIdempotencyStore(%p) asks for an ioredis client',
    (value) => {
      const error = rejection(() => redisIdempotencyStore(value as never));
      expect(error.option).toBe('redis');
      expect(error.message).toMatch(
        /^redisIdempotencyStore: Invalid option "redis": must be an ioredis Redis or Cluster client \(pass the client, not a URL/,
      );
    },
  );

  it.each<[unknown, string, RegExp]>([
    [null, 'options', /must be an object/],
    [{ prefix: 'app:{tenant}:' }, 'prefix', /without "\{" or "\}"/],
    [{ prefix: 'app}' }, 'prefix', /without "\{" or "\}"/],
    [{ prefix: 7 }, 'prefix', /without/],
    [{ prefx: 'a:' }, 'prefx', /did you mean "prefix"/],
    [{ keyPrefix: 'a:' }, 'keyPrefix', /did you mean "prefix"/],
  ])('rejects the options %p naming %s', (options, option, rule) => {
    const error = rejection(() => redisIdempotencyStore(redis, options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(rule);
  });
});
