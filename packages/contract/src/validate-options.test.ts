import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isInvalidOptionError, type InvalidOptionError } from './errors.js';
import {
  MAX_TIMER_MS,
  option,
  suggest,
  validateOptions,
  type OptionRule,
  type ShapeFor,
} from './validate-options.js';

function rejection(rule: OptionRule<unknown>, value: unknown): InvalidOptionError {
  try {
    validateOptions(rule, value, { name: 'makeThing' });
  } catch (error) {
    if (isInvalidOptionError(error)) return error;
    throw error;
  }
  throw new Error('expected the value to be rejected');
}

const schema = option.object({
  storeTimeoutMs: option.duration({ integer: true }).default(1_000),
  retries: option.number({ integer: true, min: 0, max: 100 }).default(3),
  ratio: option.number({ above: 0, max: 1 }).optional(),
  failOpen: option.boolean().default(false),
  prefix: option
    .string({ test: { check: /^[^{}]*$/, rule: 'a string without "{" or "}"' } })
    .default('p:'),
  mode: option.oneOf(['fast', 'safe']).default('safe'),
  methods: option.array(option.string({ nonEmpty: true })).default(['POST']),
  key: option.function<(url: URL) => string>().optional(),
  store: option.instance<{ claim(): void }>('a store', ['claim', 'complete']).optional(),
  breaker: option
    .union(
      option.oneOf([false]),
      option.object({
        halfOpenProbes: option.number({ integer: true, min: 1 }).default(3),
        windowMs: option.duration().default(30_000),
      }),
    )
    .default({}),
});

describe('validateOptions', () => {
  it('applies defaults, nested ones included, and infers the resolved type', () => {
    const resolved = validateOptions(schema, {}, { name: 'makeThing' });
    expect(resolved).toEqual({
      storeTimeoutMs: 1_000,
      retries: 3,
      ratio: undefined,
      failOpen: false,
      prefix: 'p:',
      mode: 'safe',
      methods: ['POST'],
      key: undefined,
      store: undefined,
      breaker: { halfOpenProbes: 3, windowMs: 30_000 },
    });
    const timeout: number = resolved.storeTimeoutMs;
    const mode: 'fast' | 'safe' = resolved.mode;
    expect([timeout, mode]).toEqual([1_000, 'safe']);
  });

  it('keeps given values', () => {
    const key = (url: URL) => url.origin;
    const store = { claim() {}, complete() {} };
    const resolved = validateOptions(
      schema,
      { retries: 0, ratio: 1, failOpen: true, mode: 'fast', key, store, breaker: false },
      { name: 'makeThing' },
    );
    expect(resolved).toMatchObject({
      retries: 0,
      ratio: 1,
      failOpen: true,
      mode: 'fast',
      breaker: false,
    });
    expect(resolved.key).toBe(key);
    expect(resolved.store).toBe(store);
  });

  it.each<[string, unknown, string, RegExp]>([
    ['NaN', { retries: Number.NaN }, 'retries', /must be an integer from 0 to 100/],
    ['Infinity', { ratio: Infinity }, 'ratio', /must be a finite number > 0 and <= 1/],
    ['-Infinity', { retries: -Infinity }, 'retries', /integer from 0 to 100/],
    ['a fraction for an integer', { retries: 1.5 }, 'retries', /integer/],
    ['below min', { retries: -1 }, 'retries', /from 0 to 100/],
    ['above max', { retries: 101 }, 'retries', /from 0 to 100/],
    ['the exclusive bound', { ratio: 0 }, 'ratio', /> 0/],
    ['a numeric string', { retries: '3' }, 'retries', /integer/],
    ['a zero duration', { storeTimeoutMs: 0 }, 'storeTimeoutMs', /> 0/],
    [
      'a duration past the longest timer',
      { storeTimeoutMs: MAX_TIMER_MS + 1 },
      'storeTimeoutMs',
      /<= 2147483647/,
    ],
    [
      'a fractional integer duration',
      { storeTimeoutMs: 1.5 },
      'storeTimeoutMs',
      /an integer number of milliseconds/,
    ],
    ['a string for a boolean', { failOpen: 'yes' }, 'failOpen', /must be true or false/],
    ['a string failing its test', { prefix: 'a{b}' }, 'prefix', /without "\{" or "\}"/],
    ['a number for a string', { prefix: 1 }, 'prefix', /without/],
    ['an unlisted literal', { mode: 'slow' }, 'mode', /one of "fast", "safe"/],
    ['a string for an array', { methods: 'POST' }, 'methods', /an array of a non-empty string/],
    ['a bad array item', { methods: ['POST', ''] }, 'methods[1]', /non-empty string/],
    ['a string for a function', { key: 'origin' }, 'key', /must be a function/],
    ['an object lacking a method', { store: { claim() {} } }, 'store', /must be a store/],
    ['null for an optional option', { ratio: null }, 'ratio', /finite number/],
    ['a nested wrong value', { breaker: { halfOpenProbes: 0 } }, 'breaker.halfOpenProbes', />= 1/],
    ['a value no union member takes', { breaker: true }, 'breaker', /must be false or an object/],
  ])('rejects %s', (_label, value, path, rule) => {
    const error = rejection(schema, value);
    expect(error.option).toBe(path);
    expect(error.rule).toMatch(rule);
    expect(error.factory).toBe('makeThing');
    expect(error.message.startsWith(`makeThing: Invalid option "${path}"`)).toBe(true);
  });

  it('reports the value that was given', () => {
    expect(rejection(schema, { retries: 1.5 }).value).toBe(1.5);
    expect(rejection(schema, { methods: ['POST', ''] }).value).toBe('');
  });

  it.each([null, undefined, [], 'redis://localhost', 42, () => {}])(
    'rejects %p as the options object, naming the factory',
    (value) => {
      const error = rejection(schema, value);
      expect(error.option).toBe('options');
      expect(error.message).toMatch(/^makeThing: Invalid option "options": must be an object/);
    },
  );

  it('names a positional argument by the given path', () => {
    const redis = option.instance('an ioredis Redis or Cluster client', ['eval', 'defineCommand']);
    let error: unknown;
    try {
      validateOptions(redis, 'redis://localhost', { name: 'redisStore', path: 'redis' });
    } catch (e) {
      error = e;
    }
    expect((error as InvalidOptionError).option).toBe('redis');
    expect((error as InvalidOptionError).message).toBe(
      'redisStore: Invalid option "redis": must be an ioredis Redis or Cluster client (got "redis://localhost")',
    );
  });

  it('rejects a missing required option', () => {
    const error = rejection(option.object({ store: option.instance('a store', ['claim']) }), {});
    expect(error.option).toBe('store');
    expect(error.rule).toBe('must be a store (it is required)');
  });

  it('validates defaults like given values', () => {
    const broken = option.object({ n: option.number({ min: 1 }).default(0) });
    expect(rejection(broken, {}).option).toBe('n');
  });
});

