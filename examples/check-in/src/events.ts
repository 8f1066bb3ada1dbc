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
  | {
      readonly kind: 'attempt-failed';
      readonly op: string;
      readonly subject: string;
      readonly attempt: number;
      readonly error: string;
      readonly process: string;
    }
  | { readonly kind: 'circuit-skip'; readonly op: string; readonly process: string }
  | {
      readonly kind: 'succeeded';
      readonly op: string;
      readonly subject: string;
      readonly attempts: number;
      readonly process: string;
    }
  | {
      readonly kind: 'gave-up';
      readonly op: string;
      readonly subject: string;
      readonly reason: string;
      readonly process: string;
    };

/** Where events go: the timeline in the main process, the parent over IPC in a worker. */
export type Report = (event: DemoEvent) => void;

/** Human names of the downstreams, by URL origin. */
export type TargetNames = Readonly<Record<string, string>>;

/**
 * Forwards what a durable queue and its client do to `report`. The subject (passenger or
 * payment id) is the key the operation was started with, read once from the store.
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
  durable.events.on('attempt', (e) => {
    if (e.error === undefined) return;
    void subjectOf(e.id).then((subject) =>
      report({
        kind: 'attempt-failed',
        op: e.type,
        subject,
        attempt: e.attempt,
        error: e.error ?? '',
        process: processName,
      }),
    );
  });
  durable.events.on('scheduled', (e) => {
    if (e.reason === 'circuit-open')
      report({ kind: 'circuit-skip', op: e.type, process: processName });
  });
  durable.events.on('succeeded', (e) => {
    void subjectOf(e.id).then((subject) =>
      report({
        kind: 'succeeded',
        op: e.type,
        subject,
        attempts: e.attempts,
        process: processName,
      }),
    );
  });
  for (const name of ['failed', 'dead'] as const) {
    durable.events.on(name, (e) => {
      void subjectOf(e.id).then((subject) =>
        report({
          kind: 'gave-up',
          op: e.type,
          subject,
          reason: e.failure.code,
          process: processName,
        }),
      );
    });
  }
}
