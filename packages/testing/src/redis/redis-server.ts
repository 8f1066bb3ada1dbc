import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { InvalidOptionError, option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { killOnExit } from '../process/kill-on-exit.js';
import { HOW_TO_GET_REDIS, RedisStartError, RedisUnavailableError } from './errors.js';
import { freePort } from './free-port.js';
// A cycle (it uses withTimeout from here), harmless: neither module calls the other on load.
import {
  redisFaultProxy,
  type RedisFaultProxy,
  type RedisFaultProxyOptions,
} from './redis-fault-proxy.js';
import { guardedSpawn, isExecutable } from './guarded-spawn.js';
import { redisCommand, type RedisAddress } from './resp.js';

const HOST = '127.0.0.1';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Port to listen on. Default: a free port chosen by the OS. */
  port?: number;
  /** Executable to run. Default: `redis-server` from the PATH. */
  binary?: string;
  /** Extra configuration as command-line arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: readonly string[];
  /** How long to wait for the server to answer `PING`. Default 10 000 ms. */
  startTimeoutMs?: number;
  /**
   * Working directory for the server. Default: a fresh temporary directory, removed by `close()`
   * or, if the test process dies without it (even by SIGKILL), by the server's watchdog.
   */
  dir?: string;
}

/**
 * Which clients {@link RedisServerHandle.killClients} disconnects (`CLIENT KILL` filters; both
 * given: both must match). The harness's own connection is always spared.
 */
export interface KillClientsFilter {
  /** Clients whose name (`CLIENT SETNAME`, ioredis `connectionName`) equals this. */
  name?: string;
  /** `normal`, `pubsub`, `replica` or `master` (ioredis blocking connections are `normal`). */
  type?: 'normal' | 'pubsub' | 'replica' | 'master';
}

/** A redis-server owned by the test: stop it, start it again on the same port, kill it. */
export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The port; unchanged across `stop()`/`start()` so clients reconnect. */
  readonly port: number;
  /** True between a successful `start()` and `stop()`/`kill()`/`close()`. */
  readonly running: boolean;
  /** PID of the current process, if running. */
  readonly pid: number | undefined;
  /** The server's working directory (a temporary one unless `dir` was given). */
  readonly dir: string;
  /** A new ioredis client for this server, quit by `close()`. */
  connect(options?: RedisOptions): Redis;
  /**
   * A `faultProxy` in front of this server, whose `connect()` gives clients through it. Its
   * `close()` (or this handle's) ends those clients first, then the proxy.
   */
  proxy(options?: RedisFaultProxyOptions): Promise<RedisFaultProxy>;
  /** Graceful stop (SIGTERM; nothing is persisted). Resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (empty: nothing was persisted). */
  start(): Promise<void>;
  /** SIGKILL, as in a crash. Resolves once the process has exited. */
  kill(): Promise<void>;
  /**
   * `CLIENT PAUSE <ms> <mode>`: the server stops answering clients (all commands, or only
   * writes) for `ms` milliseconds while connections stay open. Resolves at once; the pause
   * runs on the server.
   */
  pause(ms: number, mode?: 'ALL' | 'WRITE'): Promise<void>;
  /**
   * `CLIENT KILL` with filters: cuts the matching connections (ioredis clients then
   * reconnect by themselves). Resolves with the number of connections cut.
   */
  killClients(filter: KillClientsFilter): Promise<number>;
  /** Quits the clients from `connect()`, stops the server, removes its temporary directory. */
  close(): Promise<void>;
}

/** Internal: one spawned redis-server process that answered PING. */
export interface SpawnedRedis {
  /** The redis-server's own PID. */
  pid: number | undefined;
  /** Signals the redis-server itself. */
  signal: (signal: NodeJS.Signals) => void;
  exited: Promise<void>;
  isRunning: () => boolean;
  output: () => string;
  forget: () => void;
}

/**
 * Spawns `redis-server` with the given port and extra arguments, without persistence, and
 * resolves once it answers `PING`. Throws {@link RedisUnavailableError} when the binary is
 * missing and {@link RedisStartError} when it exits or does not answer in time.
 * @internal
 */
