import type { DemoEvent } from './events.js';
import type { Timeline } from './timeline.js';

/** What the events told about the circuit breakers, over every process. */
export interface BreakerCounts {
  opened: number;
  /** Attempts the queue did not make because the target's circuit was open. */
  callsNotMade: number;
}

/**
 * Prints what the durable queues and the breakers report (from this process and the worker
 * processes) on the timeline, and counts the breaker's work for the summary.
 */
export function eventPrinter(timeline: Timeline): {
  readonly onEvent: (e: DemoEvent) => void;
  readonly breaker: BreakerCounts;
} {
  const breaker: BreakerCounts = { opened: 0, callsNotMade: 0 };
  const onEvent = (e: DemoEvent): void => {
    switch (e.kind) {
      case 'circuit':
        if (e.to === 'open') {
          breaker.opened++;
          const seconds = ((e.openForMs ?? 0) / 1000).toFixed(1);
          timeline.line(
            e.process,
            `circuit to the ${e.target} OPEN: no calls for ${seconds} s`,
            'warn',
          );
        } else if (e.to === 'half-open') {
          timeline.line(e.process, `circuit to the ${e.target} half-open: one probe call`, 'dim');
        } else {
          timeline.line(e.process, `circuit to the ${e.target} closed again`, 'ok');
        }
        break;
      case 'circuit-skip':
        breaker.callsNotMade++;
        break;
      case 'attempt-failed':
        timeline.line(
          e.process,
          `${e.op} for ${e.subject}: attempt ${e.attempt} failed (${e.error})`,
          'dim',
        );
        break;
      case 'succeeded':
        if (e.attempts > 1)
          timeline.line(
            e.process,
            `${e.op} for ${e.subject} done after ${e.attempts} attempts`,
            'ok',
          );
        break;
      case 'gave-up':
        timeline.line(
          e.process,
          `${e.op} for ${e.subject} gave up (${e.reason}): compensation ran`,
          'warn',
        );
        break;
    }
  };
  return { onEvent, breaker };
}
