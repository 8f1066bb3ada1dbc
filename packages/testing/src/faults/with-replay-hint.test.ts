import { describe, expect, it } from '@jest/globals';
import { faults } from './fault.js';
import { plans } from './plan.js';
import { withReplayHint } from './with-replay-hint.js';

describe('withReplayHint', () => {
  it('appends the fault log and the replay line to a failure', async () => {
    const plan = plans.rate(1, faults.reset(), { seed: 99 });
    plan.next({ transport: 'interceptor', key: 'k', attempt: 1, method: 'POST', path: '/x' });
    const error = await withReplayHint(plan, () => {
      throw new Error('expected 200');
    }).catch((e: unknown) => e as Error);
    expect(error.message).toContain('expected 200');
    expect(error.message).toContain('#1 interceptor POST /x key=k attempt 1: reset (beforeSend)');
    expect(error.message).toContain('replay with seed=99');
  });

  it('adds the note once to the stack, between the message and the frames', async () => {
    const plan = plans.rate(1, faults.reset(), { seed: 99 });
    const error = await withReplayHint(plan, () => {
      expect(1).toBe(2);
    }).catch((e: unknown) => e as Error);
    const stack = (error as Error).stack ?? '';
    expect(stack.split('replay with seed=99')).toHaveLength(2);
    expect(stack.split('Expected: 2')).toHaveLength(2);
    expect(stack.indexOf('replay with seed=99')).toBeLessThan(stack.search(/\n\s+at /));
  });

  it('returns the value when nothing fails', async () => {
    expect(await withReplayHint([plans.none()], () => 7)).toBe(7);
  });
});
