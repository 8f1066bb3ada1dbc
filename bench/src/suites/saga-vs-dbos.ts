import { randomBytes } from 'node:crypto';
import { DBOS, type DLogger } from '@dbos-inc/dbos-sdk';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { createClient, type Client } from '@unfazed/client';
import { createDurable, redisDurableStore } from '@unfazed/client/durable';
import { startRedisServer, type RedisServerHandle } from '@unfazed/testing';
import { boundedAll, closedLoop } from '../load.js';
import {
  backendCpuDelta,
  countStatements,
  createScratchDatabase,
  type ScratchDatabase,
} from '../postgres-env.js';
import { callsOf, commandStats } from '../redis-env.js';
import { alternate, atLeast, compare, series, single, type Variant } from '../rounds.js';
import type { Measure, Target } from '../results.js';
import { startNoopServer } from '../servers/noop-server.js';
import { assertNoErrors, type SuiteEnv, type SuiteOutput } from '../suite.js';

/** DBOS's own system-database pool size (`DEFAULT_POOL_SIZE` of @dbos-inc/dbos-sdk 5). */
const DBOS_POOL_SIZE = 10;
/** How long one DBOS launch (migrations on the first) may take before the round fails, ms. */
const LAUNCH_TIMEOUT_MS = 60_000;
/** `start` tries the whole saga in the caller: far longer than the three steps take. */
const START_WAIT_MS = 30_000;

/** The two durability settings, each side configured alike (see bench/README.md). */
const PAIRS = [
  {
    key: 'lazy',
    scenario: 'commit without waiting for fsync (AOF everysec / synchronous_commit off)',
    appendfsync: 'everysec',
    synchronousCommit: 'off',
  },
  {
    key: 'fsync',
    scenario: 'fsync before each commit is answered (AOF always / synchronous_commit on)',
    appendfsync: 'always',
    synchronousCommit: 'on',
  },
] as const;

type Pair = (typeof PAIRS)[number];

const unfazedName = (p: Pair): string => `unfazed saga, Redis appendfsync ${p.appendfsync}`;
const dbosName = (p: Pair): string => `DBOS, synchronous_commit ${p.synchronousCommit}`;

/** What one round of either side measured. */
type SagaFigures = Record<string, number>;