export async function spawnRedisServer(options: {
  binary: string;
  port: number;
  dir: string;
  args: readonly string[];
  startTimeoutMs: number;
  /** Removed by the watchdog if the test process dies without `close()` (a temporary dir). */
  cleanupDir?: string;
}): Promise<SpawnedRedis> {
  const args = [
    '--port',
    String(options.port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    options.dir,
    '--daemonize',
    'no',
    ...options.args,
  ];
  if (!isExecutable(options.binary)) {
    throw new RedisUnavailableError(
      `Cannot start Redis: "${options.binary}" was not found on the PATH. ${HOW_TO_GET_REDIS}`,
    );
  }
  let tail = '';
  const guarded = guardedSpawn(
    options.binary,
    args,
    (text) => {
      tail = (tail + text).slice(-4_000);
    },
    options.cleanupDir,
  );
  const child = guarded.wrapper;
  // The watcher ends the server (and removes its directory) once this process is gone.
  const forget = killOnExit({ kill: () => guarded.abandon() });
  let exitedEarly = false;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exitedEarly = true;
      forget();
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      exitedEarly = true;
      forget();
      resolve();
    });
  });
  const pid = await guarded.pid;

  const deadline = Date.now() + options.startTimeoutMs;
  for (;;) {
    if (exitedEarly) {
      throw new RedisStartError(
        `redis-server on port ${options.port} exited before it was ready` +
          (spawnError ? ` (${spawnError.message})` : '') +
          `. Its output:\n${tail}`,
        { cause: spawnError },
      );
    }
    try {
      if ((await redisCommand({ host: HOST, port: options.port }, ['PING'], 500)) === 'PONG') break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      guarded.signal('SIGKILL');
      await exited;
      throw new RedisStartError(
        `redis-server on port ${options.port} did not answer PING within ${options.startTimeoutMs} ms. Its output:\n${tail}`,
      );
    }
    await sleep(20);
  }
  // Once it is up, a forgotten server must not keep the test process alive; the watchdog
  // still stops it when this process ends.
  child.unref();
  unrefStream(child.stdin);
  unrefStream(child.stdout);
  unrefStream(child.stderr);
  return {
    pid,
    signal: (signal) => guarded.signal(signal),
    exited,
    isRunning: () => !exitedEarly,
    output: () => tail,
    forget,
  };
}

function unrefStream(stream: unknown): void {
  (stream as { unref?: () => void } | null)?.unref?.();
}

/** @internal */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends a signal and waits for the exit, escalating to SIGKILL after `graceMs`. @internal */
export async function terminate(
  spawned: SpawnedRedis,
  signal: NodeJS.Signals,
  graceMs = 5_000,
): Promise<void> {
  if (!spawned.isRunning()) return;
  spawned.signal(signal);
  const timer = setTimeout(() => spawned.signal('SIGKILL'), graceMs);
  await spawned.exited;
  clearTimeout(timer);
}

/** What {@link quitClient} needs of an ioredis `Redis` or `Cluster`. @internal */
export interface QuittableClient {
  readonly status: string;
  quit(): Promise<unknown>;
  disconnect(): void;
  once(event: 'end', listener: () => void): unknown;
}

/**
 * Quits a client politely when it is connected, otherwise drops it, and resolves once it has
 * ended (or after a second, so a wedged client cannot hang a test's teardown). @internal
 */
export async function quitClient(client: QuittableClient): Promise<void> {
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  if (client.status === 'ready') {
    try {
      await withTimeout(client.quit(), 1_000);
      // quit() resolves on the server's OK; the client ends once its sockets have closed.
      await withTimeout(ended, 1_000);
      return;
    } catch {
      // fall through to disconnect()
    }
  }
  if (client.status !== 'end') client.disconnect();
  await withTimeout(ended, 1_000).catch(() => undefined);
}

/** Rejects when `promise` has not settled after `ms`, without leaving a timer behind. @internal */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const serverOptionsSchema = option.object({
  port: option.number({ integer: true, min: 1, max: 65_535 }).optional(),
  binary: option.string({ nonEmpty: true }).optional(),
  args: option.array(option.string()).optional(),
  startTimeoutMs: option.duration().optional(),
  dir: option.string({ nonEmpty: true }).optional(),
} satisfies ShapeFor<RedisServerOptions>);

