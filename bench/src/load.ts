import { percentiles } from './stats.js';

/** Options of {@link closedLoop}. */
export interface LoadOptions {
  /** Callers, each issuing its next operation as soon as the previous one settled. */
  readonly concurrency: number;
  /** Measured time, ms (after the warm-up). */
  readonly durationMs: number;
  /** Time run first and not measured, ms. */
  readonly warmupMs: number;
  /**
   * The window is extended until this many operations finished in it (default 1), up to
   * {@link MAX_EXTENSION_MS} past its end, so that a starved short window (a loaded machine,
   * `--test` mode) measures a slow rate instead of none. Rates use the window's real length.
   * An operation that throws ends the extension.
   */
  readonly minOps?: number;
}

/** How long a window may be extended to reach `minOps`, ms. */
export const MAX_EXTENSION_MS = 30_000;

/** What a closed-loop load measured. */
export interface LoadResult {
  /** Operations that finished inside the measured window. */
  readonly ops: number;
  /** Operations that finished, warm-up included. */
  readonly finished: number;
  /** Operations that threw (in the window or not). */
  readonly errors: number;
  /** The first error, for the report. */
  readonly firstError: unknown;
  readonly elapsedMs: number;
  readonly perSecond: number;
  /** CPU time of this process (user + system) per operation over warm-up and window, µs. */
  readonly cpuPerOp: number;
  /** Latency of the operations that finished inside the window, ms. */
  readonly p50: number;
  readonly p99: number;
}

/**
 * Runs `op` from `concurrency` callers for warm-up + duration, then stops by itself: each
 * caller starts no new operation after the end and the loop waits for those in flight.
 */
export async function closedLoop(
  op: (n: number) => Promise<void>,
  options: LoadOptions,
): Promise<LoadResult> {
  const start = performance.now();
  const windowStart = start + options.warmupMs;
  const end = windowStart + options.durationMs;
  const hardEnd = end + MAX_EXTENSION_MS;
  const minOps = options.minOps ?? 1;
  let lastInWindow = end;
  /** Whether the window is still open at `t`: before its end, or extended for `minOps`. */
  // A failing operation ends the extension: the run reports its errors, not a 30 s wait.
  const open = (t: number): boolean => t < end || (ops < minOps && errors === 0 && t < hardEnd);
  const latencies: number[] = [];
  let ops = 0;
  let errors = 0;
  let firstError: unknown;
  let n = 0;
  let finished = 0;
  const cpu0 = process.cpuUsage();
  const caller = async (): Promise<void> => {
    for (let t0 = performance.now(); open(t0); t0 = performance.now()) {
      try {
        await op(n++);
      } catch (error) {
        errors++;
        firstError ??= error;
        continue;
      }
      finished++;
      const t1 = performance.now();
      if (t1 >= windowStart && (t1 <= end || open(t1))) {
        ops++;
        latencies.push(t1 - t0);
        if (t1 > end) lastInWindow = t1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, caller));
  const cpu = process.cpuUsage(cpu0);
  const { p50, p99 } = percentiles(latencies);
  const elapsedMs = lastInWindow - windowStart;
  return {
    ops,
    finished,
    errors,
    firstError,
    elapsedMs,
    perSecond: (ops * 1000) / elapsedMs,
    cpuPerOp: (cpu.user + cpu.system) / Math.max(1, finished),
    p50,
    p99,
  };
}

/** Runs `task(i)` for i in 0..count-1 with at most `concurrency` at once. */
export async function boundedAll(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}
