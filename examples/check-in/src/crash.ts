import type { FrozenMessage } from './config.js';
import type { Timeline } from './timeline.js';
import type { WorkerProcess } from './worker-processes.js';

/** Who answers each saga step, for the timeline. */
const DOWNSTREAM: Readonly<Record<string, string>> = {
  'generate-barcode': 'the barcode generator',
  'send-boarding-pass': 'output management',
  'charge-card': 'the card service',
};

/** Options of {@link crashPlan}. */
export interface CrashPlanOptions {
  readonly victim: WorkerProcess;
  /** Starts the replacement worker. */
  readonly restart: () => Promise<WorkerProcess>;
  /** The passenger or payment a saga is for. */
  readonly subjectOf: (sagaId: string) => Promise<string>;
  readonly timeline: Timeline;
  /** Kill anyway after this long, ms, if the victim never froze. */
  readonly fallbackMs: number;
}

/** What `--crash` did: the worker it killed, why, and the worker started in its place. */
export interface CrashReport {
  readonly killed: WorkerProcess;
  readonly why: string;
  readonly started: WorkerProcess;
}

/**
 * `--crash`: kills the victim with SIGKILL once it froze (or at the fallback time, or when the
 * story ends first) and starts another. It always kills exactly one worker.
 */
export interface CrashPlan {
  /** Call with the victim's `frozen` message. */
  onFrozen(message: FrozenMessage): void;
  /** Resolves once the victim was killed (now, if it had not been yet) and the replacement runs. */
  done(): Promise<CrashReport>;
}

/** Arms the crash of `--crash`. */
export function crashPlan(options: CrashPlanOptions): CrashPlan {
  const { victim, timeline } = options;
  let crash: Promise<CrashReport> | undefined;
  const kill = (why: string): Promise<CrashReport> => {
    if (crash) return crash;
    clearTimeout(timer);
    crash = (async () => {
      victim.child.kill('SIGKILL');
      const how = await victim.exited;
      timeline.line('demo', `killed ${victim.name} (pid ${victim.pid}, ${how}) ${why}`, 'bad');
      const started = await options.restart();
      timeline.line(
        'demo',
        `started ${started.name} (pid ${started.pid}); expired leases hand it the dead worker's sagas`,
        'info',
      );
      return { killed: victim, why, started };
    })();
    return crash;
  };
  const timer = setTimeout(
    () => void kill(`(${options.fallbackMs / 1000} s in; it had not finished a call yet)`),
    options.fallbackMs,
  );
  return {
    onFrozen(m) {
      void options
        .subjectOf(m.id)
        .then(
          (subject) =>
            void kill(
              `right after ${DOWNSTREAM[m.step] ?? m.step} answered ${m.status} for ${subject} (${m.saga} step ${m.step}), before the worker journaled it`,
            ),
        );
    },
    done() {
      // The story ended before the victim froze or the fallback fired: kill it now, so that
      // `--crash` always kills a worker and says which.
      return kill('(the story ended before it finished a call)');
    },
  };
}
