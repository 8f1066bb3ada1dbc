/**
 * The sagas of the saga crash and timer tests, and a durable worker process running them (run by
 * `runChild` with SAGA_WORKER=1, killed with SIGKILL at random points). The test processes import
 * the definitions from here too, so that the sagas they start are the ones the workers run.
 *
 * Worker environment: PREFIX (the durable store's key prefix), LEDGER (the key prefix of the
 * local ledger), REDIS_URL or CLUSTER_NODES, and optionally DOWNSTREAM_URL, LEASE_MS,
 * CONCURRENCY, POLL_MS.
 */
import { Cluster, Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import {
  createDurable,
  redisDurableStore,
  type Durable,
  type DurableOperation,
} from '@unfazed/client/durable';

/**
 * The crash saga's input: `fail` makes the downstream answer that step with a final 402 (the
 * saga is then compensated; after a failed charge, ship is never reached).
 */
export interface CrashInput {
  readonly n: number;
  readonly fail?: 'charge' | 'ship';
  /** How long the local step and its compensation hold after their effect, ms. */
  readonly hold: number;
}

export const CRASH_SAGA = 'crash-saga';
export const TIMER_SAGA = 'timer-saga';
/** The timer step's sleep, ms. */
export const TIMER_SLEEP_MS = 1_500;

/** What the local steps need of Redis (a `Redis` or a `Cluster`). */
type LedgerRedis = Pick<Redis, 'hincrby' | 'incr' | 'hsetnx'>;

/**
 * The keys of the local ledger, under `prefix`: `runs` (hash: raw runs by key), `effects` (hash:
 * the one applied effect by key, `{seq, outcome?}`, written with HSETNX) and `seq` (a counter
 * shared with the downstream, which orders every effect of the test).
 */
export function ledgerKeys(prefix: string): { runs: string; effects: string; seq: string } {
  return { runs: `${prefix}runs`, effects: `${prefix}effects`, seq: `${prefix}seq` };
}

/**
 * Applies a local effect at most once per key (HSETNX) and counts every run: at least once plus
 * idempotent by key gives exactly one effect, whatever the kills.
 */
async function localEffect(
  redis: LedgerRedis,
  prefix: string,
  key: string,
  outcome: string | undefined,
  hold: number,
): Promise<void> {
  const k = ledgerKeys(prefix);
  await redis.hincrby(k.runs, key, 1);
  const seq = await redis.incr(k.seq);
  await redis.hsetnx(k.effects, key, JSON.stringify(outcome ? { seq, outcome } : { seq }));
  // Hold a little after the effect, before the step's result is journaled: a kill landing here
  // makes the next holder run the step again (and find its effect applied).
  if (hold > 0) await new Promise((r) => setTimeout(r, hold));
}

/**
 * reserve (local, compensated by a local release) → charge (POST /charges, compensated by
 * POST /refunds) → ship (POST /shipments, compensated by POST /recalls). The step `fail` names
 * is answered 402: a final answer, its effect did not happen, so it is not compensated (no
 * recall is ever due: ship either completes the saga or fails).
 */
export function defineCrashSaga(
  durable: Durable,
  redis: LedgerRedis,
  ledgerPrefix: string,
): DurableOperation<CrashInput> {
  return durable.saga<CrashInput>(CRASH_SAGA, {
    deadline: 120_000,
    backoff: { initialMs: 50, maxMs: 300 },
    steps: [
      {
        name: 'reserve',
        run: async (input, ctx) => {
          await localEffect(redis, ledgerPrefix, ctx.stepKey, undefined, input.hold);
          return { reserved: input.n };
        },
        compensate: async (input, ctx) => {
          await localEffect(redis, ledgerPrefix, ctx.compensationKey, ctx.outcome, input.hold);
        },
      },
      {
        name: 'charge',
        request: (input) => ({
          method: 'POST',
          path: '/charges',
          json: { n: input.n, fail: input.fail === 'charge' },
        }),
        compensate: {
          request: (input, ctx) => ({
            method: 'POST',
            path: '/refunds',
            json: { n: input.n, charge: ctx.stepKey, outcome: ctx.outcome },
          }),
        },
      },
      {
        name: 'ship',
        request: (input) => ({
          method: 'POST',
          path: '/shipments',
          json: { n: input.n, fail: input.fail === 'ship' },
        }),
        compensate: {
          request: (input, ctx) => ({
            method: 'POST',
            path: '/recalls',
            json: { n: input.n, outcome: ctx.outcome },
          }),
        },
      },
    ],
  });
}

/** first (local) → a durable timer of {@link TIMER_SLEEP_MS} → after (local); each returns its time. */
export function defineTimerSaga(durable: Durable): DurableOperation<Record<string, never>> {
  return durable.saga<Record<string, never>>(TIMER_SAGA, {
    deadline: 60_000,
    steps: [
      { name: 'first', run: () => Date.now() },
      { name: 'wait', sleep: TIMER_SLEEP_MS },
      { name: 'after', run: () => Date.now() },
    ],
  });
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function main(): void {
  const nodes = process.env['CLUSTER_NODES'];
  const redis = nodes
    ? new Cluster(
        nodes.split(',').map((n) => {
          const [host = '', port = ''] = n.split(':');
          return { host, port: Number(port) };
        }),
        { redisOptions: { maxRetriesPerRequest: null } },
      )
    : new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
  // The timer saga makes no request: any loopback URL will do.
  const client = createClient({
    baseUrl: process.env['DOWNSTREAM_URL'] ?? 'http://127.0.0.1:9',
    breaker: false,
  });
  const durable = createDurable({
    client,
    store: redisDurableStore(redis, { prefix: env('PREFIX'), partitions: 6 }),
    leaseMs: Number(process.env['LEASE_MS'] ?? 600),
    attemptTimeout: 2_000,
  });
  defineCrashSaga(durable, redis, env('LEDGER'));
  defineTimerSaga(durable);
  durable.startWorker({
    concurrency: Number(process.env['CONCURRENCY'] ?? 3),
    pollInterval: Number(process.env['POLL_MS'] ?? 20),
    name: `child-${process.pid}`,
  });
  console.log('worker ready');
}

if (process.env['SAGA_WORKER'] === '1') main();
