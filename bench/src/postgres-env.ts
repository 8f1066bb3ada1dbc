import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { processCpuMicros } from './process-cpu.js';

/** Where the benchmark finds PostgreSQL: `BENCH_POSTGRES_URL`, else the local server. */
export const DEFAULT_POSTGRES_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Databases the saga suite creates: `unfazed_bench_saga_<pid>_<random>`. */
const SCRATCH_PREFIX = 'unfazed_bench_saga_';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** A database created for one run of a suite, dropped by `drop()`. */
export interface ScratchDatabase {
  readonly name: string;
  /** Connection string of the scratch database. */
  readonly url: string;
  /** `SELECT version()`, for the notes. */
  readonly version: string;
  /** Connection settings of the scratch database, for a `pg.Pool` or `pg.Client`. */
  config(extra?: pg.PoolConfig): pg.PoolConfig;
  /** Runs SQL on the scratch database (a short-lived connection). */
  query(sql: string): Promise<pg.QueryResult>;
  /** CPU time used so far by the server processes connected to the scratch database, µs, by pid. */
  backendCpu(): Promise<Map<number, number>>;
  /** Drops the database (`WITH (FORCE)`: connections left open are cut) and closes the admin. */
  drop(): Promise<void>;
}

function assertLoopback(url: URL): void {
  if (!LOOPBACK.has(url.hostname)) {
    throw new Error(`BENCH_POSTGRES_URL must point at this machine (127.0.0.1), not ${url.host}`);
  }
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Creates `unfazed_bench_saga_<pid>_<random>` on the PostgreSQL at `BENCH_POSTGRES_URL` (default
 * 127.0.0.1:5432, user postgres), after dropping the ones a dead process of this machine left.
 * Throws a clear error when no server answers.
 */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const base = new URL(process.env['BENCH_POSTGRES_URL'] ?? DEFAULT_POSTGRES_URL);
  assertLoopback(base);
  const adminConfig: pg.ClientConfig = {
    connectionString: base.toString(),
    connectionTimeoutMillis: 5_000,
    statement_timeout: 30_000,
    application_name: 'unfazed-bench-admin',
  };
  const admin = new pg.Client(adminConfig);
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => undefined);
    throw new Error(
      `The saga suite needs PostgreSQL for its DBOS peer: none answered at ${base.host} ` +
        `(${error instanceof Error ? error.message : String(error)}); set BENCH_POSTGRES_URL`,
    );
  }
  const version = String((await admin.query('SELECT version()')).rows[0]?.version ?? 'unknown');
  // Databases of runs that died before dropping theirs (their pid is gone); never another live run's.
  const stale = await admin.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE datname LIKE $1',
    [`${SCRATCH_PREFIX}%`],
  );
  for (const { datname } of stale.rows) {
    const pid = Number(/^unfazed_bench_saga_(\d+)_[0-9a-f]+$/.exec(datname)?.[1]);
    if (Number.isInteger(pid) && !pidAlive(pid)) {
      await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  }
  const name = `${SCRATCH_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  const config = (extra: pg.PoolConfig = {}): pg.PoolConfig => ({
    connectionString: url.toString(),
    connectionTimeoutMillis: 5_000,
    ...extra,
  });
  return {
    name,
    url: url.toString(),
    version,
    config,
    async query(sql) {
      const client = new pg.Client(config({ application_name: 'unfazed-bench-admin' }));
      client.on('error', () => undefined);
      await client.connect();
      try {
        return await client.query(sql);
      } finally {
        await client.end();
      }
    },
    async backendCpu() {
      const rows = await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1',
        [name],
      );
      const out = new Map<number, number>();
      for (const { pid } of rows.rows) {
        const cpu = processCpuMicros(pid);
        if (cpu !== undefined) out.set(pid, cpu);
      }
      return out;
    },
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
  };
}

/** CPU the backends used between two {@link ScratchDatabase.backendCpu} readings, µs. */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  // A backend that connected in between started from zero.
  for (const [pid, cpu] of after) sum += cpu - (before.get(pid) ?? 0);
  return sum;
}

/** Counts the statements a pool's connections send (node-postgres: one round trip each). */
export interface StatementCounter {
  total(): number;
  /** Statements by their first words (`BEGIN`, `SELECT status FROM …`), most frequent first. */
  breakdown(): [string, number][];
  reset(): void;
}

/** Wraps `query` of every connection `pool` opens, to count what it sends. */
export function countStatements(pool: pg.Pool): StatementCounter {
  let total = 0;
  const kinds = new Map<string, number>();
  pool.on('connect', (client) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (
      ...args: unknown[]
    ) => {
      total++;
      const first = args[0];
      const text =
        typeof first === 'string' ? first : String((first as { text?: unknown })?.text ?? '?');
      const kind = text.replace(/\s+/g, ' ').trim().split(' ').slice(0, 4).join(' ');
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      return original(...args);
    };
  });
  return {
    total: () => total,
    breakdown: () => [...kinds].sort((a, b) => b[1] - a[1]),
    reset: () => {
      total = 0;
      kinds.clear();
    },
  };
}
