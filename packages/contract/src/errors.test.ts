import { describe, it, expect, jest } from '@jest/globals';
import type * as ErrorsModuleNs from './errors.js';
import {
  UnfazedError,
  isUnfazedError,
  errorGuard,
  InvalidOptionError,
  isInvalidOptionError,
  InvalidIdempotencyKeyError,
  isInvalidIdempotencyKeyError,
} from './errors.js';

type ErrorsModule = typeof ErrorsModuleNs;

/** A second, independent copy of this module, as when two versions of the package are installed. */
function loadSecondCopy(): ErrorsModule {
  let copy: ErrorsModule | undefined;
  jest.isolateModules(() => {
    copy = jest.requireActual<ErrorsModule>('./errors.js');
  });
  if (!copy) throw new Error('isolateModules did not load the module');
  return copy;
}

class ExampleError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_EXAMPLE';
  constructor(message: string, cause?: unknown) {
    super(ExampleError.code, message, cause === undefined ? {} : { cause });
  }
}
const isExampleError = errorGuard<ExampleError>(ExampleError.code);

describe('UnfazedError', () => {
  it('carries code, message, name and cause', () => {
    const cause = new Error('socket hang up');
    const err = new ExampleError('boom', cause);
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(UnfazedError);
    expect(err).toBeInstanceOf(ExampleError);
    expect(err.code).toBe('UNFAZED_ERR_EXAMPLE');
    expect(err.message).toBe('boom');
    expect(err.name).toBe('ExampleError');
    expect(err.cause).toBe(cause);
    expect(String(err)).toBe('ExampleError: boom');
    expect(err.stack).toContain('ExampleError: boom');
  });

  it('has no own cause property when none is given', () => {
    const err = new ExampleError('no cause');
    expect(Object.hasOwn(err, 'cause')).toBe(false);
  });

  it('treats an undefined cause as none, but keeps other falsy causes', () => {
    expect(
      Object.hasOwn(new UnfazedError('UNFAZED_ERR_X', 'x', { cause: undefined }), 'cause'),
    ).toBe(false);
    expect(new UnfazedError('UNFAZED_ERR_X', 'x', { cause: null }).cause).toBeNull();
    expect(new UnfazedError('UNFAZED_ERR_X', 'x', { cause: 0 }).cause).toBe(0);
  });

  it('is not instanceof a sibling class with another code', () => {
    class OtherError extends UnfazedError {
      static readonly code = 'UNFAZED_ERR_OTHER';
    }
    const err = new ExampleError('x');
    expect(err instanceof OtherError).toBe(false);
    expect(isExampleError(err)).toBe(true);
    expect(isExampleError(new OtherError('UNFAZED_ERR_OTHER', 'y'))).toBe(false);
  });

  it('does not let a subclass without its own code claim instances of its parent', () => {
    class Narrower extends ExampleError {}
    const parent = new ExampleError('parent');
    expect(parent instanceof Narrower).toBe(false);
    expect(new Narrower('child') instanceof ExampleError).toBe(true);
  });

  it('rejects look-alikes without the brand', () => {
    const fake = Object.assign(new Error('fake'), { code: 'UNFAZED_ERR_EXAMPLE' });
    expect(isUnfazedError(fake)).toBe(false);
    expect(isExampleError(fake)).toBe(false);
    expect(fake instanceof UnfazedError).toBe(false);
    expect(fake instanceof ExampleError).toBe(false);
  });

  it.each([null, undefined, 'UNFAZED_ERR_EXAMPLE', 42, {}, { code: 'UNFAZED_ERR_EXAMPLE' }])(
    'guards reject %p',
    (value) => {
      expect(isUnfazedError(value)).toBe(false);
      expect(isExampleError(value)).toBe(false);
      expect(value instanceof UnfazedError).toBe(false);
    },
  );
});

