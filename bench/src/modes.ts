import type { BenchMode } from './results.js';

/** How long and how often each suite measures in one mode. */
export interface ModeSettings {
  /** A/B rounds of the throughput suites. */
  readonly rounds: number;
  readonly client: {
    readonly durationMs: number;
    readonly warmupMs: number;
    readonly concurrency: readonly number[];
  };
  readonly server: {
    readonly durationMs: number;
    readonly warmupMs: number;
    readonly concurrency: number;
    /** Keys reused by the replay runs. */
    readonly replayKeys: number;
    /** Sequential requests per window when counting Redis commands. */
    readonly countRequests: number;
  };
  readonly queue: {
    /** Operations (jobs) per round. */
    readonly operations: number;
    /** Callers of `start` / `queue.add` at once. */
    readonly starters: number;
    readonly concurrency: readonly number[];
    /** Operations that fail once and retry 100 ms later, per round. */
    readonly lateOperations: number;
    /** Gap between their starts, ms. */
    readonly lateSpacingMs: number;
    /** Bound on waiting for a round to complete, ms. */
    readonly timeoutMs: number;
  };
  readonly scale: {
    /** Backlog sizes: operations scheduled an hour ahead while the queue is measured. */
    readonly backlogs: readonly number[];
    /** Worker concurrency of the measured rounds (they use `queue`'s operations and lateness). */
    readonly concurrency: number;
  };
  readonly saga: {
    /** Measured time of one round, ms (after the warm-up). */
    readonly durationMs: number;
    readonly warmupMs: number;
    /** Sagas in flight: callers, each starting its next saga once the last one completed. */
    readonly concurrency: number;
    /** Sagas run before each round's warm-up (connections, scripts, JIT), not measured. */
    readonly prewarm: number;
  };
  readonly features: {
    /** Measured time of one variant round, ms, in a fresh child process (after its warm-up). */
    readonly durationMs: number;
    /** Load run first in the same child and not measured (JIT, connections), ms. */
    readonly warmupMs: number;
    readonly concurrency: readonly number[];
  };
  readonly ops: {
    /** Dead operations written before the searches. */
    readonly deadOperations: number;
    /** Partitions of the durable store (the ops test's 16). */
    readonly partitions: number;
    /** First-page searches per filter and round (one at a time). */
    readonly queries: number;
  };
  readonly memory: {
    readonly rounds: number;
    /** Completed records written to the memory store per round. */
    readonly records: number;
    /** Completed records written to Redis to measure, per round. */
    readonly redisRecords: number;
  };
}

/** The settings of each mode. */
export const MODES: Readonly<Record<BenchMode, ModeSettings>> = {
  full: {
    rounds: 5,
    client: { durationMs: 2_000, warmupMs: 300, concurrency: [1, 64] },
    server: {
      durationMs: 2_000,
      warmupMs: 300,
      concurrency: 32,
      replayKeys: 1_000,
      countRequests: 200,
    },
    queue: {
      operations: 3_000,
      starters: 32,
      concurrency: [1, 32],
      lateOperations: 100,
      lateSpacingMs: 10,
      timeoutMs: 60_000,
    },
    scale: { backlogs: [1_000, 10_000, 100_000], concurrency: 32 },
    saga: { durationMs: 2_000, warmupMs: 300, concurrency: 32, prewarm: 32 },
    features: { durationMs: 2_000, warmupMs: 1_000, concurrency: [1, 64] },
    ops: { deadOperations: 100_000, partitions: 16, queries: 20 },
    memory: { rounds: 3, records: 100_000, redisRecords: 1_000 },
  },
  quick: {
    rounds: 3,
    client: { durationMs: 300, warmupMs: 100, concurrency: [1, 64] },
    server: {
      durationMs: 300,
      warmupMs: 100,
      concurrency: 32,
      replayKeys: 300,
      countRequests: 100,
    },
    queue: {
      operations: 500,
      starters: 32,
      concurrency: [1, 32],
      lateOperations: 30,
      lateSpacingMs: 10,
      timeoutMs: 30_000,
    },
    scale: { backlogs: [1_000, 10_000], concurrency: 32 },
    saga: { durationMs: 300, warmupMs: 100, concurrency: 32, prewarm: 32 },
    features: { durationMs: 500, warmupMs: 500, concurrency: [1, 64] },
    ops: { deadOperations: 100_000, partitions: 16, queries: 10 },
    memory: { rounds: 2, records: 15_000, redisRecords: 200 },
  },
  test: {
    rounds: 2,
    client: { durationMs: 250, warmupMs: 150, concurrency: [1, 64] },
    server: {
      durationMs: 250,
      warmupMs: 150,
      concurrency: 16,
      replayKeys: 50,
      countRequests: 20,
    },
    queue: {
      operations: 100,
      starters: 16,
      concurrency: [1, 32],
      lateOperations: 8,
      lateSpacingMs: 10,
      timeoutMs: 20_000,
    },
    scale: { backlogs: [100, 1_000], concurrency: 32 },
    saga: { durationMs: 250, warmupMs: 150, concurrency: 32, prewarm: 32 },
    features: { durationMs: 250, warmupMs: 200, concurrency: [64] },
    ops: { deadOperations: 2_000, partitions: 16, queries: 5 },
    memory: { rounds: 2, records: 11_000, redisRecords: 30 },
  },
};
