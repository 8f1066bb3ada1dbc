import { describe, expect, it } from '@jest/globals';
import { eventPrinter } from './event-printer.js';
import type { DemoEvent } from './events.js';
import { createTimeline } from './timeline.js';

/** A plain timeline written to a string. */
function capture(): { text: () => string; timeline: ReturnType<typeof createTimeline> } {
  let out = '';
  const stream = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  const timeline = createTimeline({ out: stream, color: false, enabled: true, start: Date.now() });
  return { text: () => out, timeline };
}

const from = { process: 'worker-2', saga: 'payment', subject: 'PAY-1' } as const;

describe('eventPrinter', () => {
  it('prints every saga event on the timeline and counts steps and compensations', () => {
    const { text, timeline } = capture();
    const { onEvent, sagas } = eventPrinter(timeline);
    const events: DemoEvent[] = [
      { kind: 'step-completed', ...from, step: 'deduct-credit', index: 0, attempts: 1 },
      { kind: 'attempt-failed', ...from, step: 'charge-card', attempt: 1, error: 'status 502' },
      { kind: 'compensating', ...from, reason: 'deadline', outcome: 'unknown' },
      { kind: 'compensation-error', ...from, step: 'charge-card', attempts: 1, error: 'timeout' },
      { kind: 'compensation-stuck', ...from, step: 'charge-card', attempts: 10 },
      { kind: 'step-compensated', ...from, step: 'charge-card', outcome: 'unknown' },
      { kind: 'credit', text: 'PAY-1: gave 40 € back to P01', tone: 'warn', process: 'worker-2' },
      { kind: 'step-compensated', ...from, step: 'deduct-credit', outcome: 'completed' },
      { kind: 'compensated', ...from, reason: 'deadline' },
      {
        kind: 'step-completed',
        process: 'check-in service',
        saga: 'check-in',
        subject: 'P01',
        step: 'send-boarding-pass',
        index: 1,
        attempts: 3,
      },
    ];
    events.forEach(onEvent);
    const lines = text()
      .trimEnd()
      .split('\n')
      .map((l) => l.replace(/^\s*\d+\.\d\ds\s+/, ''));
    expect(lines).toEqual([
      'worker-2           payment PAY-1: ✓ step 1/2 deduct-credit',
      'worker-2           payment PAY-1: charge-card attempt 1 failed (status 502)',
      'worker-2           payment PAY-1: gave up (deadline; the last step may have happened): compensating in reverse',
      'worker-2           payment PAY-1: ↺ undoing charge-card failed (attempt 1: timeout), retrying',
      'worker-2           payment PAY-1: ↺ undoing charge-card STUCK after 10 attempts (still retried)',
      'worker-2           payment PAY-1: ↺ charge-card compensated (its outcome was unknown)',
      'credit ledger      PAY-1: gave 40 € back to P01',
      'worker-2           payment PAY-1: ↺ deduct-credit compensated (it had completed)',
      'worker-2           payment PAY-1: compensated (deadline)',
      'check-in service   check-in P01: ✓ step 2/2 send-boarding-pass after 3 attempts — saga completed',
    ]);
    expect(sagas).toEqual({
      stepsCompleted: { payment: 1, 'check-in': 1 },
      stepsCompensated: { 'payment/charge-card': 1, 'payment/deduct-credit': 1 },
      compensationErrors: 1,
      stuck: 1,
    });
  });
});