describe('unknown keys', () => {
  it.each([
    ['storeTimout', 'storeTimeoutMs'],
    ['storeTimeout', 'storeTimeoutMs'],
    ['storetimeoutms', 'storeTimeoutMs'],
    ['STORETIMEOUTMS', 'storeTimeoutMs'],
    ['retires', 'retries'],
    ['failopen', 'failOpen'],
    ['prefx', 'prefix'],
    ['mehtods', 'methods'],
  ])('rejects %s with the hint %s', (given, hint) => {
    const error = rejection(schema, { [given]: 1 });
    expect(error.option).toBe(given);
    expect(error.rule).toBe(`is not a known option; did you mean "${hint}"?`);
    expect(error.value).toBe(1);
  });

  it('lists the known keys when nothing is close', () => {
    const error = rejection(schema, { colour: 'red' });
    expect(error.rule).toMatch(/^is not a known option \(known: storeTimeoutMs, retries, /);
  });

  it('names the nested path of an unknown key', () => {
    const error = rejection(schema, { breaker: { halfOpenProbs: 2 } });
    expect(error.option).toBe('breaker.halfOpenProbs');
    expect(error.rule).toMatch(/did you mean "halfOpenProbes"/);
  });

  it('uses aliases for names people write instead', () => {
    const s = option.object(
      { retentionMs: option.duration().optional() },
      { aliases: { ttl: 'retentionMs' } },
    );
    expect(rejection(s, { ttl: 5 }).rule).toBe(
      'is not a known option; did you mean "retentionMs"?',
    );
  });

  it('does not suggest far-off keys for short names', () => {
    expect(suggest('at', ['key', 'wait'])).toBeUndefined();
    expect(suggest('ky', ['key', 'wait'])).toBe('key');
    expect(suggest('toString', ['key'])).toBeUndefined();
  });

  it('checks an inherited-looking key like any other', () => {
    expect(rejection(schema, JSON.parse('{"__proto__": 1}')).option).toBe('__proto__');
  });
});

describe('refine', () => {
  const backoff = option
    .object({
      initialMs: option.duration().default(500),
      maxMs: option.duration().default(30_000),
    })
    .refine((b, fail) =>
      b.maxMs < b.initialMs ? fail('maxMs', `must be at least initialMs (${b.initialMs})`) : b,
    );
  const outer = option.object({ backoff: backoff.default({}) });

  it('reports a cross-field rule on the nested path with the given value', () => {
    const error = rejection(outer, { backoff: { initialMs: 100, maxMs: 50 } });
    expect(error.option).toBe('backoff.maxMs');
    expect(error.rule).toBe('must be at least initialMs (100)');
    expect(error.value).toBe(50);
  });

  it('transforms the value', () => {
    const url = option.string().refine((s, fail) => {
      try {
        return new URL(s);
      } catch {
        return fail(undefined, 'must be an absolute URL');
      }
    });
    const s = option.object({ baseUrl: url.optional() });
    expect(validateOptions(s, { baseUrl: 'http://a.test' }, { name: 'x' }).baseUrl?.host).toBe(
      'a.test',
    );
    expect(rejection(s, { baseUrl: 'nope' }).option).toBe('baseUrl');
  });

  it('keeps optional and default after refine', () => {
    expect(validateOptions(outer, {}, { name: 'x' }).backoff).toEqual({
      initialMs: 500,
      maxMs: 30_000,
    });
  });
});

describe('ShapeFor', () => {
  it('types a shape against a public options interface', () => {
    interface PublicOptions {
      /** documented here, checked by the shape */
      leaseMs?: number;
      failOpen?: boolean;
    }
    const shape = {
      leaseMs: option.duration().default(60_000),
      failOpen: option.boolean().default(false),
    } satisfies ShapeFor<PublicOptions>;
    // @ts-expect-error -- a shape missing a key of the interface does not satisfy it
    const missing = { leaseMs: option.duration() } satisfies ShapeFor<PublicOptions>;
    expect(Object.keys(missing)).toEqual(['leaseMs']);
    expect(validateOptions(option.object(shape), {}, { name: 'x' })).toEqual({
      leaseMs: 60_000,
      failOpen: false,
    });
  });
});

describe('union', () => {
  const key = option.union(
    option.oneOf([false]),
    option.string().refine((k, fail) => (k === '' ? fail(undefined, 'must not be empty') : k)),
  );

  it('reports the refined rule of the member that recognised the value', () => {
    const error = rejection(option.object({ key }), { key: '' });
    expect(error.option).toBe('key');
    expect(error.rule).toBe('must not be empty');
  });

  it('names every member when none recognises the value', () => {
    expect(rejection(option.object({ key }), { key: 1 }).rule).toBe('must be false or a string');
  });
});

describe('record and passthrough', () => {
  const s = option.object({
    headers: option
      .record(option.union(option.string(), option.array(option.string())))
      .default({}),
    pool: option.passthrough().default({}),
  });

  it('checks every value of a record, naming its key', () => {
    expect(rejection(s, { headers: { 'x-a': 1 } }).option).toBe('headers.x-a');
    expect(
      validateOptions(s, { headers: { a: ['1'] }, pool: { connections: 2 } }, { name: 'x' }),
    ).toEqual({
      headers: { a: ['1'] },
      pool: { connections: 2 },
    });
  });

  it('takes any value with unknown(), checked by refine', () => {
    const s2 = option.object({
      json: option.unknown().optional(),
      body: option
        .unknown()
        .refine((b, fail) => (typeof b === 'string' ? b.length : fail(undefined, 'must be text')))
        .optional(),
    });
    expect(validateOptions(s2, { json: null, body: 'abc' }, { name: 'x' })).toEqual({
      json: null,
      body: 3,
    });
    expect(rejection(s2, { body: 1 }).rule).toBe('must be text');
  });

  it('rejects a non-object passthrough', () => {
    expect(rejection(s, { pool: 3 }).option).toBe('pool');
  });
});

describe('properties', () => {
  const n = option.object({ n: option.number({ integer: true, min: -5, max: 5 }) });

  it('accepts exactly the integers in range and throws InvalidOptionError otherwise', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.integer({ min: -10, max: 10 }), fc.anything()),
        (value) => {
          const ok =
            typeof value === 'number' && Number.isInteger(value) && value >= -5 && value <= 5;
          if (ok) expect(validateOptions(n, { n: value }, { name: 'x' }).n).toBe(value);
          else expect(rejection(n, { n: value }).option).toBe('n');
        },
      ),
    );
  });

  it('suggests a known key for any one-character slip of a long key', () => {
    const keys = ['storeTimeoutMs', 'leaseRenewalMs', 'maxResponseBytes'];
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }),
        (key, at, ch) => {
          const i = at % key.length;
          const slipped = key.slice(0, i) + ch + key.slice(i + 1);
          fc.pre(!keys.includes(slipped));
          expect(suggest(slipped, keys)).toBe(key);
        },
      ),
    );
  });
});
