import type { Client } from '@unfazed/client';
import type { Durable } from '@unfazed/client/durable';

/** What the services and workers report to the timeline (across processes, as JSON). */
export type DemoEvent =
  | {
      readonly kind: 'circuit';
      readonly target: string;
      readonly to: 'open' | 'half-open' | 'closed';
      readonly openForMs?: number;
      readonly process: string;
    }
  | { readonly kind: 'circuit-skip'; readonly saga: string; readonly process: string }
  | {
      readonly kind: 'attempt-failed';
      readonly saga: string;
      readonly step: string;
      readonly subject: string;
      readonly attempt: number;
      readonly error: string;
      readonly process: string;
    }
  | {
      readonly kind: 'step-completed';
      readonly saga: string;
      readonly step: string;
      /** 0-based position of the step in its saga. */
      readonly index: number;
      readonly subject: string;
      readonly attempts: number;
      readonly process: string;
    }
  | {
      readonly kind: 'compensating';
      readonly saga: string;
      readonly subject: string;
      /** Why it gave up: `status 402`, `deadline`, ... */
      readonly reason: string;
      /** `unknown`: the step it gave up on may have had its effect (it will be compensated). */
      readonly outcome: 'failed' | 'unknown';
      readonly process: string;
    }
  | {
      readonly kind: 'compensation-error' | 'compensation-stuck';
      readonly saga: string;
      readonly step: string;
      readonly subject: string;
      readonly attempts: number;
      readonly error?: string;
      readonly process: string;
    }
  | {
      readonly kind: 'step-compensated';
      readonly saga: string;
      readonly step: string;
      readonly subject: string;
      readonly outcome: 'completed' | 'unknown';
      readonly process: string;
    }
  | {
      readonly kind: 'compensated';
      readonly saga: string;
      readonly subject: string;
      readonly reason: string;
      readonly process: string;
    }
  | {
      /** What a local step of the payment saga did to the credit ledger. */
      readonly kind: 'credit';
      readonly text: string;
      readonly tone?: 'plain' | 'warn' | 'bad';
      readonly process: string;
    };

/** Where events go: the timeline in the main process, the parent over IPC in a worker. */
export type Report = (event: DemoEvent) => void;

/** Human names of the downstreams, by URL origin. */
export type TargetNames = Readonly<Record<string, string>>;

/**
 * Forwards what a durable queue's sagas and its client do to `report`: failed attempts, every
 * step completed, and the compensations (`compensating`, each `step-compensated`, a
 * `compensation-error` or `-stuck`, `compensated`). The subject (passenger or payment id) is the
 * key the saga was started with: known from `started` in the process that started it, read once
 * from the store elsewhere.
 */
export function observe(
  durable: Durable,
  client: Client,
  processName: string,
  targets: TargetNames,
  report: Report,
): void {
  const subjects = new Map<string, Promise<string>>();
  const subjectOf = (id: string): Promise<string> => {
    let s = subjects.get(id);
    if (!s) {
      s = durable.store.get(id).then(
        (rec) => rec?.key ?? id,
        () => id,
      );
      subjects.set(id, s);
    }
    return s;
  };
  // In order, per saga: each event waits for the subject, which resolves once.
  const about = (id: string, make: (subject: string) => DemoEvent): void =>
    void subjectOf(id).then((subject) => report(make(subject)));
  durable.events.on('started', (e) => {
    if (e.key !== undefined && !subjects.has(e.id)) subjects.set(e.id, Promise.resolve(e.key));
  });
  client.on('circuit', (e) => {
    const target = targets[e.key] ?? e.key;
    report({
      kind: 'circuit',
      target,
      to: e.to,
      process: processName,
      ...(e.nextProbeAt !== undefined
        ? { openForMs: Math.max(0, e.nextProbeAt - Date.now()) }
        : {}),
    });
  });
  durable.events.on('scheduled', (e) => {
    if (e.reason === 'circuit-open')
      report({ kind: 'circuit-skip', saga: e.type, process: processName });
  });
  durable.events.on('attempt', (e) => {
    if (e.error === undefined) return;
    const error = e.error;
    about(e.id, (subject) => ({
      kind: 'attempt-failed',
      saga: e.type,
      step: e.step ?? e.type,
      subject,
      attempt: e.attempt,
      error,
      process: processName,
    }));
  });
  durable.events.on('step-completed', (e) => {
    about(e.id, (subject) => ({
      kind: 'step-completed',
      saga: e.type,
      step: e.step,
      index: e.index,
      subject,
      attempts: e.attempts,
      process: processName,
    }));
  });
  durable.events.on('compensating', (e) => {
    about(e.id, (subject) => ({
      kind: 'compensating',
      saga: e.type,
      subject,
      reason: e.failure.code,
      outcome: e.failure.outcome,
      process: processName,
    }));
  });
  for (const kind of ['compensation-error', 'compensation-stuck'] as const) {
    durable.events.on(kind, (e) => {
      about(e.id, (subject) => ({
        kind,
        saga: e.type,
        step: e.step,
        subject,
        attempts: e.attempts,
        ...('error' in e ? { error: e.error } : {}),
        process: processName,
      }));
    });
  }
  durable.events.on('step-compensated', (e) => {
    about(e.id, (subject) => ({
      kind: 'step-compensated',
      saga: e.type,
      step: e.step,
      subject,
      outcome: e.outcome,
      process: processName,
    }));
  });
  durable.events.on('compensated', (e) => {
    about(e.id, (subject) => ({
      kind: 'compensated',
      saga: e.type,
      subject,
      reason: e.failure.code,
      process: processName,
    }));
  });
}
