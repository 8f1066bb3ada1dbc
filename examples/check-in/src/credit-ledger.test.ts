import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import { memoryCreditLedger, redisCreditLedger, type CreditLedger } from './credit-ledger.js';

let ctx: RedisTestContext;
let n = 0;
beforeAll(async () => {
  ctx = await redisTestContext('check-in-credit');
});
afterAll(async () => {
  await ctx.close();
});

const kinds: [string, () => CreditLedger][] = [
  ['memory', () => memoryCreditLedger(100)],
  ['Redis', () => redisCreditLedger(ctx.connect(), `${ctx.prefix}${++n}:`, 100)],
];

const pay = { paymentId: 'PAY-1', customerId: 'P01' };

describe.each(kinds)('the %s credit ledger', (_kind, make) => {
  it('takes credit once per step key, and answers a repeat with what the first took', async () => {
    const ledger = make();
    const first = await ledger.deduct('s1:deduct-credit', { ...pay, wanted: 40 });
    expect(first).toEqual({ taken: 40, balance: 60, replayed: false, refused: false });
    // Run again (a worker died after the effect, before the journal write), even asking more.
    const again = await ledger.deduct('s1:deduct-credit', { ...pay, wanted: 70 });
    expect(again).toEqual({ taken: 40, balance: 60, replayed: true, refused: false });
    const snap = await ledger.snapshot();
    expect(snap.movements).toEqual([
      expect.objectContaining({ kind: 'deduct', amount: 40, key: 's1:deduct-credit', ...pay }),
    ]);
    expect(snap.balances.get('P01')).toBe(60);
  });

  it('takes once when two holders run the same step at the same time', async () => {
    const ledger = make();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => ledger.deduct('s1:deduct-credit', { ...pay, wanted: 30 })),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(results.every((r) => r.taken === 30)).toBe(true);
    expect((await ledger.snapshot()).balances.get('P01')).toBe(70);
  });

  it('takes no more than the customer has', async () => {
    const ledger = make();
    await ledger.deduct('s1:deduct-credit', { ...pay, wanted: 80 });
    const second = await ledger.deduct('s2:deduct-credit', {
      ...pay,
      paymentId: 'PAY-2',
      wanted: 80,
    });
    expect(second).toMatchObject({ taken: 20, balance: 0 });
  });

  it('gives back exactly what the step key took, once per compensation key', async () => {
    const ledger = make();
    await ledger.deduct('s1:deduct-credit', { ...pay, wanted: 40 });
    const back = await ledger.restore('s1:deduct-credit:compensate', 's1:deduct-credit', pay);
    expect(back).toEqual({ restored: 40, balance: 100, replayed: false });
    const again = await ledger.restore('s1:deduct-credit:compensate', 's1:deduct-credit', pay);
    expect(again).toEqual({ restored: 40, balance: 100, replayed: true });
    const snap = await ledger.snapshot();
    expect(snap.movements.map((m) => [m.kind, m.amount])).toEqual([
      ['deduct', 40],
      ['restore', 40],
    ]);
    expect(snap.balances.get('P01')).toBe(100);
  });

  it('gives nothing back when the deduct never happened (outcome unknown), and refuses a late one', async () => {
    const ledger = make();
    const back = await ledger.restore('s1:deduct-credit:compensate', 's1:deduct-credit', pay);
    expect(back).toEqual({ restored: 0, balance: 100, replayed: false });
    // A stalled holder of the step runs it after the compensation: it must not take anything.
    const late = await ledger.deduct('s1:deduct-credit', { ...pay, wanted: 40 });
    expect(late).toMatchObject({ taken: 0, refused: true });
    const snap = await ledger.snapshot();
    expect(snap.movements).toEqual([]);
    expect(snap.balances.get('P01') ?? 100).toBe(100);
  });
});
