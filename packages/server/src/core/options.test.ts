import { describe, expect, it } from '@jest/globals';
import { isInvalidOptionError, type InvalidOptionError } from '@unfazed/contract';
import { memoryIdempotencyStore } from '../stores/memory-store.js';
import { defaultShouldStore, resolveOptions } from './options.js';

describe('resolveOptions', () => {
  const store = memoryIdempotencyStore();

  it('applies the documented defaults', () => {
    const o = resolveOptions({ store });
    expect([...o.methods]).toEqual(['POST', 'PATCH']);
    expect(o).toMatchObject({
      required: true,
      leaseMs: 60_000,
      leaseRenewalMs: 20_000,
      retentionMs: 86_400_000,
      storeTimeoutMs: 1_000,
      failOpen: false,
      maxBodyBytes: 1_048_576,
      maxResponseBytes: 1_048_576,
    });
    expect(o.storedHeaders.has('location')).toBe(true);
    expect(o.storedHeaders.has('set-cookie')).toBe(false);
  });

  it.each([
    [{ store: {} }, 'store'],
    [{ store, leaseMs: 0 }, 'leaseMs'],
    [{ store, leaseMs: 1000, leaseRenewalMs: 1000 }, 'leaseRenewalMs'],
    [{ store, storedHeaders: ['Set-Cookie'] }, 'storedHeaders[0]'],
    [{ store, methods: 'POST' }, 'methods'],
    [{ store, failOpen: 'yes' }, 'failOpen'],
    [{ store, scope: 'user' }, 'scope'],
  ])('rejects %p naming %s', (options, name) => {
    let error: unknown;
    try {
      resolveOptions(options as never);
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as { option: string }).option).toBe(name);
  });

  function rejection(options: unknown): InvalidOptionError {
    try {
      resolveOptions(options as never);
    } catch (error) {
      if (isInvalidOptionError(error)) return error;
      throw error;
    }
    throw new Error('expected the options to be rejected');
  }

  it.each<[unknown, string, RegExp]>([
    [undefined, 'options', /must be an object/],
    [null, 'options', /must be an object/],
    [{}, 'store', /an idempotency store .*required/],
    [{ store, ttl: 60_000 }, 'ttl', /did you mean "retentionMs"/],
    [{ store, storeTimout: 50 }, 'storeTimout', /did you mean "storeTimeoutMs"/],
    [{ store, storetimeoutms: 50 }, 'storetimeoutms', /did you mean "storeTimeoutMs"/],
    [{ store, failopen: true }, 'failopen', /did you mean "failOpen"/],
    [{ store, on: { storeErorr: () => {} } }, 'on.storeErorr', /did you mean "storeError"/],
    [{ store, on: { completed: 'log' } }, 'on.completed', /must be a function/],
    [{ store, storeTimeoutMs: 2 ** 31 }, 'storeTimeoutMs', /<= 2147483647/],
    [{ store, storeTimeoutMs: 1e12 }, 'storeTimeoutMs', /longest Node timer/],
    [{ store, leaseMs: Number.NaN }, 'leaseMs', /integer number of milliseconds/],
    [{ store, leaseMs: Infinity }, 'leaseMs', /integer number of milliseconds/],
    [{ store, inFlightRetryAfterMs: 0 }, 'inFlightRetryAfterMs', /> 0/],
    [{ store, inFlightRetryAfterMs: 1.5 }, 'inFlightRetryAfterMs', /integer/],
    [{ store, unavailableRetryAfterMs: -1 }, 'unavailableRetryAfterMs', /> 0/],
    [{ store, retentionMs: 0 }, 'retentionMs', /integer >= 1/],
    [{ store, maxBodyBytes: '1mb' }, 'maxBodyBytes', /integer >= 1/],
    [{ store, methods: [] }, 'methods', /at least 1/],
    [{ store, methods: ['PO ST'] }, 'methods[0]', /an HTTP method name/],
    [{ store, excludeFields: [''] }, 'excludeFields[0]', /non-empty/],
    [{ store, shouldStore: true }, 'shouldStore', /must be a function/],
    [
      { store, leaseMs: 3_000, leaseRenewalMs: 5_000 },
      'leaseRenewalMs',
      /less than leaseMs \(3000\)/,
    ],
  ])('rejects %p naming %s', (options, option, rule) => {
    const error = rejection(options);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^idempotency: Invalid option/);
    expect(error.message).toMatch(rule);
  });

  it('keeps inFlightRetryAfterMs (default 1000) and the derived lease renewal', () => {
    expect(resolveOptions({ store }).inFlightRetryAfterMs).toBe(1_000);
    expect(resolveOptions({ store, inFlightRetryAfterMs: 250 }).inFlightRetryAfterMs).toBe(250);
    expect(resolveOptions({ store, leaseMs: 3_000 }).leaseRenewalMs).toBe(1_000);
    expect(resolveOptions({ store, leaseMs: 2 }).leaseRenewalMs).toBe(1);
    expect(rejection({ store, leaseMs: 1 }).rule).toMatch(/at least 2 ms/);
  });

  it('stores 2xx, 3xx and 4xx outcomes but not 5xx, 408, 425, 429', () => {
    expect([200, 201, 302, 400, 404, 409, 422].every(defaultShouldStore)).toBe(true);
    expect([408, 425, 429, 500, 502, 503].some(defaultShouldStore)).toBe(false);
  });
});