/**
 * Starts a redis-server of the test's own on a free port (no persistence), for outage tests:
 * `stop()`/`start()` it (same port, so clients reconnect), `kill()` it, `pause()` it, cut its
 * clients. The process is stopped by `close()` and, failing that, when the test process exits.
 *
 * @example
 * const own = await startRedisServer();
 * const redis = own.connect();
 * await own.stop(); // commands now fail or queue
 * await own.start(); // redis reconnects
 * await own.close();
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServerHandle> {
  validateOptions(serverOptionsSchema, options, { name: 'startRedisServer' });
  const binary = options.binary ?? 'redis-server';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'unfazed-redis-')));
  const extra = options.args ?? [];
  // A directory of our own goes with the server if the test process dies without close().
  const cleanup = ownDir ? { cleanupDir: dir } : {};

  let port = options.port ?? 0;
  let current: SpawnedRedis | undefined;
  const spawn = (): Promise<SpawnedRedis> =>
    spawnRedisServer({ binary, port, dir, args: extra, startTimeoutMs, ...cleanup });
  try {
    for (let attempt = 0; ; attempt++) {
      if (options.port === undefined) port = await freePort(HOST);
      try {
        current = await spawn();
        break;
      } catch (error) {
        // The free port may have been taken between asking and binding: try another one.
        const inUse =
          error instanceof RedisStartError && /Address already in use/i.test(error.message);
        if (!inUse || options.port !== undefined || attempt >= 4) throw error;
      }
    }
  } catch (error) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const address: RedisAddress = { host: HOST, port };
  const clients = new Set<Redis>();
  const proxies = new Set<RedisFaultProxy>();
  let closed = false;

  const handle: RedisServerHandle = {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    dir,
    get running() {
      return current?.isRunning() ?? false;
    },
    get pid() {
      return current?.isRunning() ? current.pid : undefined;
    },
    connect(clientOptions: RedisOptions = {}) {
      if (closed) throw new Error('startRedisServer: connect() after close()');
      const client = new Redis({ ...clientOptions, host: HOST, port });
      clients.add(client);
      client.once('end', () => clients.delete(client));
      return client;
    },
    async proxy(proxyOptions = {}) {
      if (closed) throw new Error('startRedisServer: proxy() after close()');
      const proxy = await redisFaultProxy(handle.url, proxyOptions, () => proxies.delete(proxy));
      proxies.add(proxy);
      return proxy;
    },
    async stop() {
      const spawned = current;
      if (!spawned) return;
      current = undefined;
      await terminate(spawned, 'SIGTERM');
    },
    async start() {
      if (closed) throw new Error('startRedisServer: start() after close()');
      // Also restarts a server that died by other means (e.g. killed from outside).
      if (current?.isRunning()) return;
      current = await spawn();
    },
    async kill() {
      const spawned = current;
      if (!spawned) return;
      current = undefined;
      await terminate(spawned, 'SIGKILL');
    },
    async pause(ms, mode = 'ALL') {
      if (!Number.isInteger(ms) || ms < 0) {
        throw new InvalidOptionError('ms', 'must be a non-negative integer', ms);
      }
      // Redis < 6.2 knows no mode argument: send it only when it matters.
      await redisCommand(address, [
        'CLIENT',
        'PAUSE',
        String(ms),
        ...(mode === 'WRITE' ? ['WRITE'] : []),
      ]);
    },
    async killClients(filter) {
      const args = ['CLIENT', 'KILL'];
      if (filter.name !== undefined) {
        // CLIENT KILL has no NAME filter: look the ids up first.
        const list = await redisCommand(address, ['CLIENT', 'LIST']);
        const ids = String(list)
          .split('\n')
          .filter((line) => line.includes(` name=${filter.name} `))
          .filter((line) => filter.type === undefined || matchesType(line, filter.type))
          .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
          .filter((id): id is string => id !== undefined);
        let killed = 0;
        for (const id of ids) {
          try {
            killed += Number(
              await redisCommand(address, ['CLIENT', 'KILL', 'ID', id, 'SKIPME', 'yes']),
            );
          } catch {
            // gone meanwhile
          }
        }
        return killed;
      }
      if (filter.type === undefined) {
        throw new InvalidOptionError('filter', 'needs a name or a type', filter);
      }
      args.push('TYPE', filter.type, 'SKIPME', 'yes');
      return Number(await redisCommand(address, args));
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...proxies].map((proxy) => proxy.close()));
      await Promise.all([...clients].map((client) => quitClient(client)));
      clients.clear();
      await handle.stop();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

function matchesType(line: string, type: NonNullable<KillClientsFilter['type']>): boolean {
  const flags = /(?:^|\s)flags=(\S+)/.exec(line)?.[1] ?? '';
  switch (type) {
    case 'pubsub':
      return / sub=[1-9]| psub=[1-9]/.test(line);
    case 'replica':
      return flags.includes('S');
    case 'master':
      return flags.includes('M');
    case 'normal':
      return !flags.includes('S') && !flags.includes('M') && !/ sub=[1-9]| psub=[1-9]/.test(line);
  }
}
