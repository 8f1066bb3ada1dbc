import { describe, expect, it } from '@jest/globals';
import { isInvalidOptionError } from '@unfazed/contract';
import { isFaultsNotFiredError } from './errors.js';
import { faults } from './fault.js';
import { plans, type FaultCallInfo } from './plan.js';
import { seededRandom } from './prng.js';

const call = (key = 'k', attempt = 1): FaultCallInfo => ({ transport: 'server', key, attempt });
const kinds = (plan: ReturnType<typeof plans.none>, n: number, key?: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => plan.next(call(key?.(i) ?? 'k', i + 1))?.kind ?? 'pass');

describe('seededRandom', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = Array.from({ length: 5 }, seededRandom(42).next);
    const b = seededRandom(42);
    expect(Array.from({ length: 5 }, b.next)).toEqual(a);
    expect(Array.from({ length: 5 }, seededRandom(43).next)).not.toEqual(a);
    for (const x of a) expect(x >= 0 && x < 1).toBe(true);
  });

  it('int, chance and pick stay in range', () => {
    const r = seededRandom(1);
    for (let i = 0; i < 200; i++) {
      const n = r.int(3, 5);
      expect(n >= 3 && n <= 5).toBe(true);
    }
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    expect(() => r.pick([])).toThrow(RangeError);
  });
});

describe('plans', () => {
  it('times(2, 503): two faults then pass; pending shrinks; assertAllFaultsFired passes after', () => {
    const plan = plans.times(2, faults.status(503));
    expect(plan.pendingFaults()).toHaveLength(2);
    expect(() => plan.assertAllFaultsFired()).toThrow(/2 planned fault\(s\) did not fire/);
    expect(kinds(plan, 3)).toEqual(['status', 'status', 'pass']);
    expect(plan.pendingFaults()).toEqual([]);
    plan.assertAllFaultsFired();
    expect(plan.events.map((e) => [e.seq, e.index, e.label])).toEqual([
      [1, 0, 'beforeSend'],
      [2, 1, 'beforeSend'],
    ]);
    expect(plan.history.map((h) => h.fault?.kind)).toEqual(['status', 'status', undefined]);
  });

  it('sequence with pass steps, repeat, and a fault after the end', () => {
    expect(kinds(plans.sequence([faults.reset(), 'pass'], { then: 'repeat' }), 5)).toEqual([
      'reset',
      'pass',
      'reset',
      'pass',
      'reset',
    ]);
    expect(kinds(plans.sequence(['pass'], { then: faults.hang() }), 3)).toEqual([
      'pass',
      'hang',
      'hang',
    ]);
  });

  it('sequence per key restarts for each key', () => {
    const plan = plans.times(1, faults.lostResponse(), { per: 'key' });
    expect(kinds(plan, 4, (i) => (i < 2 ? 'a' : 'b'))).toEqual([
      'lostResponse',
      'pass',
      'lostResponse',
      'pass',
    ]);
    expect(plan.attempts('b').map((r) => r.fault?.kind ?? 'pass')).toEqual([
      'lostResponse',
      'pass',
    ]);
  });

  it('rate is deterministic for a seed, injects about the rate, respects maxFaults', () => {
    const a = kinds(plans.rate(0.3, [faults.status(503), faults.reset()], { seed: 9 }), 200);
    const b = kinds(plans.rate(0.3, [faults.status(503), faults.reset()], { seed: 9 }), 200);
    const c = kinds(plans.rate(0.3, [faults.status(503), faults.reset()], { seed: 10 }), 200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const hits = a.filter((k) => k !== 'pass').length;
    expect(hits).toBeGreaterThan(30);
    expect(hits).toBeLessThan(90);
    expect(new Set(a)).toEqual(new Set(['pass', 'status', 'reset']));
    const capped = plans.rate(1, faults.reset(), { seed: 1, maxFaults: 2 });
    expect(kinds(capped, 4)).toEqual(['reset', 'reset', 'pass', 'pass']);
    expect(capped.seed).toBe(1);
    expect(capped.replayHint()).toMatch(/^replay with seed=1 \(UNFAZED_SEED=1/);
  });

  it('rate without a seed uses UNFAZED_SEED', () => {
    const before = process.env.UNFAZED_SEED;
    process.env.UNFAZED_SEED = '1234';
    try {
      const x = plans.rate(0.5, faults.reset());
      const y = plans.rate(0.5, faults.reset(), { seed: 1234 });
      expect(x.seed).toBe(1234);
      expect(kinds(x, 50)).toEqual(kinds(y, 50));
    } finally {
      if (before === undefined) delete process.env.UNFAZED_SEED;
      else process.env.UNFAZED_SEED = before;
    }
  });

  it('when: the predicate decides from the call', () => {
    const plan = plans.when((c) => (c.attempt === 1 ? faults.lostResponse() : 'pass'));
    expect(kinds(plan, 2)).toEqual(['lostResponse', 'pass']);
    expect(plan.formatEvents()).toContain('#1 server  key=k attempt 1: lostResponse (afterSend)');
  });

  it('always and none', () => {
    expect(kinds(plans.always(faults.hang()), 2)).toEqual(['hang', 'hang']);
    expect(kinds(plans.none(), 2)).toEqual(['pass', 'pass']);
  });

  it('the not-fired error carries the pending faults', () => {
    const plan = plans.sequence([faults.status(500), faults.reset()]);
    plan.next(call());
    try {
      plan.assertAllFaultsFired();
      throw new Error('should have thrown');
    } catch (error) {
      expect(isFaultsNotFiredError(error)).toBe(true);
      expect((error as { pending: unknown[] }).pending).toEqual([faults.reset()]);
    }
  });

  it('rejects bad input, naming the option', () => {
    const bad = (fn: () => unknown, option: string) => {
      try {
        fn();
      } catch (error) {
        expect(isInvalidOptionError(error)).toBe(true);
        expect((error as { option: string }).option).toBe(option);
        return;
      }
      throw new Error(`no error for ${option}`);
    };
    bad(() => faults.status(99), 'status');
    bad(() => faults.delay(-1), 'ms');
    bad(() => faults.slowBody({ chunkSize: 0 }), 'chunkSize');
    bad(() => faults.hang({ label: 'midBody' as never }), 'label');
    bad(() => plans.rate(2, faults.reset()), 'probability');
    bad(() => plans.rate(0.5, [], {}), 'fault');
    bad(() => plans.rate(0.5, faults.reset(), { seed: -3 }), 'seed');
    bad(() => plans.times(2, { kind: 'status' } as never), 'fault');
    bad(() => plans.sequence([faults.reset()], { per: 'route' as never }), 'per');
  });
});
