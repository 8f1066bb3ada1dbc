import { describe, expect, it } from '@jest/globals';
import { isIdempotencyStoreFullError } from '../errors.js';
import { memoryIdempotencyStore } from './memory-store.js';

const response = (bytes: number) => ({ status: 201, headers: {}, body: Buffer.alloc(bytes) });

describe('memoryIdempotencyStore', () => {
  it('expires an in-flight claim with its lease and reports the takeover', async () => {
    let now = 1_000;
    const store = memoryIdempotencyStore({ now: () => now });
    expect(await store.claim({ key: 'k', fingerprint: 'f', owner: 'a', leaseMs: 100 })).toEqual({
      outcome: 'claimed',
      recovered: false,
    });
    now += 40;
    expect(await store.claim({ key: 'k', fingerprint: 'f', owner: 'b', leaseMs: 100 })).toEqual({
      outcome: 'in-flight',
      leaseRemainingMs: 60,
    });
    expect(await store.claim({ key: 'k', fingerprint: 'g', owner: 'b', leaseMs: 100 })).toEqual({
      outcome: 'mismatch',
    });
    now += 100;
    expect(await store.claim({ key: 'k', fingerprint: 'f', owner: 'b', leaseMs: 100 })).toEqual({
      outcome: 'claimed',
      recovered: true,
    });
    expect(
      await store.complete({
        fingerprint: 'f',
        key: 'k',
        owner: 'a',
        response: response(1),
        retentionMs: 1000,
      }),
    ).toBe(false);
    expect(
      await store.complete({
        fingerprint: 'f',
        key: 'k',
        owner: 'b',
        response: response(1),
        retentionMs: 1000,
      }),
    ).toBe(true);
    now += 1001;
    expect(
      (await store.claim({ key: 'k', fingerprint: 'g', owner: 'c', leaseMs: 100 })).outcome,
    ).toBe('claimed');
  });

  it('still evicts a record that expired after a walk found none expired, before older live ones', async () => {
    let now = 0;
    const store = memoryIdempotencyStore({ maxEntries: 3, now: () => now });
    const done = async (key: string, retentionMs: number): Promise<void> => {
      await store.claim({ key, fingerprint: 'f', owner: key, leaseMs: 1_000 });
      await store.complete({
        key,
        fingerprint: 'f',
        owner: key,
        response: response(1),
        retentionMs,
      });
    };
    await done('a', 100_000);
    await done('b', 100_000);
    await done('c', 500);
    now = 100;
    // Full, nothing expired yet: the oldest completed record (a) makes room.
    await store.claim({ key: 'd', fingerprint: 'f', owner: 'd', leaseMs: 1_000 });
    now = 600;
    // c has expired since: it goes first, b (older, still live) stays.
    await store.claim({ key: 'e', fingerprint: 'f', owner: 'e', leaseMs: 1_000 });
    const outcome = async (key: string) =>
      (await store.claim({ key, fingerprint: 'f', owner: 'x', leaseMs: 1_000 })).outcome;
    expect(await outcome('b')).toBe('completed');
    expect(await outcome('d')).toBe('in-flight');
    expect(await outcome('e')).toBe('in-flight');
  });

  it('evicts the oldest completed record when full, never an in-flight one', async () => {
    const store = memoryIdempotencyStore({ maxEntries: 2 });
    await store.claim({ key: 'a', fingerprint: 'f', owner: 'o', leaseMs: 10_000 });
    await store.complete({
      fingerprint: 'f',
      key: 'a',
      owner: 'o',
      response: response(1),
      retentionMs: 10_000,
    });
    await store.claim({ key: 'b', fingerprint: 'f', owner: 'o', leaseMs: 10_000 });
    // Full: the completed a makes room for c.
    expect(
      (await store.claim({ key: 'c', fingerprint: 'f', owner: 'o', leaseMs: 10_000 })).outcome,
    ).toBe('claimed');
    // b and c are in flight and the store is full: a claim fails rather than evict one of them,
    // and a is gone (it runs as new once there is room).
    const error = await store
      .claim({ key: 'a', fingerprint: 'f', owner: 'p', leaseMs: 10 })
      .catch((e: unknown) => e);
    expect(isIdempotencyStoreFullError(error)).toBe(true);
    await store.release({ key: 'b', owner: 'o' });
    expect(
      (await store.claim({ key: 'a', fingerprint: 'f', owner: 'p', leaseMs: 10 })).outcome,
    ).toBe('claimed');
  });

  it('bounds the bytes of kept responses', async () => {
    const store = memoryIdempotencyStore({ maxBytes: 1_000 });
    await store.claim({ key: 'a', fingerprint: 'f', owner: 'o', leaseMs: 10_000 });
    expect(
      await store.complete({
        fingerprint: 'f',
        key: 'a',
        owner: 'o',
        response: response(600),
        retentionMs: 10_000,
      }),
    ).toBe(true);
    await store.claim({ key: 'b', fingerprint: 'f', owner: 'o', leaseMs: 10_000 });
    expect(
      await store.complete({
        fingerprint: 'f',
        key: 'b',
        owner: 'o',
        response: response(600),
        retentionMs: 10_000,
      }),
    ).toBe(true);
    // a was evicted to make room for b
    expect(
      (await store.claim({ key: 'a', fingerprint: 'g', owner: 'p', leaseMs: 10 })).outcome,
    ).toBe('claimed');
    expect(
      (await store.claim({ key: 'b', fingerprint: 'f', owner: 'p', leaseMs: 10 })).outcome,
    ).toBe('completed');
  });

  it('completes a record that is gone (nobody else holds the key), and answers a repeat with true', async () => {
    const store = memoryIdempotencyStore();
    const done = { key: 'lost', fingerprint: 'f', owner: 'a', retentionMs: 1000 };
    expect(await store.complete({ ...done, response: response(1) })).toBe(true);
    expect(await store.complete({ ...done, response: response(1) })).toBe(true);
    expect(await store.complete({ ...done, owner: 'b', response: response(1) })).toBe(false);
    expect(await store.claim({ key: 'lost', fingerprint: 'f', owner: 'c', leaseMs: 100 })).toEqual({
      outcome: 'completed',
      response: response(1),
    });
    expect(await store.claim({ key: 'lost', fingerprint: 'g', owner: 'c', leaseMs: 100 })).toEqual({
      outcome: 'mismatch',
    });
  });
});

describe('memoryIdempotencyStore at capacity', () => {
  it('keeps accepting claims at maxEntries, evicting the oldest completed records in batches', async () => {
    const store = memoryIdempotencyStore({ maxEntries: 640 });
    const claim = (i: number) =>
      store.claim({ key: `k${i}`, fingerprint: 'f', owner: `o${i}`, leaseMs: 60_000 });
    const done = (i: number) =>
      store.complete({
        key: `k${i}`,
        fingerprint: 'f',
        owner: `o${i}`,
        response: { status: 201, headers: {}, body: Buffer.from(`r${i}`) },
        retentionMs: 60_000,
      });
    for (let i = 0; i < 2_000; i++) {
      expect(await claim(i)).toEqual({ outcome: 'claimed', recovered: false });
      expect(await done(i)).toBe(true);
    }
    // The newest record is still replayed; the oldest ones made room.
    const newest = await claim(1_999);
    expect(newest.outcome).toBe('completed');
    expect((await claim(0)).outcome).toBe('claimed');
  });
});
