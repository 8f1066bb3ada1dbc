/**
 * The shared circuit across two processes: instance A's circuit opens and instance B, which
 * never called the origin, fails fast at once without opening a socket to it; when the origin
 * comes back one probe reaches it, for the whole fleet; with Redis stopped, both fall back to
 * their local breakers and no Redis error reaches a caller.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startRedisServer, type RedisServerHandle } from '@unfazed/testing';
import type { Redis } from 'ioredis';
import { send, startServer, type TestServer } from './support/server.js';

const CHILD = join(__dirname, 'fleet-child.ts');
const OPEN_MS = 600;
const PREFIX = 'fleet-test:';

interface Message {
  type: 'ready' | 'circuit' | 'shared' | 'result' | 'error';
  id?: number;
  results?: string[];
  action?: string;
  to?: string;
  at?: number;
  error?: string;
}

/** One instance: a child process and what it reported. */
class Instance {
  readonly messages: Message[] = [];
  #seq = 0;
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: Message) => this.messages.push(m));
  }
  ready(): Promise<void> {
    return this.#waitFor((m) => m.type === 'ready').then(() => undefined);
  }
  async call(cmd: 'request' | 'status' | 'close', n = 1, sequential = false): Promise<string[]> {
    const id = ++this.#seq;
    this.child.send({ id, cmd, n, sequential });
    const m = await this.#waitFor((x) => x.type === 'result' && x.id === id);
    return m.results ?? [];
  }
  /** The first message matching `test` (already received or to come). */
  #waitFor(test: (m: Message) => boolean, timeoutMs = 10_000): Promise<Message> {
    const seen = this.messages.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such message in time')), timeoutMs);
      const on = (m: Message): void => {
        if (!test(m)) return;
        clearTimeout(timer);
        this.child.off('message', on);
        resolve(m);
      };
      this.child.on('message', on);
    });
  }
  event(test: (m: Message) => boolean, timeoutMs?: number): Promise<Message> {
    return this.#waitFor(test, timeoutMs);
  }
  errors(): string[] {
    return this.messages.filter((m) => m.type === 'error').map((m) => m.error ?? '');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('shared circuit, two processes', () => {
  let redisServer: RedisServerHandle;
  let admin: Redis;
  let origin: TestServer;
  let mode: 'fail' | 'ok' = 'fail';
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    admin = redisServer.connect();
    origin = await startServer((_req, res) => {
      if (mode === 'fail') return send(res, 503, { error: 'down' });
      // Slow enough that a second probe would arrive while the first is still out.
      setTimeout(() => send(res, 200, { ok: true }), 200);
    });
    const spawn = (): Instance =>
      new Instance(
        fork(CHILD, [], {
          execArgv: ['--import', 'tsx', '--conditions=@unfazed/source'],
          env: {
            ...process.env,
            ORIGIN: origin.url,
            REDIS_URL: redisServer.url,
            OPEN_MS: String(OPEN_MS),
            PREFIX,
          },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
    a = spawn();
    b = spawn();
    await Promise.all([a.ready(), b.ready()]);
    await until(async () => {
      const [, count] = (await admin.pubsub('NUMSUB', `${PREFIX}circuit`)) as [string, number];
      return Number(count) === 2;
    }, 10_000);
  }, 30_000);

  afterAll(async () => {
    for (const i of [a, b]) {
      if (i && i.child.connected) await i.call('close').catch(() => undefined);
      i?.child.kill('SIGKILL');
    }
    await origin?.close();
    await redisServer?.close();
  });

  it("A's circuit opens: B fails fast at once, without a socket to the origin", async () => {
    mode = 'fail';
    const results = await a.call('request', 4, true);
    expect(results).toEqual(Array(4).fill('UNFAZED_ERR_RETRIES_EXHAUSTED'));
    const opened = await a.event((m) => m.type === 'circuit' && m.to === 'open');
    const followed = await b.event((m) => m.type === 'shared' && m.action === 'opened');
    const lagMs = (followed.at ?? 0) - (opened.at ?? 0);
    console.log(`B opened ${lagMs} ms after A (loopback, two processes)`);
    expect(lagMs).toBeLessThan(500);

    const connections = origin.connections();
    const requests = origin.requests.length;
    expect(await b.call('request', 5)).toEqual(Array(5).fill('UNFAZED_ERR_CIRCUIT_OPEN'));
    expect(origin.connections()).toBe(connections);
    expect(origin.requests.length).toBe(requests);
    expect(await admin.get(`${PREFIX}{circuit:${origin.url}}:open`)).not.toBeNull();
  });

  it('when the origin is back, one probe reaches it for the fleet; the verdict closes both', async () => {
    mode = 'ok';
    const before = origin.requests.length;
    await sleep(OPEN_MS + 50);
    // Both instances call at once, three calls each, when the break is over.
    const calls = Promise.all([a.call('request', 3), b.call('request', 3)]);
    await sleep(150); // the probe is still out (the origin answers in 200 ms)
    expect(origin.requests.length - before).toBe(1);
    const [fromA, fromB] = await calls;
    const all = [...fromA, ...fromB];
    expect(all.filter((r) => r === '200')).toHaveLength(1);
    expect(all.filter((r) => r !== '200')).toEqual(Array(5).fill('UNFAZED_ERR_CIRCUIT_OPEN'));
    const owners = [...a.messages, ...b.messages].filter(
      (m) => m.type === 'shared' && m.action === 'probe-owner',
    );
    expect(owners).toHaveLength(1);
    await until(async () => {
      const states = [...(await a.call('status')), ...(await b.call('status'))];
      return states.every((s) => s === 'closed');
    });
    expect(await a.call('request', 2)).toEqual(['200', '200']);
    expect(await b.call('request', 2)).toEqual(['200', '200']);
  });

  it('with Redis stopped, both fall back to local breakers; no Redis error reaches a caller', async () => {
    await redisServer.stop();
    mode = 'fail';
    const allowed = new Set(['UNFAZED_ERR_RETRIES_EXHAUSTED', 'UNFAZED_ERR_CIRCUIT_OPEN', '200']);
    const fromA = await a.call('request', 4, true);
    await a.event(
      (m) => m.type === 'circuit' && m.to === 'open' && (m.at ?? 0) > Date.now() - 2000,
    );
    // B hears nothing from A now: it still sends, and opens on its own failures.
    expect(await b.call('status')).toEqual(['closed']);
    const fromB = await b.call('request', 4, true);
    expect(await b.call('status')).toEqual(['open']);
    const refused = [...(await a.call('request', 2)), ...(await b.call('request', 2))];
    expect(refused).toEqual(Array(4).fill('UNFAZED_ERR_CIRCUIT_OPEN'));
    // Each probes locally (no lease without Redis) and closes on its own.
    mode = 'ok';
    await sleep(OPEN_MS + 50);
    const back = [...(await a.call('request', 1)), ...(await b.call('request', 1))];
    expect(back).toEqual(['200', '200']);
    for (const r of [...fromA, ...fromB, ...refused, ...back]) expect(allowed.has(r)).toBe(true);
    expect([...a.errors(), ...b.errors()]).toEqual([]);
    await redisServer.start();
  });
});
