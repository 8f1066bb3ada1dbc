import { parseArgs } from 'node:util';

/** What `pnpm demo` was asked to do. */
export interface DemoOptions {
  /** Seed of every fault plan and of the driver's choices. */
  readonly seed: number;
  /** Passengers checking in. */
  readonly passengers: number;
  /** Payments made (one per passenger, the first M). */
  readonly payments: number;
  /** Print the summary only. */
  readonly quiet: boolean;
  /** Print the summary as JSON on stdout (the timeline, unless `quiet`, goes to stderr). */
  readonly json: boolean;
  /** Redis mode only: SIGKILL a worker process mid-way and start another. */
  readonly crash: boolean;
  /** `REDIS_URL`: use Redis stores and worker processes. */
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key the demo writes (deleted at the end). */
  readonly redisPrefix: string;
  /** How long a service waits for its downstream before answering 202, ms. */
  readonly wait: number;
  /** Deadline of the payment saga before it is compensated, ms. */
  readonly paymentDeadline: number;
  /** Give up on the whole run after this long, ms (unfinished operations count as lost). */
  readonly timeout: number;
  /** Worker processes in Redis mode. */
  readonly workers: number;
  /** Skip the short "without Unfazed" prelude. */
  readonly skipNaive: boolean;
  /** Run output management without the idempotency middleware, to watch the invariant break. */
  readonly withoutIdempotency: boolean;
  /** After the story, keep the services running with the operations console open until Ctrl-C. */
  readonly ops: boolean;
  /** Port of the console with `ops` (0: one the OS chose). */
  readonly opsPort: number;
}

/** A bad command line: the message says which flag and why. */
export class UsageError extends Error {}

export const USAGE = `Usage: pnpm demo [options]

  --seed <n>              seed of the faults and of the passengers' choices (default 7)
  --passengers <n>        passengers checking in (default 12)
  --payments <n>          payments, each a saga with compensation (default 6)
  --wait <ms>             wait budget of a saga's start before a service answers 202
                          (default 1000)
  --payment-deadline <ms> deadline of the payment saga before compensation (default 4000)
  --timeout <ms>          give up on the run after this long (default 45000)
  --crash                 SIGKILL a worker process mid-way and start another (needs REDIS_URL)
  --workers <n>           worker processes in Redis mode (default 2)
  --redis-prefix <p>      prefix of the demo's Redis keys, all deleted at the end
  --no-naive              skip the "without Unfazed" prelude
  --without-idempotency   take the idempotency middleware off output management: retries
                          after a lost response send a second boarding pass, and the demo fails
  --ops                   after the story, keep the services running with the operations console
                          (@unfazed/ops) open on a printed URL, until Ctrl-C
  --ops-port <n>          port of that console (default: one the OS chose)
  --quiet                 print the summary only
  --json                  print the summary as JSON on stdout
  --help                  this text

With REDIS_URL set the stores (sagas, idempotency records, the credit ledger) are in Redis and
the durable workers run in separate processes; otherwise everything runs in this process with
in-memory stores.`;

function int(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
  return n;
}

function opsPort(value: string | undefined, ops: boolean): number {
  if (value !== undefined && !ops) throw new UsageError('--ops-port needs --ops');
  const n = int('ops-port', value, 0, 0);
  if (n > 65_535) throw new UsageError(`--ops-port must be at most 65535 (got ${n})`);
  return n;
}

/**
 * Parses the command line (`argv` without node and the script) and the environment.
 * @throws {UsageError} naming the flag that was wrong.
 */
export function parseOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): DemoOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      // `pnpm demo -- --seed 3` passes the `--` through.
      args: argv.filter((a) => a !== '--'),
      strict: true,
      allowPositionals: false,
      options: {
        seed: { type: 'string' },
        passengers: { type: 'string' },
        payments: { type: 'string' },
        wait: { type: 'string' },
        'payment-deadline': { type: 'string' },
        timeout: { type: 'string' },
        workers: { type: 'string' },
        'redis-prefix': { type: 'string' },
        crash: { type: 'boolean' },
        'no-naive': { type: 'boolean' },
        'without-idempotency': { type: 'boolean' },
        ops: { type: 'boolean' },
        'ops-port': { type: 'string' },
        quiet: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const redisUrl =
    env['REDIS_URL'] === undefined || env['REDIS_URL'] === '' ? undefined : env['REDIS_URL'];
  if (v.crash && redisUrl === undefined)
    throw new UsageError(
      '--crash needs REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379 pnpm demo --crash): only with Redis do the workers run in processes that can be killed',
    );
  const prefix = v['redis-prefix'] ?? `unfazed-demo:${process.pid}:${Date.now().toString(36)}:`;
  if (/[{}*?[\]]/.test(prefix))
    throw new UsageError(
      `--redis-prefix must not contain { } * ? [ ] (got ${JSON.stringify(prefix)})`,
    );
  return {
    seed: int('seed', v.seed, 7, 0),
    passengers: int('passengers', v.passengers, 12, 1),
    payments: int('payments', v.payments, 6, 0),
    wait: int('wait', v.wait, 1000, 1),
    paymentDeadline: int('payment-deadline', v['payment-deadline'], 4000, 500),
    timeout: int('timeout', v.timeout, 45_000, 1000),
    workers: int('workers', v.workers, 2, 1),
    redisPrefix: prefix,
    redisUrl,
    crash: v.crash === true,
    skipNaive: v['no-naive'] === true,
    withoutIdempotency: v['without-idempotency'] === true,
    ops: v.ops === true,
    opsPort: opsPort(v['ops-port'], v.ops === true),
    quiet: v.quiet === true,
    json: v.json === true,
  };
}
