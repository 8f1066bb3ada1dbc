import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  InvalidOptionError,
  option,
  validateOptions,
  type OptionRule,
  type ShapeFor,
} from '@unfazed/contract';
import { seedRule } from '../faults/option-rules.js';
import { seededRandom } from '../faults/prng.js';
import { defaultSeed, parseSeed, replayHint } from '../faults/seed.js';
import { ChildWaitError } from './errors.js';
import { killOnExit } from './kill-on-exit.js';
import { orphanGuardFile } from './orphan-guard.js';
import { CHILD_ENV, CHILD_RUN_ENV, isCheckpointMessage, type ContinueMessage } from './protocol.js';

/** When to kill a child started by {@link runChild}. */
export type KillPlan =
  | {
      /** Kill when the child reaches `checkpoint(name)`; nothing after it runs. */
      atCheckpoint: string;
      /** Which time it reaches it (1 = the first). Default 1. */
      occurrence?: number;
    }
  | {
      /** Kill this many milliseconds after spawn (boot time included) or after `after`. */
      afterMs: number;
      /** Start the delay when the child first reaches this checkpoint instead of at spawn. */
      after?: string;
    }
  | {
      /** Kill after a delay drawn from a seeded generator, in `[min, max]` ms after spawn or `after`. */
      randomDelayMs: { min: number; max: number };
      /** Start the delay when the child first reaches this checkpoint instead of at spawn. */
      after?: string;
      /** Seed of the draw. Default: `UNFAZED_SEED`, else one random seed per test file. */
      seed?: number;
    };

/** Options of {@link runChild}. */
export interface RunChildOptions {
  /** Arguments after the module path. */
  args?: readonly string[];
  /** Added to (or, with `undefined`, removed from) the parent's environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Working directory of the child. Default: the parent's. */
  cwd?: string;
  /** When to kill it (with `signal`). Default: never; it runs until it exits or times out. */
  kill?: KillPlan;
  /** Signal used by `kill`. Default `SIGKILL`, as in a crash. */
  signal?: NodeJS.Signals;
  /**
   * Checkpoints at which the child waits until the parent calls `resume(name)` (or kills it):
   * lets a test look at Redis or a server while the child is frozen at a known point.
   */
  holdAt?: readonly string[];
  /** The child is SIGKILLed after this long and its exit marked `timedOut`. Default 30 000 ms. */
  timeoutMs?: number;
  /**
   * Node flags. Default: none for JavaScript; for `.ts`/`.mts`/`.cts` modules `--import tsx`
   * (tsx resolved from the current directory), plus `--conditions=@unfazed/source` only when
   * this package itself runs from its TypeScript sources (inside the Unfazed repository), so that
   * a child there imports the same sources; an installed package has no sources to point at.
   * A `--require` of the orphan guard (the child exits when its parent is gone) always comes first.
   */
  execArgv?: readonly string[];
}

/** A checkpoint the child reached. */
export interface CheckpointHit {
  /** The name given to `checkpoint()`. */
  readonly name: string;
  /** 1 the first time this name was reached in this run, 2 the second, … */
  readonly occurrence: number;
  /** Milliseconds since spawn. */
  readonly atMs: number;
}

/** How a child run ended. */
export interface ChildExit {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Why the parent killed it, if it did. */
  readonly killedBy: 'checkpoint' | 'delay' | 'timeout' | 'manual' | undefined;
  /** The checkpoint it was killed at (`killedBy === 'checkpoint'`). */
  readonly killedAt: string | undefined;
  /** Milliseconds from spawn to exit. */
  readonly durationMs: number;
  /** The checkpoints reached, in order. */
  readonly checkpoints: readonly CheckpointHit[];
  /** Everything written to stdout. */
  readonly stdout: string;
  /** Everything written to stderr. */
  readonly stderr: string;
  /** The seed of a random-delay kill, if one was planned. */
  readonly seed: number | undefined;
  /** One line for logs and failure messages, with the replay hint when a seed was used. */
  readonly summary: string;
}