describe('two copies of the package', () => {
  const other = loadSecondCopy();

  it('really are two copies', () => {
    expect(other.UnfazedError).not.toBe(UnfazedError);
    expect(other.InvalidOptionError).not.toBe(InvalidOptionError);
  });

  it('instanceof recognises errors made by the other copy, both ways', () => {
    const theirs = new other.InvalidOptionError('timeout', 'must be positive', -1);
    const ours = new InvalidOptionError('timeout', 'must be positive', -1);
    expect(theirs instanceof InvalidOptionError).toBe(true);
    expect(theirs instanceof UnfazedError).toBe(true);
    expect(ours instanceof other.InvalidOptionError).toBe(true);
    expect(ours instanceof other.UnfazedError).toBe(true);
    expect(theirs instanceof InvalidIdempotencyKeyError).toBe(false);
    expect(ours instanceof other.InvalidIdempotencyKeyError).toBe(false);
  });

  it('guards recognise errors made by the other copy, both ways', () => {
    const theirs = new other.InvalidIdempotencyKeyError('empty', 'empty key');
    expect(isInvalidIdempotencyKeyError(theirs)).toBe(true);
    expect(isUnfazedError(theirs)).toBe(true);
    expect(isInvalidOptionError(theirs)).toBe(false);
    const ours = new InvalidIdempotencyKeyError('empty', 'empty key');
    expect(other.isInvalidIdempotencyKeyError(ours)).toBe(true);
    expect(other.isUnfazedError(ours)).toBe(true);
    expect(other.isInvalidOptionError(ours)).toBe(false);
  });

  it('a subclass defined on one copy recognises its errors made against the other', () => {
    class TheirExample extends other.UnfazedError {
      static readonly code = 'UNFAZED_ERR_EXAMPLE';
    }
    const theirs = new TheirExample('UNFAZED_ERR_EXAMPLE', 'x');
    expect(theirs instanceof ExampleError).toBe(true);
    expect(new ExampleError('y') instanceof TheirExample).toBe(true);
  });
});

describe('InvalidOptionError', () => {
  it('names the option, the rule and the value', () => {
    const err = new InvalidOptionError('retry.maxRetries', 'must be an integer >= 0', 1.5);
    expect(err.code).toBe('UNFAZED_ERR_INVALID_OPTION');
    expect(InvalidOptionError.code).toBe('UNFAZED_ERR_INVALID_OPTION');
    expect(err.option).toBe('retry.maxRetries');
    expect(err.rule).toBe('must be an integer >= 0');
    expect(err.value).toBe(1.5);
    expect(err.message).toBe(
      'Invalid option "retry.maxRetries": must be an integer >= 0 (got 1.5)',
    );
    expect(isInvalidOptionError(err)).toBe(true);
    expect(isInvalidIdempotencyKeyError(err)).toBe(false);
  });

  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  it.each<[string, unknown, string]>([
    ['a string, quoted', 'abc', '"abc"'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a boolean', false, 'false'],
    ['NaN', Number.NaN, 'NaN'],
    ['a bigint', 10n, '10n'],
    ['a symbol', Symbol('s'), 'Symbol(s)'],
    ['a function', () => 1, 'a function'],
    ['an object as JSON', { a: 1 }, '{"a":1}'],
    ['an array as JSON', [1, 2], '[1,2]'],
    ['a cyclic object by kind', cyclic, 'an object'],
    ['an object whose toJSON gives nothing by type', { toJSON: () => undefined }, 'object'],
    ['an array holding a bigint by kind', [1n], 'an array'],
  ])('describes %s', (_label, value, shown) => {
    expect(new InvalidOptionError('x', 'rule', value).message).toBe(
      `Invalid option "x": rule (got ${shown})`,
    );
  });

  it('shortens long values in the message but keeps the value itself', () => {
    const value = 'k'.repeat(500);
    const err = new InvalidOptionError('key', 'too long', value);
    expect(err.message.length).toBeLessThan(150);
    expect(err.message).toMatch(/k\.\.\.\)$/);
    expect(err.value).toBe(value);
  });
});

describe('InvalidIdempotencyKeyError', () => {
  it('carries the reason', () => {
    const err = new InvalidIdempotencyKeyError('too-long', 'the key is 300 characters long');
    expect(err.code).toBe('UNFAZED_ERR_INVALID_IDEMPOTENCY_KEY');
    expect(err.reason).toBe('too-long');
    expect(err.message).toBe('the key is 300 characters long');
    expect(err.name).toBe('InvalidIdempotencyKeyError');
  });
});
