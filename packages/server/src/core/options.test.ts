import { describe, expect, it } from '@jest/globals';
import { isInvalidOptionError } from '@unfazed/contract';
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
    [{ store, storedHeaders: ['Set-Cookie'] }, 'storedHeaders'],
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

  it('stores 2xx, 3xx and 4xx outcomes but not 5xx, 408, 425, 429', () => {
    expect([200, 201, 302, 400, 404, 409, 422].every(defaultShouldStore)).toBe(true);
    expect([408, 425, 429, 500, 502, 503].some(defaultShouldStore)).toBe(false);
  });
});