/** The module a child runs: a path (absolute, or relative to the current directory) or a `file:` URL. */
export type ChildModule = string | URL;

/** A child process started by {@link runChild}. */
export interface ChildRun {
  /** The module's absolute path. */
  readonly module: string;
  /** 1 for the first run, then 2, 3, … after each `restart()`. */
  readonly run: number;
  /** The PID (undefined only if the spawn failed). */
  readonly pid: number | undefined;
  /** The seed of a random-delay kill, if one was planned. */
  readonly seed: number | undefined;
  /** The delay chosen for a delay kill, in ms after spawn. */
  readonly killDelayMs: number | undefined;
  /** The checkpoints reached so far. */
  readonly checkpoints: readonly CheckpointHit[];
  /** Resolves when the child has exited and its output is complete. Never rejects. */
  readonly exited: Promise<ChildExit>;
  /** stdout so far. */
  stdout(): string;
  /** stderr so far. */
  stderr(): string;
  /**
   * Resolves when the child reaches `name` (at once if it already has). Rejects with
   * {@link ChildWaitError} when it exits first or `timeoutMs` (default 10 000) passes.
   */
  waitForCheckpoint(name: string, options?: { timeoutMs?: number }): Promise<CheckpointHit>;
  /** Resolves with the stdout + stderr so far once it matches `pattern`; rejects like `waitForCheckpoint`. */
  waitForOutput(pattern: string | RegExp, options?: { timeoutMs?: number }): Promise<string>;
  /** Lets a child held at `name` (see `holdAt`) go on. Returns false if it is not held there. */
  resume(name: string): boolean;
  /** Sends `signal` (default SIGKILL) now and resolves with the exit. */
  kill(signal?: NodeJS.Signals): Promise<ChildExit>;
  /**
   * Waits for this run to end, then runs the same module again with the same options merged
   * with `options`, except the kill plan and holds, which are only what `options` says.
   */
  restart(options?: RunChildOptions): Promise<ChildRun>;
}

const TS_MODULE = /\.[cm]?tsx?$/;

const checkpointName = option.string({ nonEmpty: true });
const killPlans = {
  atCheckpoint: option.object({
    atCheckpoint: checkpointName,
    occurrence: option.number({ integer: true, min: 1 }).optional(),
  }),
  afterMs: option.object({
    afterMs: option.number({ min: 0 }),
    after: checkpointName.optional(),
  }),
  randomDelayMs: option.object({
    randomDelayMs: option
      .object({
        min: option.number({ integer: true, min: 0 }),
        max: option.number({ integer: true, min: 0 }),
      })
      .refine((range, fail) => (range.max < range.min ? fail('max', 'must be >= min') : range)),
    after: checkpointName.optional(),
    seed: seedRule.optional(),
  }),
};
const killDescription =
  '{ atCheckpoint, occurrence? }, { afterMs, after? } or { randomDelayMs, after?, seed? }';
/** A kill plan: the key it has (`atCheckpoint`, `afterMs`, `randomDelayMs`) says which schema. */
const killRule = option.passthrough<KillPlan>(killDescription).refine((value, fail) => {
  const kind = (Object.keys(killPlans) as (keyof typeof killPlans)[]).find((k) => k in value);
  if (kind === undefined) return fail(undefined, `must be ${killDescription}`);
  validateOptions(killPlans[kind] as OptionRule<unknown>, value, {
    name: 'runChild',
    path: 'kill',
  });
  return value;
});

const optionsSchema = option.object({
  args: option.array(option.string()).optional(),
  env: option.record(option.string().optional(), 'an object of strings (or undefined)').optional(),
  cwd: option.string({ nonEmpty: true }).optional(),
  kill: killRule.optional(),
  signal: option
    .string({ test: { check: /^SIG[A-Z0-9]+$/, rule: 'a signal name such as "SIGKILL"' } })
    .optional(),
  holdAt: option.array(checkpointName).optional(),
  timeoutMs: option.duration().optional(),
  execArgv: option.array(option.string()).optional(),
} satisfies ShapeFor<RunChildOptions>);

