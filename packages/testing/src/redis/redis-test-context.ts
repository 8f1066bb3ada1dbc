import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { InvalidOptionError, option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { HOW_TO_GET_REDIS, RedisUnavailableError, isRedisUnavailableError } from './errors.js';
import {
  redisFaultProxy,
  type RedisFaultProxy,
  type RedisFaultProxyOptions,
} from './redis-fault-proxy.js';
import { quitClient, startRedisServer, type RedisServerHandle } from './redis-server.js';
import { redisCommand, type RedisAddress } from './resp.js';

/** Where the server of a {@link RedisTestContext} came from. */
export type RedisSource = 'REDIS_URL' | 'local' | 'spawned';

/**
 * Overrides for how {@link redisTestContext} finds its server. Meant for testing the harness
 * itself; tests normally pass nothing.
 */
export interface RedisTestContextOptions {
  /** Used instead of `process.env.REDIS_URL` (`undefined` or `''` means "not set"). */
  redisUrl?: string | undefined;
  /** The address probed when no URL is set. Default `127.0.0.1:6379`. */
  localAddress?: RedisAddress;
  /** The executable spawned when nothing answers. Default `redis-server`. */
  redisServer?: string;
}

/** A Redis for one test file: a unique key prefix, tracked clients, cleanup on `close()`. */
export interface RedisTestContext {
  /** The server's URL (`REDIS_URL`, `redis://127.0.0.1:6379`, or the spawned server's). */
  readonly url: string;
  /** Where the server came from. */
  readonly source: RedisSource;
  /** A prefix unique to this context, e.g. `ut:my-file:3f9a12bc:`. Put every key under it. */
  readonly prefix: string;
  /** A new ioredis client for the server, tracked and quit by `close()`. */
  connect(options?: RedisOptions): Redis;
  /**
   * A `faultProxy` in front of this server, whose `connect()` gives clients through it. Its
   * `close()` (or this context's) ends those clients first, then the proxy.
   */
  proxy(options?: RedisFaultProxyOptions): Promise<RedisFaultProxy>;
  /** The keys currently under `prefix`, sorted. */
  keys(): Promise<string[]>;
  /**
   * Deletes every key under `prefix` (SCAN + UNLINK), closes the proxies from `proxy()` (their
   * clients first), then quits every client from `connect()`.
   */
  close(): Promise<void>;
}

const optionsSchema = option.object({
  redisUrl: option.string().optional(),
  localAddress: option
    .object({
      host: option.string({ nonEmpty: true }),
      port: option.number({ integer: true, min: 1, max: 65_535 }),
    })
    .optional(),
  redisServer: option.string({ nonEmpty: true }).optional(),
} satisfies ShapeFor<RedisTestContextOptions>);

interface SharedSpawn {
  server: Promise<RedisServerHandle>;
  refs: number;
}

/** Servers spawned because nothing else was available, shared by the contexts of this module copy. */
const spawned = new Map<string, SharedSpawn>();

/**
 * Opens a Redis test context. The server is, in this order: `REDIS_URL` when set (it must
 * answer, or this throws); a server answering `PING` on 127.0.0.1:6379; otherwise a
 * `redis-server` from the PATH, spawned on a free port without persistence, shared by the
 * contexts of this test file and stopped when the last of them closes (or the process exits).
 * With no Redis at all it throws {@link RedisUnavailableError} saying how to get one — tests
 * never skip silently.
 *
 * @param label - names the test file in key prefixes, e.g. `'redis-store'`.
 * @example
 * let ctx: RedisTestContext;
 * beforeAll(async () => { ctx = await redisTestContext('redis-store'); });
 * afterAll(async () => { await ctx.close(); });
 * it('stores', async () => { await ctx.connect().set(`${ctx.prefix}a`, '1'); });
 */
export async function redisTestContext(
  label: string,
  options: RedisTestContextOptions = {},
): Promise<RedisTestContext> {
  if (typeof label !== 'string' || label.trim() === '') {
    throw new InvalidOptionError('label', 'must be a non-empty string', label, {
      factory: 'redisTestContext',
    });
  }
  validateOptions(optionsSchema, options, { name: 'redisTestContext' });
  const safeLabel = label.trim().replace(/[^A-Za-z0-9._-]+/g, '-');
  const prefix = `ut:${safeLabel}:${randomBytes(4).toString('hex')}:`;
  const server = await resolveServer(options);
  const clients = new Set<Redis>();
  const proxies = new Set<RedisFaultProxy>();
  let admin: Redis | undefined;
  let closed = false;

  const track = (client: Redis): Redis => {
    clients.add(client);
    client.once('end', () => clients.delete(client));
    return client;
  };
  const adminClient = (): Redis => {
    admin ??= track(
      new Redis(server.url, { maxRetriesPerRequest: 1, connectionName: 'unfazed-test-admin' }),
    );
    return admin;
  };
  const scan = async (): Promise<string[]> => {
    const redis = adminClient();
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(
        cursor,
        'MATCH',
        `${escapeGlob(prefix)}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      for (const key of batch) found.add(key);
    } while (cursor !== '0');
    return [...found].sort();
  };

  return {
    url: server.url,
    source: server.source,
    prefix,
    connect(clientOptions: RedisOptions = {}) {
      if (closed) throw new Error(`redisTestContext(${label}): connect() after close()`);
      return track(new Redis(server.url, clientOptions));
    },
    async proxy(proxyOptions = {}) {
      if (closed) throw new Error(`redisTestContext(${label}): proxy() after close()`);
      const proxy = await redisFaultProxy(server.url, proxyOptions, () => proxies.delete(proxy));
      proxies.add(proxy);
      return proxy;
    },
    keys: scan,
    async close() {
      if (closed) return;
      closed = true;
      let failure: unknown;
      try {
        const keys = await scan();
        for (let i = 0; i < keys.length; i += 500) {
          await adminClient().unlink(...keys.slice(i, i + 500));
        }
      } catch (error) {
        failure = error;
      }
      await Promise.all([...proxies].map((proxy) => proxy.close()));
      await Promise.all([...clients].map((client) => quitClient(client)));
      clients.clear();
      await server.release();
      if (failure !== undefined) throw failure;
    },
  };
}

interface ResolvedServer {
  url: string;
  source: RedisSource;
  release(): Promise<void>;
}

async function resolveServer(options: RedisTestContextOptions): Promise<ResolvedServer> {
  const url = 'redisUrl' in options ? options.redisUrl : process.env['REDIS_URL'];
  const noop = async (): Promise<void> => {};
  if (url) {
    const problem = await pingUrl(url);
    if (problem) {
      throw new RedisUnavailableError(
        `REDIS_URL is set to ${redact(url)} but that server does not answer PING (${problem.message}). ` +
          `Start it, or unset REDIS_URL to let the harness find or spawn a local redis-server.`,
        { cause: problem },
      );
    }
    return { url, source: 'REDIS_URL', release: noop };
  }
  const local = options.localAddress ?? { host: '127.0.0.1', port: 6379 };
  if (await answersPing(local)) {
    return { url: `redis://${local.host}:${local.port}`, source: 'local', release: noop };
  }
  const binary = options.redisServer ?? 'redis-server';
  let shared = spawned.get(binary);
  if (!shared) {
    const entry: SharedSpawn = { server: startRedisServer({ binary }), refs: 0 };
    shared = entry;
    spawned.set(binary, entry);
    entry.server.catch(() => {
      if (spawned.get(binary) === entry) spawned.delete(binary);
    });
  }
  shared.refs++;
  const entry = shared;
  let handle: RedisServerHandle;
  try {
    handle = await entry.server;
  } catch (error) {
    entry.refs--;
    if (isRedisUnavailableError(error)) {
      throw new RedisUnavailableError(
        `No Redis for the tests: REDIS_URL is not set, nothing answers on ${local.host}:${local.port}, ` +
          `and "${binary}" could not be started. ${HOW_TO_GET_REDIS}`,
        { cause: error },
      );
    }
    throw error;
  }
  let released = false;
  return {
    url: handle.url,
    source: 'spawned',
    async release() {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs === 0 && spawned.get(binary) === entry) {
        spawned.delete(binary);
        await handle.close();
      }
    },
  };
}

async function answersPing(address: RedisAddress): Promise<boolean> {
  try {
    return (await redisCommand(address, ['PING'], 500)) === 'PONG';
  } catch {
    return false;
  }
}

async function pingUrl(url: string): Promise<Error | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    client.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