interface SagaInput {
  readonly n: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Store script calls in one EVAL/EVALSHA: the store sends the scripts asked for in one turn of the
 * event loop as one call of its batch script, whose arguments are, per call, its command name
 * (`unfazedDurable…`), its number of keys, its number of arguments, then its arguments.
 */
function scriptCallsIn(args: readonly unknown[]): number {
  const numberOfKeys = Number(args[1]);
  const argv = args.slice(2 + numberOfKeys);
  let calls = 0;
  let i = 0;
  while (i < argv.length) {
    const name = String(argv[i]);
    const keys = Number(argv[i + 1]);
    const rest = Number(argv[i + 2]);
    if (!name.startsWith('unfazedDurable') || !Number.isInteger(keys) || !Number.isInteger(rest)) {
      return 1; // a lone script, sent as is
    }
    calls++;
    i += 3 + rest;
  }
  return i === argv.length && calls > 0 ? calls : 1;
}

/** What one ioredis client sent: commands (its round trips) by name, and store script calls. */
interface SentCounter {
  total(): number;
  scripts(): number;
  byName(): Map<string, number>;
}

/** Wraps `redis.sendCommand` to count what this client sends. */
function countSent(redis: Redis): SentCounter {
  let total = 0;
  let scripts = 0;
  const names = new Map<string, number>();
  const target = redis as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const original = target.sendCommand;
  target.sendCommand = function (this: unknown, ...args: unknown[]) {
    total++;
    const command = args[0] as { name?: unknown; args?: unknown[] } | undefined;
    const name = String(command?.name ?? '?');
    names.set(name, (names.get(name) ?? 0) + 1);
    if (name === 'evalsha' || name === 'eval') scripts += scriptCallsIn(command?.args ?? []);
    return original.apply(this, args);
  };
  return { total: () => total, scripts: () => scripts, byName: () => names };
}

/** `used_cpu_user + used_cpu_sys` of a Redis server (`INFO cpu`, getrusage), µs. */
async function redisCpuMicros(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1_000_000;
}

/** The request both sides send for a request step: the queue suite's POST to the no-op server. */
async function post(client: Client, key: string, input: SagaInput): Promise<unknown> {
  const res = await client.request({
    method: 'POST',
    path: '/charges',
    json: input,
    idempotencyKey: key,
    retry: { maxRetries: 0 },
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`status ${res.status}`);
  return { status: res.status, body: JSON.parse(text) as unknown };
}

/** A redis-server of the suite's own with one AOF setting, for one side of a pair. */
interface SagaRedis {
  readonly server: RedisServerHandle;
  readonly admin: Redis;
  readonly version: string;
}

async function startSagaRedis(appendfsync: string): Promise<SagaRedis> {
  let server: RedisServerHandle;
  try {
    server = await startRedisServer({
      args: ['--appendonly', 'yes', '--appendfsync', appendfsync],
    });
  } catch (error) {
    throw new Error(
      `The saga suite starts redis-servers of its own (AOF on, appendfsync ${appendfsync}) and could not: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const admin = server.connect({ maxRetriesPerRequest: 1, connectionName: 'bench-saga-admin' });
  const info = await admin.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const aof = await admin.config('GET', 'appendfsync');
  if ((aof as string[])[1] !== appendfsync) {
    await server.close();
    throw new Error(`redis-server answered appendfsync ${String(aof)}, wanted ${appendfsync}`);
  }
  return { server, admin, version };
}

async function deleteUnder(admin: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
}

/** What the notes report of the last round of each side. */
interface Breakdown {
  unfazed: Map<string, string>;
  dbos: Map<string, string>;
}

/**
 * One Unfazed round: a worker at concurrency 32 runs (as it would in a service), and 32 callers
 * each start a saga with `wait` long enough for `start` to run all three steps, one after the
 * other, as long as the window lasts.
 */
async function unfazedRound(
  env: SuiteEnv,
  redis: SagaRedis,
  client: Client,
  prefix: string,
  breakdown: Map<string, string>,
  label: string,
): Promise<SagaFigures> {
  const s = env.settings.saga;
  const conn = redis.server.connect({ maxRetriesPerRequest: null, connectionName: 'bench-saga' });
  const sent = countSent(conn);
  const errors: unknown[] = [];
  const durable = createDurable({ client, store: redisDurableStore(conn, { prefix }) });
  durable.events.on('worker-error', (e) => errors.push(e.error));
  const saga = durable.saga<SagaInput>('bench-saga', {
    steps: [
      { name: 'reserve', run: (input) => ({ reserved: input.n }) },
      { name: 'charge', request: (input) => ({ method: 'POST', path: '/charges', json: input }) },
      { name: 'notify', request: (input) => ({ method: 'POST', path: '/charges', json: input }) },
    ],
    wait: START_WAIT_MS,
  });
  const run = async (n: number): Promise<void> => {
    const outcome = await saga.start({ n }, { wait: START_WAIT_MS });
    if (outcome.status !== 'completed') {
      throw new Error(
        `saga start answered ${outcome.status}${outcome.status === 'failed' ? `: ${outcome.failure.message}` : ''}`,
      );
    }
    if (Object.keys(outcome.results ?? {}).length !== 3) {
      throw new Error(`saga completed with results ${JSON.stringify(outcome.results)}`);
    }
  };
  const worker = durable.startWorker({ concurrency: s.concurrency });
  try {
    // Scripts loaded, connections open, JIT warm: not measured.
    await boundedAll(s.prewarm, s.concurrency, (i) => run(-1 - i));
    await redis.admin.config('RESETSTAT');
    const sent0 = sent.total();
    const scripts0 = sent.scripts();
    const names0 = new Map(sent.byName());
    const cpu0 = await redisCpuMicros(redis.admin);
    const r = await closedLoop(run, {
      concurrency: s.concurrency,
      durationMs: s.durationMs,
      warmupMs: s.warmupMs,
    });
    const cpu1 = await redisCpuMicros(redis.admin);
    const stats = await commandStats(redis.admin);
    assertNoErrors(label, r);
    if (errors.length > 0) throw errors[0];
    for (const name of [...stats.keys()]) {
      if (name.startsWith('info') || name.startsWith('config')) stats.delete(name);
    }
    const per = (x: number): string => (x / r.finished).toFixed(2);
    breakdown.set(
      label,
      `sent ${[...sent.byName()]
        .map(([name, calls]) => [name, calls - (names0.get(name) ?? 0)] as const)
        .filter(([, calls]) => calls > 0)
        .map(([name, calls]) => `${name} ${per(calls)}`)
        .join(', ')}; executed (INFO commandstats) ${[...stats]
        .sort((a, b) => b[1] - a[1])
        .map(([name, calls]) => `${name} ${per(calls)}`)
        .join(', ')}`,
    );
    return {
      completed: r.perSecond,
      p50: r.p50,
      p99: r.p99,
      cpu: r.cpuPerOp,
      roundTrips: (sent.total() - sent0) / r.finished,
      scripts: (sent.scripts() - scripts0) / r.finished,
      executed: callsOf(stats) / r.finished,
      storeCpu: (cpu1 - cpu0) / r.finished,
    };
  } finally {
    await worker.stop({ timeout: 5_000 });
    await conn.quit().catch(() => undefined);
    await deleteUnder(redis.admin, prefix);
  }
}

/** DBOS's data tables, emptied after every round (its configuration tables are kept). */
const DBOS_KEPT_TABLES = [
  'dbos_migrations',
  'application_versions',
  'queues',
  'workflow_schedules',
];

/** Empties DBOS's data tables in the scratch database. */
async function truncateDbos(db: ScratchDatabase): Promise<void> {
  const kept = DBOS_KEPT_TABLES.map((t) => `'${t}'`).join(', ');
  const tables = await db.query(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'dbos' AND tablename NOT IN (${kept})`,
  );
  const names = tables.rows.map((row: { tablename: string }) => `dbos."${row.tablename}"`);
  if (names.length > 0) await db.query(`TRUNCATE ${names.join(', ')} CASCADE`);
}

/**
 * One DBOS round: DBOS launched on a pool of its default size whose sessions use the pair's
 * `synchronous_commit`; 32 callers each run the workflow (three `DBOS.runStep`s: local, POST,
 * POST) and await it, as long as the window lasts; then DBOS is shut down and its tables emptied.
 */
async function dbosRound(
  env: SuiteEnv,
  db: ScratchDatabase,
  client: Client,
  synchronousCommit: string,
  breakdown: Map<string, string>,
  label: string,
  warnings: string[],
): Promise<SagaFigures> {
  const s = env.settings.saga;
  const pool = new pg.Pool(
    db.config({
      max: DBOS_POOL_SIZE,
      application_name: 'unfazed-bench-dbos',
      options: `-c synchronous_commit=${synchronousCommit}`,
    }),
  );
  const errors: unknown[] = [];
  pool.on('error', (error) => errors.push(error));
  const statements = countStatements(pool);
  const note = (level: string) => (entry: unknown) => {
    if (warnings.length < 20) warnings.push(`${level}: ${String(entry)}`);
  };
  const logger: DLogger = {
    info: () => undefined,
    debug: () => undefined,
    warn: note('warn'),
    error: note('error'),
  };
  const workflow = DBOS.registerWorkflow(
    async (input: SagaInput) => {
      const id = DBOS.workflowID ?? '';
      const reserve = await DBOS.runStep(async () => ({ reserved: input.n }), { name: 'reserve' });
      const charge = await DBOS.runStep(() => post(client, `${id}:charge`, input), {
        name: 'charge',
      });
      const notify = await DBOS.runStep(() => post(client, `${id}:notify`, input), {
        name: 'notify',
      });
      return { reserve, charge, notify };
    },
    { name: 'bench-saga' },
  );
  const run = async (n: number): Promise<void> => {
    const result = await workflow({ n });
    if (Object.keys(result).length !== 3) throw new Error(`workflow returned ${String(result)}`);
  };
  DBOS.setConfig({
    name: 'unfazed-bench',
    systemDatabaseUrl: db.url,
    systemDatabasePool: pool,
    logger,
  });
  let launched = false;
  try {
    await withTimeout('DBOS.launch()', DBOS.launch(), LAUNCH_TIMEOUT_MS);
    launched = true;
    const check = await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    if (check.rows[0]?.synchronous_commit !== synchronousCommit) {
      throw new Error(`the DBOS pool runs synchronous_commit ${check.rows[0]?.synchronous_commit}`);
    }
    await boundedAll(s.prewarm, s.concurrency, (i) => run(-1 - i));
    statements.reset();
    const cpu0 = await db.backendCpu();
    const r = await closedLoop(run, {
      concurrency: s.concurrency,
      durationMs: s.durationMs,
      warmupMs: s.warmupMs,
    });
    const cpu1 = await db.backendCpu();
    assertNoErrors(label, r);
    if (errors.length > 0) throw errors[0];
    const done = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM dbos.workflow_status WHERE status = 'SUCCESS'",
    );
    if (Number(done.rows[0]?.n) < r.finished) {
      throw new Error(`DBOS recorded ${done.rows[0]?.n} workflows, ${r.finished} finished`);
    }
    breakdown.set(
      label,
      statements
        .breakdown()
        .slice(0, 12)
        .map(([kind, calls]) => `${kind} … ${(calls / r.finished).toFixed(2)}`)
        .join(', '),
    );
    return {
      completed: r.perSecond,
      p50: r.p50,
      p99: r.p99,
      cpu: r.cpuPerOp,
      roundTrips: statements.total() / r.finished,
      storeCpu: backendCpuDelta(cpu0, cpu1) / r.finished,
    };
  } finally {
    if (launched || DBOS.isInitialized()) {
      await withTimeout('DBOS.shutdown()', DBOS.shutdown({ deregister: true }), 30_000).catch(
        (error: unknown) => warnings.push(`shutdown: ${String(error)}`),
      );
    } else {
      await DBOS.shutdown({ deregister: true }).catch(() => undefined);
    }
    await pool.end().catch(() => undefined);
    await truncateDbos(db).catch((error: unknown) => warnings.push(`truncate: ${String(error)}`));
  }
}

/**
 * Suite 6: three-step sagas (a local step, then two POSTs to the no-op server in another
 * process) at 32 in flight, through `durable.saga` on Redis and through DBOS Transact workflows on
 * PostgreSQL, with each side's store set to the same durability: commits that do not wait for
 * fsync, then commits that do. Completed sagas/s, latency, CPU of this process and of the store,
 * and store round trips per saga.
 */
export async function sagaVsDbos(env: SuiteEnv): Promise<SuiteOutput> {
  const s = env.settings.saga;
  const runId = randomBytes(4).toString('hex');
  const perRound = (s.durationMs + s.warmupMs) * PAIRS.length * 2;
  const server = await startNoopServer(perRound * 4 * env.settings.rounds + 180_000);
  const client = createClient({ baseUrl: server.origin, pool: { connections: 64 } });
  const redises = new Map<string, SagaRedis>();
  let db: ScratchDatabase | undefined;
  const warnings: string[] = [];
  const breakdown: Breakdown = { unfazed: new Map(), dbos: new Map() };
  const measures: Measure[] = [];
  try {
    for (const pair of PAIRS) redises.set(pair.key, await startSagaRedis(pair.appendfsync));
    db = await createScratchDatabase();
    const scratch = db;
    const variants: Variant[] = PAIRS.flatMap((pair): Variant[] => [
      {
        name: dbosName(pair),
        run: () =>
          dbosRound(
            env,
            scratch,
            client,
            pair.synchronousCommit,
            breakdown.dbos,
            dbosName(pair),
            warnings,
          ),
      },
      {
        name: unfazedName(pair),
        run: (round) =>
          unfazedRound(
            env,
            redises.get(pair.key) as SagaRedis,
            client,
            `bench:saga:${runId}:${pair.key}:r${round}:`,
            breakdown.unfazed,
            unfazedName(pair),
          ),
      },
    ]);
    env.log(`saga: ${variants.length} variants, ${env.settings.rounds} rounds`);
    // A breath between rounds: the previous side's fsyncs and background work settle.
    const results = await alternate(variants, env.settings.rounds, () => sleep(50));
    for (const pair of PAIRS) {
      const scenario = `3-step saga (local, request, request), c=${s.concurrency}, ${pair.scenario}`;
      const row = (
        metric: string,
        unit: string,
        figure: string,
        target?: (v: number) => Target,
      ): Measure =>
        compare({
          suite: 'saga',
          scenario,
          metric,
          unit,
          baseline: { name: dbosName(pair), values: series(results, dbosName(pair), figure) },
          subject: { name: unfazedName(pair), values: series(results, unfazedName(pair), figure) },
          ...(target ? { target } : {}),
        });
      measures.push(
        row('completed/s', 'ops/s', 'completed', atLeast(2, 'unfazed/DBOS')),
        row('p50 latency (start to completed)', 'ms', 'p50'),
        row('p99 latency (start to completed)', 'ms', 'p99'),
        row('CPU per saga (calling process)', 'µs', 'cpu'),
        row(
          'store round trips per saga (Redis commands sent / SQL statements)',
          'commands',
          'roundTrips',
        ),
      );
      const storeCpu = [dbosName(pair), unfazedName(pair)].every((name) =>
        series(results, name, 'storeCpu').every((v) => Number.isFinite(v) && v > 0),
      );
      if (storeCpu) {
        measures.push(
          row('store CPU per saga (redis-server / Postgres backends)', 'µs', 'storeCpu'),
        );
      } else {
        warnings.push('store CPU per saga left out: a round read no CPU time (10 ms ticks)');
      }
      measures.push(
        single({
          suite: 'saga',
          scenario,
          metric: 'store script calls per saga (batched into the round trips above)',
          unit: 'commands',
          subject: {
            name: unfazedName(pair),
            values: series(results, unfazedName(pair), 'scripts'),
          },
        }),
        single({
          suite: 'saga',
          scenario,
          metric: 'Redis commands executed per saga (INFO commandstats, Lua inner calls included)',
          unit: 'commands',
          subject: {
            name: unfazedName(pair),
            values: series(results, unfazedName(pair), 'executed'),
          },
        }),
      );
    }
  } finally {
    await client.close().catch(() => undefined);
    await server.close();
    await db?.drop().catch((error: unknown) => warnings.push(`drop database: ${String(error)}`));
    for (const r of redises.values()) await r.server.close().catch(() => undefined);
  }
  const redisVersion = [...redises.values()][0]?.version ?? 'unknown';
  return {
    measures,
    notes: [
      `The work, the same on both sides: a saga of three steps, a local one (returns \`{ reserved: n }\`) then two requests, each one POST to the no-op server in another process through the same \`@unfazed/client\` (DBOS: \`retry: { maxRetries: 0 }\`, Idempotency-Key \`<workflow id>:<step>\`; Unfazed: the saga's own key \`<saga id>:<step>\`, one attempt); every step's result is journaled before the next starts. ${s.concurrency} callers each run one saga to completion and start the next (closed loop, ${s.concurrency} sagas in flight) for ${s.warmupMs} ms of warm-up and a ${s.durationMs} ms window, after ${s.prewarm} sagas not measured. Unfazed: \`saga.start(input, { wait: ${START_WAIT_MS} })\`, which persists the saga and runs its steps in the caller, answering \`completed\` (checked, with three results), while a worker at concurrency ${s.concurrency} runs beside it as in a service. DBOS Transact (\`@dbos-inc/dbos-sdk\` 5.3.0, engines node >= 20): \`DBOS.registerWorkflow\` of a function with three \`DBOS.runStep\`s, called and awaited (checked: three results, and every finished workflow SUCCESS in its table).`,
      `Durability, set alike per pair: each Unfazed side runs on a redis-server ${redisVersion} of the suite's own with \`appendonly yes\` and \`appendfsync everysec\` or \`always\` (its AOF in a temporary folder on the same disk as PostgreSQL's data); DBOS runs on ${db?.version.split(',')[0] ?? 'PostgreSQL'} at 127.0.0.1 in a scratch database created for the run and dropped after it, its pool of ${DBOS_POOL_SIZE} connections (DBOS's default size; given as \`systemDatabasePool\` so that its statements can be counted) with \`synchronous_commit\` off or on (on is PostgreSQL's default). everysec/off: a commit is answered before it reaches the disk (a machine crash may lose the last second or so); always/on: only after fsync. DBOS's tables are emptied and Redis keys deleted after every round.`,
      'Round trips per saga: Unfazed, the commands its ioredis connection sent (one reply each; the worker\'s polls included). The Redis store sends the scripts asked for in one turn of the event loop (the writes of every saga whose step ended then) as one EVALSHA of its batch script, so at 32 in flight one round trip carries the writes of several sagas: "store script calls" counts the scripts inside them (one write-ahead per saga, then one settle per step, which journals the step and starts the next). DBOS, the statements its pool connections sent (node-postgres sends one at a time, BEGIN and COMMIT included, its queue and maintenance polls included). Both over warm-up and window, divided by the sagas finished then. "Redis commands executed" is the INFO commandstats total on the suite\'s own server after `CONFIG RESETSTAT` (INFO and CONFIG left out), which also counts the commands the Lua scripts call.',
      "CPU per saga (calling process): user + system time of this process (both sides run in it) over warm-up and window, per finished saga. Store CPU per saga: the redis-server's own `used_cpu_user + used_cpu_sys`, against the CPU time of the PostgreSQL backends connected to the scratch database (/proc, 10 ms ticks; PostgreSQL's WAL writer and checkpointer are not in it). Others' load on this machine moves sagas/s far more than these.",
      ...[...breakdown.unfazed].map(([name, text]) => `Per saga, last round, ${name}: ${text}.`),
      ...[...breakdown.dbos].map(
        ([name, text]) =>
          `Per saga, last round, ${name} (statements by their first words): ${text}.`,
      ),
      ...(warnings.length > 0 ? [`Seen in this run: ${warnings.join('; ')}`] : []),
    ],
  };
}