/**
 * Runs a module in a child Node process, with an IPC channel for `checkpoint()`, and kills it
 * where the test says: at a named checkpoint, after a fixed delay, or after a seeded random
 * delay (SIGKILL by default, as in a crash). Output is collected; `restart()` runs it again,
 * as a supervisor would. Children are killed when the test process exits.
 *
 * @param modulePath - the module to run: a path, absolute or relative to the current directory,
 *   or a `file:` URL (`new URL('./child.ts', import.meta.url)`, or its `href`); TypeScript
 *   modules run through tsx.
 * @example
 * const run = await runChild(new URL('./fixtures/charge-worker.ts', import.meta.url), {
 *   kill: { atCheckpoint: 'after-charge' },
 * });
 * const exit = await run.exited; // exit.signal === 'SIGKILL', exit.killedAt === 'after-charge'
 * const second = await run.restart();
 * expect((await second.exited).code).toBe(0);
 */
export async function runChild(
  modulePath: ChildModule,
  options: RunChildOptions = {},
): Promise<ChildRun> {
  return start(modulePathOf(modulePath), options, 1);
}

/** The absolute path of a {@link ChildModule}. @internal */
export function modulePathOf(module: ChildModule): string {
  const url =
    module instanceof URL
      ? module
      : typeof module === 'string' && /^file:/i.test(module)
        ? module
        : undefined;
  if (url !== undefined) {
    try {
      return fileURLToPath(url);
    } catch {
      throw new InvalidOptionError('modulePath', 'must be a file: URL or a path', String(url));
    }
  }
  if (typeof module !== 'string' || module === '') {
    throw new InvalidOptionError('modulePath', 'must be a file: URL or a non-empty path', module);
  }
  return resolvePath(module);
}

function validate(options: RunChildOptions): void {
  validateOptions(optionsSchema, options, { name: 'runChild' });
  const kill = options.kill;
  if (kill && 'atCheckpoint' in kill) {
    if (typeof kill.atCheckpoint !== 'string' || kill.atCheckpoint === '') {
      throw new InvalidOptionError(
        'kill.atCheckpoint',
        'must be a non-empty string',
        kill.atCheckpoint,
      );
    }
    if (
      kill.occurrence !== undefined &&
      (!Number.isInteger(kill.occurrence) || kill.occurrence < 1)
    ) {
      throw new InvalidOptionError(
        'kill.occurrence',
        'must be an integer of at least 1',
        kill.occurrence,
      );
    }
  } else if (kill && 'afterMs' in kill) {
    if (!Number.isFinite(kill.afterMs) || kill.afterMs < 0) {
      throw new InvalidOptionError('kill.afterMs', 'must be a non-negative number', kill.afterMs);
    }
  } else if (kill && 'randomDelayMs' in kill) {
    const { min, max } = kill.randomDelayMs;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) {
      throw new InvalidOptionError(
        'kill.randomDelayMs',
        'must be integers with 0 <= min <= max',
        kill.randomDelayMs,
      );
    }
  }
  if (
    options.timeoutMs !== undefined &&
    (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0)
  ) {
    throw new InvalidOptionError('timeoutMs', 'must be a positive number', options.timeoutMs);
  }
}

/**
 * True when this file is the TypeScript source (`src/process/run-child.ts`), which only happens
 * where the `@unfazed/source` export condition resolves: the Unfazed repository. The published
 * package runs `dist/process/run-child.js` and ships no sources.
 */
const RUNS_FROM_SOURCE = TS_MODULE.test(fileURLToPath(import.meta.url));

