import { appendFileSync, readFileSync } from 'node:fs';
import {
  InvalidOptionError,
  classifyError,
  option,
  validateOptions,
  type ShapeFor,
} from '@unfazed/contract';
import { normalizeKey, preciseNow } from './clock.js';

/** How an invocation ended: applied (`ok`), definitely not applied (`failed`), or not known. */
export type OperationOutcome = 'ok' | 'failed' | 'unknown';

/** One entry of a {@link History}. */
export interface HistoryEvent {
  /** `invoke` when the operation was started, then one outcome. */
  readonly type: 'invoke' | OperationOutcome;
  /** The operation's idempotency key. */
  readonly key: string;
  /** Identifies the invocation (`<pid>.<n>`), shared by its `invoke` and its outcome. */
  readonly op: string;
  /** Epoch milliseconds (sub-millisecond precision). */
  readonly at: number;
  /** What was invoked, e.g. `POST /charges` (on `invoke`). */
  readonly label?: string;
  /** Free text: a status, an error message. */
  readonly detail?: string;
}

/** An invocation in progress: report how it ended, exactly once. */
export interface Invocation {
  /** The invocation id used in the history. */
  readonly id: string;
  /** The idempotency key. */
  readonly key: string;
  /** The operation succeeded: its side effect must have been applied exactly once. */
  ok(detail?: string): void;
  /** The operation definitely did not apply (e.g. rejected with a 4xx, or never sent). */
  failed(detail?: string): void;
  /** Nobody knows whether it applied (timeout, reset after sending, crash): at most once. */
  unknown(detail?: string): void;
}

/** Options of {@link History.track}. */
export interface TrackOptions<T> {
  /** What is invoked, e.g. `POST /charges`. */
  label?: string;
  /**
   * The outcome of a resolved call. Default: for a value with a numeric `status` or
   * `statusCode`, 2xx → ok, 4xx except 408 → failed, anything else → unknown; other values → ok.
   */
  outcome?: (value: T) => OperationOutcome;
  /**
   * The outcome of a thrown error. Default: `failed` when `classifyError` says the request was
   * never sent (e.g. ECONNREFUSED), else `unknown`.
   */
  errorOutcome?: (error: unknown) => OperationOutcome;
}

/** Options of {@link createHistory}. */
export interface HistoryOptions {
  /**
   * Also append every event to this file (JSON lines, written synchronously), so a history
   * kept by a child process survives its SIGKILL; read it back with {@link loadHistory}.
   */
  file?: string;
}

const kHistory = Symbol.for('unfazed.testing.history');

/**
 * A record of operations, each started (`invoke`) and ended (`ok` / `failed` / `unknown`),
 * per idempotency key — one side of the exactly-once check; the {@link Ledger} is the other.
 */
export interface History {
  /** Starts an invocation of the operation with `key` (a raw key or an `Idempotency-Key` value). */
  invoke(key: string, info?: { label?: string; detail?: string }): Invocation;
  /**
   * Runs `fn` as one invocation of `key`: records `invoke`, then the outcome of its result
   * or error (see {@link TrackOptions}), and returns or rethrows what `fn` did.
   */
  track<T>(key: string, fn: () => Promise<T>, options?: TrackOptions<T>): Promise<T>;
  /** Every event so far, in time order. */
  events(): readonly HistoryEvent[];
  /** The keys invoked so far. */
  keys(): string[];
  /** Invocations started and not yet ended. The checker counts them as `unknown`. */
  pending(): readonly Invocation[];
}

const historyOptions = option.object({
  file: option.string({ nonEmpty: true }).optional(),
} satisfies ShapeFor<HistoryOptions>);
const trackOptions = option.object({
  label: option.string().optional(),
  outcome: option.function().optional(),
  errorOutcome: option.function().optional(),
} satisfies ShapeFor<TrackOptions<unknown>>);

/** Creates an empty {@link History}. */
export function createHistory(options: HistoryOptions = {}): History {
  validateOptions(historyOptions, options, { name: 'createHistory' });
  return makeHistory([], options.file);
}

/**
 * Reads histories written with `createHistory({ file })`, e.g. by child processes that may
 * have been killed, and merges them in time order. The result can be checked and extended.
 */
export function loadHistory(...files: string[]): History {
  const events: HistoryEvent[] = [];
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        events.push(JSON.parse(line) as HistoryEvent);
      } catch {
        // a line cut short by a SIGKILL while it was written: nothing after it exists either
      }
    }
  }
  events.sort((a, b) => a.at - b.at);
  return makeHistory(events, undefined);
}

/** True for a value made by {@link createHistory} or {@link loadHistory} (any copy of this package). */
export function isHistory(value: unknown): value is History {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[kHistory] === true
  );
}

let invocationCounter = 0;

function makeHistory(initial: HistoryEvent[], file: string | undefined): History {
  const events = initial;
  const open = new Map<string, Invocation>();

  const append = (event: HistoryEvent): void => {
    events.push(event);
    if (file !== undefined) appendFileSync(file, `${JSON.stringify(event)}\n`);
  };

  const history: History = {
    invoke(rawKey, info = {}) {
      const key = normalizeKey(rawKey);
      if (key === undefined)
        throw new InvalidOptionError('key', 'must be a non-empty idempotency key', rawKey);
      const id = `${process.pid}.${++invocationCounter}`;
      append({
        type: 'invoke',
        key,
        op: id,
        at: preciseNow(),
        ...(info.label === undefined ? {} : { label: info.label }),
        ...(info.detail === undefined ? {} : { detail: info.detail }),
      });
      let ended = false;
      const end =
        (type: OperationOutcome) =>
        (detail?: string): void => {
          if (ended)
            throw new Error(`invocation ${id} of key "${key}" already ended; report one outcome`);
          ended = true;
          open.delete(id);
          append({
            type,
            key,
            op: id,
            at: preciseNow(),
            ...(detail === undefined ? {} : { detail }),
          });
        };
      const invocation: Invocation = {
        id,
        key,
        ok: end('ok'),
        failed: end('failed'),
        unknown: end('unknown'),
      };
      open.set(id, invocation);
      return invocation;
    },
    async track(key, fn, options = {}) {
      validateOptions(trackOptions, options, { name: 'history.track' });
      const invocation = history.invoke(
        key,
        options.label === undefined ? {} : { label: options.label },
      );
      let value: Awaited<ReturnType<typeof fn>>;
      try {
        value = await fn();
      } catch (error) {
        const outcome = (options.errorOutcome ?? defaultErrorOutcome)(error);
        invocation[outcome](describeError(error));
        throw error;
      }
      const outcome = options.outcome ? options.outcome(value) : defaultValueOutcome(value);
      invocation[outcome](describeValue(value));
      return value;
    },
    events: () => [...events].sort((a, b) => a.at - b.at),
    keys: () => [...new Set(events.map((e) => e.key))],
    pending: () => [...open.values()],
  };
  Object.defineProperty(history, kHistory, { value: true });
  return history;
}

function statusOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { status, statusCode } = value as { status?: unknown; statusCode?: unknown };
  if (typeof status === 'number') return status;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

function defaultValueOutcome(value: unknown): OperationOutcome {
  const status = statusOf(value);
  if (status === undefined || (status >= 200 && status < 300)) return 'ok';
  if (status >= 400 && status < 500 && status !== 408) return 'failed';
  return 'unknown';
}

function defaultErrorOutcome(error: unknown): OperationOutcome {
  return classifyError(error).requestSent === 'no' ? 'failed' : 'unknown';
}

function describeValue(value: unknown): string | undefined {
  const status = statusOf(value);
  return status === undefined ? undefined : `status ${status}`;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
