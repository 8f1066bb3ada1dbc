import type { DemoEvent } from './events.js';
import { SAGAS } from './operations.js';
import type { Timeline } from './timeline.js';

/** What the events told about the circuit breakers, over every process. */
export interface BreakerCounts {
  opened: number;
  /** Attempts the queue did not make because the target's circuit was open. */
  callsNotMade: number;
}

/** What the events told about the sagas, over every process. */
export interface SagaCounts {
  /** Steps completed, by saga type. */
  stepsCompleted: Record<string, number>;
  /** Steps compensated, by `<saga type>/<step>`. */
  stepsCompensated: Record<string, number>;
  /** Compensations that failed and were retried. */
  compensationErrors: number;
  stuck: number;
}

const stepsOf = (saga: string): readonly string[] =>
  (SAGAS as Readonly<Record<string, readonly string[]>>)[saga] ?? [];

const times = (n: number): string => (n === 1 ? '' : ` after ${n} attempts`);

/**
 * Prints what the sagas and the breakers report (from this process and the worker processes) on
 * the timeline — every step completed, every failed attempt, every compensation — and counts
 * them for the summary.
 */
export function eventPrinter(timeline: Timeline): {
  readonly onEvent: (e: DemoEvent) => void;
  readonly breaker: BreakerCounts;
  readonly sagas: SagaCounts;
} {
  const breaker: BreakerCounts = { opened: 0, callsNotMade: 0 };
  const sagas: SagaCounts = {
    stepsCompleted: {},
    stepsCompensated: {},
    compensationErrors: 0,
    stuck: 0,
  };
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
          `${e.saga} ${e.subject}: ${e.step} attempt ${e.attempt} failed (${e.error})`,
          'dim',
        );
        break;
      case 'step-completed': {
        sagas.stepsCompleted[e.saga] = (sagas.stepsCompleted[e.saga] ?? 0) + 1;
        const steps = stepsOf(e.saga);
        const last = e.index === steps.length - 1;
        timeline.line(
          e.process,
          `${e.saga} ${e.subject}: ✓ step ${e.index + 1}/${steps.length} ${e.step}${times(e.attempts)}${last ? ' — saga completed' : ''}`,
          last ? 'ok' : 'plain',
        );
        break;
      }
      case 'compensating':
        timeline.line(
          e.process,
          `${e.saga} ${e.subject}: gave up (${e.reason}; ${e.outcome === 'unknown' ? 'the last step may have happened' : 'the last step did nothing'}): compensating in reverse`,
          'warn',
        );
        break;
      case 'compensation-error':
        sagas.compensationErrors++;
        timeline.line(
          e.process,
          `${e.saga} ${e.subject}: ↺ undoing ${e.step} failed (attempt ${e.attempts}: ${e.error ?? '?'}), retrying`,
          'dim',
        );
        break;
      case 'compensation-stuck':
        sagas.stuck++;
        timeline.line(
          e.process,
          `${e.saga} ${e.subject}: ↺ undoing ${e.step} STUCK after ${e.attempts} attempts (still retried)`,
          'bad',
        );
        break;
      case 'step-compensated': {
        const key = `${e.saga}/${e.step}`;
        sagas.stepsCompensated[key] = (sagas.stepsCompensated[key] ?? 0) + 1;
        timeline.line(
          e.process,
          `${e.saga} ${e.subject}: ↺ ${e.step} compensated (${e.outcome === 'unknown' ? 'its outcome was unknown' : 'it had completed'})`,
          'warn',
        );
        break;
      }
      case 'compensated':
        timeline.line(e.process, `${e.saga} ${e.subject}: compensated (${e.reason})`, 'warn');
        break;
      case 'credit':
        timeline.line('credit ledger', e.text, e.tone ?? 'plain');
        break;
    }
  };
  return { onEvent, breaker, sagas };
}