/** Node flags for a child module when the caller gives none. @internal */
export function defaultExecArgv(modulePath: string, fromSource = RUNS_FROM_SOURCE): string[] {
  if (!TS_MODULE.test(modulePath)) return [];
  let loader = 'tsx';
  try {
    loader = pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve('tsx')).href;
  } catch {
    // let node resolve "tsx" itself and report it if missing
  }
  return ['--import', loader, ...(fromSource ? ['--conditions=@unfazed/source'] : [])];
}

async function start(modulePath: string, options: RunChildOptions, run: number): Promise<ChildRun> {
  validate(options);
  const kill = options.kill;
  const signal = options.signal ?? 'SIGKILL';
  const holds = new Set(options.holdAt ?? []);
  let seed: number | undefined;
  let killDelayMs: number | undefined;
  if (kill && 'afterMs' in kill) killDelayMs = kill.afterMs;
  if (kill && 'randomDelayMs' in kill) {
    seed = kill.seed === undefined ? defaultSeed() : parseSeed(kill.seed, 'kill.seed');
    killDelayMs = seededRandom(seed).int(kill.randomDelayMs.min, kill.randomDelayMs.max);
  }

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, ...options.env })) {
    if (value !== undefined) env[name] = value;
  }
  env[CHILD_ENV] = '1';
  env[CHILD_RUN_ENV] = String(run);

  const execArgv = [
    '--require',
    orphanGuardFile(),
    ...(options.execArgv ?? defaultExecArgv(modulePath)),
  ];
  const child: ChildProcess = spawn(
    process.execPath,
    [...execArgv, modulePath, ...(options.args ?? [])],
    {
      cwd: options.cwd ?? process.cwd(),
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  const forget = killOnExit(child);
  const startedAt = Date.now();
  let stdout = '';
  let stderr = '';
  const checkpoints: CheckpointHit[] = [];
  const counts = new Map<string, number>();
  const held = new Map<string, number[]>();
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  let killedBy: ChildExit['killedBy'];
  let killedAt: string | undefined;
  let exit: ChildExit | undefined;

  const sendContinue = (seq: number): void => {
    if (!child.connected) return;
    const message: ContinueMessage = { type: 'unfazed:continue', seq };
    child.send(message, (error) => {
      // The child may die between our check and the write; that is not the test's problem.
      void error;
    });
  };
  const killNow = (
    by: NonNullable<ChildExit['killedBy']>,
    sig: NodeJS.Signals,
    at?: string,
  ): void => {
    if (exit) return;
    // The first reason sticks; a later kill() may still escalate, e.g. SIGTERM then SIGKILL.
    if (!killedBy) {
      killedBy = by;
      killedAt = at;
    }
    child.kill(sig);
  };

  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    notify();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    notify();
  });
  child.on('message', (message: unknown) => {
    if (!isCheckpointMessage(message)) return;
    const occurrence = (counts.get(message.name) ?? 0) + 1;
    counts.set(message.name, occurrence);
    checkpoints.push({ name: message.name, occurrence, atMs: Date.now() - startedAt });
    notify();
    if (message.name === delayAfter) armDelay();
    if (
      kill &&
      'atCheckpoint' in kill &&
      kill.atCheckpoint === message.name &&
      occurrence === (kill.occurrence ?? 1)
    ) {
      killNow('checkpoint', signal, message.name);
      return;
    }
    if (holds.has(message.name)) {
      held.set(message.name, [...(held.get(message.name) ?? []), message.seq]);
      return;
    }
    sendContinue(message.seq);
  });

  let delayTimer: NodeJS.Timeout | undefined;
  const armDelay = (): void => {
    if (killDelayMs !== undefined && delayTimer === undefined) {
      delayTimer = setTimeout(() => killNow('delay', signal), killDelayMs);
    }
  };
  const delayAfter = kill && !('atCheckpoint' in kill) ? kill.after : undefined;
  if (delayAfter === undefined) armDelay();
  const timeoutTimer = setTimeout(() => killNow('timeout', 'SIGKILL'), options.timeoutMs ?? 30_000);

  const exited = new Promise<ChildExit>((resolve) => {
    const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
      if (exit) return;
      clearTimeout(delayTimer);
      clearTimeout(timeoutTimer);
      forget();
      const durationMs = Date.now() - startedAt;
      const how =
        sig !== null
          ? `killed by ${sig}` +
            (killedBy ? ` (${describeKill(killedBy, killedAt, killDelayMs, delayAfter)})` : '')
          : `exited with code ${code}`;
      const reached = checkpoints.length ? checkpoints.map((c) => c.name).join(' → ') : 'none';
      exit = {
        code,
        signal: sig,
        killedBy,
        killedAt,
        durationMs,
        checkpoints: [...checkpoints],
        stdout,
        stderr,
        seed,
        summary:
          `child ${modulePath} run ${run}: ${how} after ${durationMs} ms; checkpoints: ${reached}` +
          (seed === undefined ? '' : `; ${replayHint([seed])}`),
      };
      notify();
      resolve(exit);
    };
    child.once('close', finish);
    child.once('error', (error) => {
      stderr += `\n[runChild] ${error.message}\n`;
      finish(null, null);
    });
  });

  const waitFor = <T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const immediate = check();
      if (immediate !== undefined) return resolve(immediate);
      const detail = (): string =>
        `checkpoints reached: ${checkpoints.map((c) => c.name).join(' → ') || 'none'}; output tail: ` +
        JSON.stringify((stdout + stderr).slice(-500));
      const done = (): void => {
        listeners.delete(onChange);
        clearTimeout(timer);
      };
      const onChange = (): void => {
        const value = check();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (exit) {
          done();
          reject(
            new ChildWaitError(
              'exited',
              `child ${modulePath} ended (${exit.summary}) before ${what}; ${detail()}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new ChildWaitError(
            'timeout',
            `child ${modulePath}: no ${what} within ${timeoutMs} ms; ${detail()}`,
          ),
        );
      }, timeoutMs);
      listeners.add(onChange);
      onChange();
    });

  // Resolve only once the process exists (or failed to), so `pid` is set.
  await new Promise<void>((resolve) => {
    if (child.pid !== undefined) return resolve();
    child.once('spawn', resolve);
    void exited.then(() => resolve());
  });

  const handle: ChildRun = {
    module: modulePath,
    run,
    pid: child.pid,
    seed,
    killDelayMs,
    get checkpoints() {
      return [...checkpoints];
    },
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForCheckpoint(name, waitOptions = {}) {
      return waitFor(
        `checkpoint "${name}"`,
        () => checkpoints.find((c) => c.name === name),
        waitOptions.timeoutMs ?? 10_000,
      );
    },
    waitForOutput(pattern, waitOptions = {}) {
      const test = (text: string): boolean =>
        typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
      return waitFor(
        `output matching ${String(pattern)}`,
        () => (test(stdout + stderr) ? stdout + stderr : undefined),
        waitOptions.timeoutMs ?? 10_000,
      );
    },
    resume(name) {
      holds.delete(name);
      const seqs = held.get(name);
      held.delete(name);
      if (!seqs?.length) return false;
      for (const seq of seqs) sendContinue(seq);
      return true;
    },
    async kill(sig = 'SIGKILL') {
      killNow('manual', sig);
      return exited;
    },
    async restart(restartOptions = {}) {
      await exited;
      const { kill: _kill, holdAt: _holdAt, ...rest } = options;
      return start(modulePath, { ...rest, ...restartOptions }, run + 1);
    },
  };
  return handle;
}

function describeKill(
  by: NonNullable<ChildExit['killedBy']>,
  at: string | undefined,
  delayMs: number | undefined,
  after: string | undefined,
): string {
  switch (by) {
    case 'checkpoint':
      return `at checkpoint "${at}"`;
    case 'delay':
      return `a planned delay of ${delayMs} ms after ${after === undefined ? 'spawn' : `checkpoint "${after}"`}`;
    case 'timeout':
      return 'timed out';
    case 'manual':
      return 'kill() called';
  }
}
