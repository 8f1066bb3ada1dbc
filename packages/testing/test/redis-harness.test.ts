import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { isInvalidOptionError } from '@unfazed/contract';
import {
  isRedisStartError,
  isRedisUnavailableError,
  redisTestContext,
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from '@unfazed/testing';
import { freePort } from '../src/redis/free-port.js';
import { redisCommand } from '../src/redis/resp.js';

async function answersPing(port: number): Promise<boolean> {
  try {
    return (await redisCommand({ host: '127.0.0.1', port }, ['PING'], 300)) === 'PONG';
  } catch {
    return false;
  }
}

function once(client: Redis, event: string): Promise<void> {
  return new Promise((resolve) => client.once(event, () => resolve()));
}

describe('redisTestContext: where the server comes from', () => {
  let own: RedisServerHandle;
  let deadPort: number;
  beforeAll(async () => {
    own = await startRedisServer();
    deadPort = await freePort();
  });
  afterAll(async () => {
    await own.close();
  });

  it('uses REDIS_URL from the environment first', async () => {
    const saved = process.env['REDIS_URL'];
    process.env['REDIS_URL'] = own.url;
    try {
      const ctx = await redisTestContext('env-url');
      expect(ctx.url).toBe(own.url);
      expect(ctx.source).toBe('REDIS_URL');
      await ctx.connect().set(`${ctx.prefix}k`, 'v');
      const direct = own.connect();
      expect(await direct.get(`${ctx.prefix}k`)).toBe('v');
      await ctx.close();
      expect(await direct.exists(`${ctx.prefix}k`)).toBe(0);
    } finally {
      if (saved === undefined) delete process.env['REDIS_URL'];
      else process.env['REDIS_URL'] = saved;
    }
  });

  it('fails loudly when REDIS_URL is set but nothing answers', async () => {
    const error = await redisTestContext('dead-url', {
      redisUrl: `redis://127.0.0.1:${deadPort}`,
    }).catch((e: unknown) => e);
    expect(isRedisUnavailableError(error)).toBe(true);
    expect((error as Error).message).toContain('REDIS_URL');
    expect((error as Error).message).toContain(String(deadPort));
  });

  it('uses a server answering on the local address when REDIS_URL is not set', async () => {
    const ctx = await redisTestContext('local', {
      redisUrl: undefined,
      localAddress: { host: '127.0.0.1', port: own.port },
    });
    expect(ctx.source).toBe('local');
    expect(ctx.url).toBe(`redis://127.0.0.1:${own.port}`);
    await ctx.close();
  });

  it('spawns redis-server when nothing answers, and stops it when the last context closes', async () => {
    const options = { redisUrl: '', localAddress: { host: '127.0.0.1', port: deadPort } };
    const a = await redisTestContext('spawn-a', options);
    const b = await redisTestContext('spawn-b', options);
    expect(a.source).toBe('spawned');
    expect(b.url).toBe(a.url);
    const port = Number(new URL(a.url).port);
    expect(port).not.toBe(deadPort);
    expect(await a.connect().ping()).toBe('PONG');
    await a.close();
    expect(await answersPing(port)).toBe(true);
    await b.close();
    expect(await answersPing(port)).toBe(false);
  });

  it('says how to get Redis when there is no redis-server, instead of skipping', async () => {
    const error = await redisTestContext('no-redis', {
      redisUrl: '',
      localAddress: { host: '127.0.0.1', port: deadPort },
      redisServer: 'redis-server-that-does-not-exist',
    }).catch((e: unknown) => e);
    expect(isRedisUnavailableError(error)).toBe(true);
    expect((error as Error).message).toContain('apt-get install redis-server');
    expect((error as Error).message).toContain('REDIS_URL');
  });

  it('rejects an empty label', async () => {
    const error = await redisTestContext('  ').catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
  });
});

describe('redisTestContext: isolation and cleanup', () => {
  it('gives each context its own prefix and lists only its own keys', async () => {
    const a = await redisTestContext('isolation');
    const b = await redisTestContext('isolation');
    try {
      expect(a.prefix).not.toBe(b.prefix);
      expect(a.prefix).toMatch(/^ut:isolation:[0-9a-f]+:$/);
      const redis = a.connect();
      await redis.set(`${a.prefix}one`, '1');
      await redis.hset(`${a.prefix}{tag}:two`, 'f', 'v');
      await redis.set(`${b.prefix}other`, '1');
      expect(await a.keys()).toEqual([`${a.prefix}one`, `${a.prefix}{tag}:two`]);
      expect(await b.keys()).toEqual([`${b.prefix}other`]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('leaves no keys behind and quits its clients on close()', async () => {
    const ctx = await redisTestContext('cleanup');
    const client = ctx.connect();
    const pipeline = client.pipeline();
    for (let i = 0; i < 1_200; i++) pipeline.set(`${ctx.prefix}k${i}`, String(i));
    await pipeline.exec();
    expect((await ctx.keys()).length).toBe(1_200);
    const observer = await redisTestContext('cleanup-observer');
    try {
      await ctx.close();
      expect(client.status).toBe('end');
      const left = await observer.connect().scan('0', 'MATCH', `${ctx.prefix}*`, 'COUNT', 10_000);
      expect(left[1]).toEqual([]);
      expect(() => ctx.connect()).toThrow(/after close/);
    } finally {
      await observer.close();
    }
  });
});

describe('startRedisServer', () => {
  let own: RedisServerHandle;
  beforeAll(async () => {
    own = await startRedisServer();
  });
  afterAll(async () => {
    await own.close();
  });

  it('stops and starts on the same port; a client reconnects and finds nothing persisted', async () => {
    const redis = own.connect();
    await redis.set('before', '1');
    const port = own.port;
    await own.stop();
    expect(own.running).toBe(false);
    expect(await answersPing(port)).toBe(false);
    const queued = redis.get('before');
    await own.start();
    expect(own.port).toBe(port);
    expect(await queued).toBeNull();
    expect(await redis.ping()).toBe('PONG');
  });

  it('kill() SIGKILLs the process, and the client reconnects after start()', async () => {
    const redis = own.connect();
    await redis.ping();
    const pid = own.pid;
    expect(pid).toBeDefined();
    const closed = once(redis, 'close');
    await own.kill();
    await closed;
    expect(() => process.kill(pid as number, 0)).toThrow();
    await own.start();
    expect(own.pid).not.toBe(pid);
    expect(await redis.set('after-crash', '1')).toBe('OK');
  });

  it('notices a server killed from outside, and start() brings it back', async () => {
    const redis = own.connect();
    await redis.ping();
    const pid = own.pid;
    process.kill(pid as number, 'SIGKILL');
    for (let i = 0; i < 100 && own.running; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(own.running).toBe(false);
    expect(own.pid).toBeUndefined();
    await own.start();
    expect(own.running).toBe(true);
    expect(await redis.ping()).toBe('PONG');
  });

  it('pause() holds commands on the server for the given time', async () => {
    const redis = own.connect();
    await redis.ping();
    await own.pause(300);
    const started = Date.now();
    await redis.get('x');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("pause(ms, 'WRITE') holds writes while reads go on", async () => {
    const redis = own.connect();
    const reader = own.connect();
    await Promise.all([redis.ping(), reader.ping()]);
    await own.pause(400, 'WRITE');
    let written = false;
    const write = redis.set('paused-write', '1').then(() => (written = true));
    // Another connection: one connection's commands run in order, behind the held write.
    expect(await reader.get('paused-write')).toBeNull();
    expect(written).toBe(false);
    await write;
    expect(await redis.get('paused-write')).toBe('1');
  });

  it('killClients() cuts the named connections only', async () => {
    const victim = own.connect({ connectionName: 'victim' });
    const bystander = own.connect({ connectionName: 'bystander' });
    await Promise.all([victim.ping(), bystander.ping()]);
    let bystanderClosed = false;
    bystander.on('close', () => (bystanderClosed = true));
    const victimClosed = once(victim, 'close');
    expect(await own.killClients({ name: 'victim' })).toBe(1);
    await victimClosed;
    expect(await victim.ping()).toBe('PONG');
    expect(await bystander.ping()).toBe('PONG');
    expect(bystanderClosed).toBe(false);
  });

  it('killClients() by type cuts subscribers only, and they resubscribe', async () => {
    const subscriber = own.connect();
    const normal = own.connect();
    await subscriber.subscribe('news');
    await normal.ping();
    let normalClosed = false;
    normal.on('close', () => (normalClosed = true));
    const resubscribed = once(subscriber, 'ready');
    expect(await own.killClients({ type: 'pubsub' })).toBe(1);
    await resubscribed;
    const received = new Promise<string>((resolve) =>
      subscriber.once('message', (_channel: string, message: string) => resolve(message)),
    );
    // The resubscription races with 'ready': wait until the server sees the subscriber again.
    for (let i = 0; i < 100; i++) {
      const [, count] = (await normal.pubsub('NUMSUB', 'news')) as [string, number];
      if (count === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await normal.publish('news', 'hello');
    expect(await received).toBe('hello');
    expect(normalClosed).toBe(false);
  });

  it('killClients() needs a name or a type', async () => {
    const error = await own.killClients({}).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
  });

  it('says how to get Redis when the binary is missing', async () => {
    const error = await startRedisServer({ binary: 'no-such-redis-server' }).catch(
      (e: unknown) => e,
    );
    expect(isRedisUnavailableError(error)).toBe(true);
    expect((error as Error).message).toContain('apt-get install redis-server');
  });

  it('reports a server that cannot start, with its output', async () => {
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const error = await startRedisServer({ port }).catch((e: unknown) => e);
      expect(isRedisStartError(error)).toBe(true);
      expect((error as Error).message).toContain(`port ${port}`);
      expect((error as Error).message).toMatch(/in use/i);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('rejects an invalid port', async () => {
    const error = await startRedisServer({ port: 70_000 }).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
  });
});

describe('startRedisCluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('serves keys on all three masters', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const redis = cluster.connect();
    for (let i = 0; i < 60; i++) await redis.set(`{order-${i}}:state`, String(i));
    expect(await redis.get('{order-7}:state')).toBe('7');
    // A multi-key command within one hash tag works on a cluster.
    await redis.mset('{order-7}:a', '1', '{order-7}:b', '2');
    expect(await redis.mget('{order-7}:a', '{order-7}:b')).toEqual(['1', '2']);
    for (const node of cluster.nodes) {
      const size = await redisCommand(node, ['DBSIZE']);
      expect(size).toBeGreaterThan(0);
    }
    const [first] = cluster.nodes;
    if (!first) throw new Error('no nodes');
    const slots = (await redisCommand(first, ['CLUSTER', 'SLOTS'])) as [number, number][];
    const covered = slots.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
    expect(slots).toHaveLength(3);
    expect(covered).toBe(16_384);
  });

  it('rejects fewer than three masters', async () => {
    const error = await startRedisCluster({ masters: 2 }).catch((e: unknown) => e);
    expect(isInvalidOptionError(error)).toBe(true);
  });

  it('close() stops every node', async () => {
    const second = await startRedisCluster({ masters: 3 });
    const ports = second.nodes.map((n) => n.port);
    const client = second.connect();
    await client.set('x', '1');
    await second.close();
    expect(client.status).toBe('end');
    for (const port of ports) expect(await answersPing(port)).toBe(false);
  }, 60_000);
});
