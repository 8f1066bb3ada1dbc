import { describe, expect, it } from '@jest/globals';
import type { IdempotencyEvent } from './events.js';
import { IdempotencyCore } from './idempotency-core.js';
import type { IdempotencyStore } from './store.js';
import { memoryIdempotencyStore } from '../stores/memory-store.js';

interface Req {
  user?: string;
  nonce?: string;
}
const input = (body: string, req: Req = {}) => ({
  req,
  key: 'k-1',
  method: 'POST',
  target: '/charges',
  body: Buffer.from(body),
});

describe('IdempotencyCore', () => {
  it('uses a custom fingerprint instead of the raw bytes', async () => {
    const core = new IdempotencyCore<Req>({
      store: memoryIdempotencyStore(),
      fingerprint: (_req, raw) => String((JSON.parse(raw.toString()) as { amount: number }).amount),
    });
    const first = await core.begin(input('{"amount":1,"at":1}'));
    expect(first.action).toBe('run');
    const same = await core.begin(input('{"at":2,"amount":1}'));
    expect(same).toMatchObject({ action: 'respond', response: { status: 409 } });
    const other = await core.begin(input('{"amount":2}'));
    expect(other).toMatchObject({ action: 'respond', response: { status: 422 } });
  });

  it('rejects when the scope function throws (an application bug, not a 5xx to store)', async () => {
    const core = new IdempotencyCore<Req>({
      store: memoryIdempotencyStore(),
      scope: () => {
        throw new Error('no session');
      },
    });
    await expect(core.begin(input('{}'))).rejects.toThrow('no session');
  });

  it('answers 503 when the store is slower than storeTimeoutMs, and undoes a claim that lands late', async () => {
    const inner = memoryIdempotencyStore();
    const released: string[] = [];
    const slow: IdempotencyStore = {
      claim: (i) => new Promise((r) => setTimeout(() => r(inner.claim(i)), 150)),
      complete: (i) => inner.complete(i),
      release: (i) => {
        released.push(i.owner);
        return inner.release(i);
      },
      renew: (i) => inner.renew(i),
    };
    const errors: IdempotencyEvent[] = [];
    const core = new IdempotencyCore<Req>({
      store: slow,
      storeTimeoutMs: 50,
      unavailableRetryAfterMs: 2_500,
      on: { storeError: (e) => errors.push(e) },
    });
    const started = Date.now();
    const answer = await core.begin(input('{}'));
    expect(Date.now() - started).toBeLessThan(140);
    expect(answer).toMatchObject({
      action: 'respond',
      response: { status: 503, headers: { 'retry-after': '3' } },
    });
    expect(errors).toEqual([expect.objectContaining({ type: 'storeError', operation: 'claim' })]);
    await new Promise((r) => setTimeout(r, 200));
    expect(released).toHaveLength(1);
    // The late claim was undone: the key is free again.
    const fresh = new IdempotencyCore<Req>({ store: inner });
    expect((await fresh.begin(input('{}'))).action).toBe('run');
  });

  it('ignores a listener that throws', async () => {
    const core = new IdempotencyCore<Req>({
      store: memoryIdempotencyStore(),
      on: {
        claimed: () => {
          throw new Error('listener bug');
        },
      },
    });
    expect((await core.begin(input('{}'))).action).toBe('run');
  });
});
