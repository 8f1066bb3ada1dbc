import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@unfazed/client';
import {
  createDurable,
  isDurabilityNotConfirmedError,
  isDurableStoreUnavailableError,
  redisDurableStore,
} from '@unfazed/client/durable';
import { redisTestContext, startRedisServer, type RedisTestContext } from '@unfazed/testing';
import { rejection, describeDurableBehaviour } from './durable-suite.js';
import { startDownstream, until } from './durable-downstream.js';

let ctx: RedisTestContext;
let n = 0;
beforeAll(async () => {
  ctx = await redisTestContext('durable-redis');
});
afterAll(async () => {
  await ctx.close();
});

describeDurableBehaviour('redis store', async () =>
  redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
    prefix: `${ctx.prefix}${++n}:`,
    partitions: 4,
  }),
);

describe('redis store specifics', () => {
  it("takes every lease, due and deadline time from Redis's clock: a caller an hour off changes nothing", async () => {
    const store = redisDurableStore(ctx.connect(), {
      prefix: `${ctx.prefix}clock:`,
      partitions: 2,
    });
    const admin = ctx.connect();
    const redisNow = async (): Promise<number> => {
      const [s, us] = (await admin.time()) as [number | string, number | string];
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    };
    // The caller's clock is an hour behind: its `now` and every time it derives.
    const skewed = (): number => Date.now() - 3_600_000;
    const claimAll = async (owner: string): Promise<Awaited<ReturnType<typeof store.claim>>> => {
      const out: Awaited<ReturnType<typeof store.claim>> = [];
      for (let p = 0; p < store.partitions; p++)
        out.push(...(await store.claim(p, skewed(), 10, owner, 60_000)));
      return out;
    };
    const before = await redisNow();
    const now = skewed();
    const { record } = await store.create({
      id: store.newId('clock'),
      type: 'clock',
      input: '{}',
      now,
      deadline: now + 60_000,
      dueAt: now,
      owner: 'A',
      leaseUntil: now + 300,
    });
    expect(record.createdAt).toBeGreaterThanOrEqual(before);
    expect(record.createdAt).toBeLessThanOrEqual(await redisNow());
    expect(record).toMatchObject({
      leaseUntil: record.createdAt + 300,
      deadline: record.createdAt + 60_000,
      dueAt: record.createdAt,
    });
    expect(await store.get(record.id)).toMatchObject({
      createdAt: record.createdAt,
      leaseUntil: record.createdAt + 300,
    });
    // Not expired by Redis's clock, whatever the caller's says.
    expect(await claimAll('B')).toHaveLength(0);
    // Renewed for 300 ms from Redis's now; then it expires, and a claim with the skewed clock
    // still sees it (by Redis's clock) and takes it over with a lease from Redis's now.
    const renewedAt = await redisNow();
    expect(await store.renew(record.id, 'A', 300)).toBe(true);
    expect((await store.get(record.id))?.leaseUntil).toBeGreaterThanOrEqual(renewedAt + 300);
    await until('the lease expired by Redis', async () => (await redisNow()) > renewedAt + 400);
    const [taken] = await claimAll('B');
    expect(taken?.takeover).toBe(true);
    const token = taken?.record.owner ?? '';
    const claimedAt = taken?.record.updatedAt ?? 0;
    expect(claimedAt).toBeGreaterThan(renewedAt + 300);
    expect(taken?.record.leaseUntil).toBe(claimedAt + 60_000);
    const [takeover] = await store.history(record.id);
    expect(takeover).toMatchObject({ kind: 'lease-expired', at: claimedAt, worker: 'B' });
    // A retry due in 5 s by the caller's clock is due 5 s from Redis's now.
    const t = skewed();
    expect(
      await store.settle(
        record.id,
        token,
        t,
        { action: 'retry', dueAt: t + 5_000, attempts: 1 },
        [],
      ),
    ).toBe(true);
    const pending = await store.get(record.id);
    expect(pending?.dueAt).toBe((pending?.updatedAt ?? 0) + 5_000);
    expect(pending?.updatedAt).toBeGreaterThanOrEqual(claimedAt);
    expect(await store.gauges(skewed())).toEqual({ due: {}, inFlight: {} });
    // A redrive at 1 s by the caller's clock, with a fresh deadline, is on Redis's clock too.
    // One caller time: `dueAt - now` is what reaches Redis, and two readings of the caller's
    // clock a millisecond apart would make it due 1 ms after Redis's now (not claimable yet).
    const c = skewed();
    const failed = await store.create({
      id: store.newId('clock'),
      type: 'clock',
      input: '{}',
      now: c,
      deadline: c + 60_000,
      dueAt: c,
    });
    const [claimed] = await claimAll('C');
    expect(claimed?.record.id).toBe(failed.record.id);
    const f = skewed();
    expect(
      await store.settle(
        failed.record.id,
        claimed?.record.owner ?? '',
        f,
        { action: 'finish', state: 'failed', attempts: 1 },
        [],
      ),
    ).toBe(true);
    const r = skewed();
    const entry = { at: r, kind: 'redriven' } as const;
    expect(await store.redrive(failed.record.id, r, r + 1_000, r + 60_000, entry)).toBe(true);
    const redriven = await store.get(failed.record.id);
    expect(redriven?.updatedAt).toBeGreaterThanOrEqual(claimed?.record.updatedAt ?? Infinity);
    expect(redriven).toMatchObject({
      state: 'pending',
      dueAt: (redriven?.updatedAt ?? 0) + 1_000,
      deadline: (redriven?.updatedAt ?? 0) + 60_000,
    });
  });

  it('keeps every key of one operation under one hash tag, and the layout the README documents', async () => {
    const prefix = `${ctx.prefix}layout:`;
    const store = redisDurableStore(ctx.connect(), { prefix, partitions: 4 });
    const downstream = await startDownstream(() => ({ status: 404 }));
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({ client, store });
    const op = durable.operation('layout', { request: () => ({ method: 'POST', path: '/x' }) });
    const outcome = await op.start({}, { key: 'abc', wait: 1_000 });
    expect(outcome.status).toBe('failed');
    const keys = (await ctx.keys()).filter((k) => k.startsWith(prefix));
    const tag = /\{([^}]+)\}/.exec(keys.find((k) => k.includes(':op:')) ?? '')?.[1];
    expect(tag).toBeDefined();
    const mine = keys
      .filter((k) => k.includes(`{${tag}}`))
      .map((k) => k.slice(prefix.length).replace(`{${tag}}`, '{p}'));
    expect(mine.sort()).toEqual(
      [
        `{p}:counts`,
        `{p}:dlq`,
        `{p}:hist:${outcome.id}`,
        `{p}:key:layout:abc`,
        `{p}:op:${outcome.id}`,
      ].sort(),
    );
    expect(outcome.id).toMatch(/^[0-9a-f-]{36}\.[0-3]$/);
    await client.close();
    await downstream.close();
  });

  it('Redis unavailable during start: a clear error, never an unpersisted accepted', async () => {
    const own = await startRedisServer();
    // As recommended for workers: commands wait for a reconnect; storeTimeout bounds start.
    const redis = own.connect({ maxRetriesPerRequest: null });
    const downstream = await startDownstream(() => ({ status: 200 }));
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({
      client,
      store: redisDurableStore(redis, { partitions: 2 }),
      storeTimeout: 500,
    });
    const op = durable.operation('outage', { request: () => ({ method: 'POST', path: '/o' }) });
    try {
      // A worker that lives through the outage, as a worker would through a Redis restart.
      const survivor = durable.startWorker({ pollInterval: 10 });
      try {
        const first = await op.start({ i: 1 }, { wait: 0 });
        expect(first.status).toBe('accepted');
        await until(
          'first completed',
          async () => (await durable.status(first.id))?.state === 'completed',
        );
        await own.stop();
        const t0 = Date.now();
        const error = await op.start({ i: 2 }, { wait: 0 }).then(
          (o) => o,
          (e: unknown) => e,
        );
        expect(isDurableStoreUnavailableError(error)).toBe(true);
        expect(String((error as Error).message)).toMatch(
          /durable store \(redis\) did not answer .* within 500 ms/,
        );
        expect(Date.now() - t0).toBeLessThan(3_000);
        expect(downstream.requests).toHaveLength(1);
        // A worker whose poll is stuck on the unreachable Redis still stops, bounded by its timeout.
        const stuck = durable.startWorker({ pollInterval: 10 });
        await new Promise((r) => setTimeout(r, 50));
        const s0 = Date.now();
        await stuck.stop({ timeout: 300 });
        expect(Date.now() - s0).toBeLessThan(2_000);
        // Redis comes back (empty: it has no persistence); starts work again and the surviving
        // worker picks the new operation up without being restarted.
        await own.start();
        let third: string | undefined;
        await until(
          'start works again',
          async () => {
            try {
              third = (await op.start({ i: 3 }, { wait: 0 })).id;
              return true;
            } catch {
              return false;
            }
          },
          10_000,
        );
        await until(
          'the surviving worker completes it',
          async () => third !== undefined && (await durable.status(third))?.state === 'completed',
          10_000,
        );
        expect(downstream.requests.map((q) => q.key)).toContain(third);
      } finally {
        await survivor.stop({ timeout: 1_000 });
      }
    } finally {
      redis.disconnect();
      await client.close();
      await downstream.close();
      await own.close();
    }
  });

  it('waitAof on a server without WAITAOF fails the start instead of weakening the promise', async () => {
    const redis = ctx.connect();
    const version = /redis_version:(\d+)\.(\d+)/.exec(await redis.info('server'));
    const major = Number(version?.[1] ?? 0);
    const minor = Number(version?.[2] ?? 0);
    const downstream = await startDownstream(() => ({ status: 200 }));
    const client = createClient({ baseUrl: downstream.url, breaker: false });
    const durable = createDurable({
      client,
      store: redisDurableStore(redis, {
        prefix: `${ctx.prefix}aof:`,
        partitions: 2,
        waitAof: { numLocal: 1, timeout: 200 },
      }),
    });
    const op = durable.operation('aof', { request: () => ({ method: 'POST', path: '/a' }) });
    try {
      const aofOn = ((await redis.config('GET', 'appendonly')) as string[])[1] === 'yes';
      if (major > 7 || (major === 7 && minor >= 2)) {
        const outcome = op.start({}, { wait: 0 });
        if (aofOn) expect((await outcome).status).toBe('accepted');
        else expect(await rejection(outcome, isDurabilityNotConfirmedError)).toBe(true);
      } else {
        const error = await op.start({}, { wait: 0 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isDurabilityNotConfirmedError(error)).toBe(true);
        expect(String((error as Error).message)).toMatch(/WAITAOF/);
      }
    } finally {
      await client.close();
      await downstream.close();
    }
  });
});

describe('the batch script (standalone Redis)', () => {
  type Script = (...args: (string | number)[]) => Promise<unknown>;

  it('runs the scripts asked for in one turn as one call, each with its own reply or error; a refused call leaves the others applied', async () => {
    const prefix = `${ctx.prefix}batch:`;
    const conn = ctx.connect();
    const admin = ctx.connect();
    const store = redisDurableStore(conn, { prefix, partitions: 2 });
    try {
      const now = Date.now();
      const newOp = (n: number) => ({
        id: store.newId('batch'),
        type: 'batch',
        input: `{"n":${n}}`,
        now,
        deadline: now + 60_000,
        dueAt: now,
      });
      // Ten creates in one turn: one batch, ten replies.
      const created = await Promise.all(
        Array.from({ length: 10 }, (_, n) => store.create(newOp(n))),
      );
      expect(created.map((c) => c.created)).toEqual(Array(10).fill(true));
      const claimAny = store.claimAny?.bind(store);
      if (!claimAny) throw new Error('a standalone store claims across partitions');
      const claimed = await claimAny(0, now, 10, 'W', 60_000);
      const record = (i: number) => {
        const r = claimed[i]?.record;
        if (!r) throw new Error(`claim ${i} missing`);
        return r;
      };
      expect(claimed).toHaveLength(10);
      // Settles in one turn: the owner check is per call (a stale token is refused alone).
      const settled = await Promise.all(
        claimed.map(({ record }, i) =>
          store.settle(
            record.id,
            i === 3 ? 'W#stale' : (record.owner ?? ''),
            Date.now(),
            { action: 'finish', state: 'completed', attempts: 1 },
            [{ at: Date.now(), kind: 'attempt', attempt: 1 }],
          ),
        ),
      );
      expect(settled).toEqual(settled.map((_, i) => i !== 3));
      expect((await store.get(record(3).id))?.state).toBe('running');
      expect((await store.get(record(4).id))?.state).toBe('completed');

      // Called directly: a refused call is its own error reply, the next call still runs.
      const scripts = conn as unknown as Record<string, Script>;
      const batch = (...args: (string | number)[]): Promise<unknown> =>
        scripts['unfazedDurableBatch']?.(...args) ?? Promise.reject(new Error('no batch script'));
      const victim = record(3);
      const vOp = (await admin.keys(`${prefix}*:op:${victim.id}`))[0] ?? '';
      const base = vOp.slice(0, -`op:${victim.id}`.length);
      const victimKeys = ['op:', 'hist:'].map((k) => `${base}${k}${victim.id}`);
      victimKeys.push(`${base}schedule`, `${base}counts`, `${base}dlq`);
      const fresh = newOp(99);
      // The fresh id in the victim's partition, so that its keys are known here.
      const freshId = `${fresh.id.slice(0, fresh.id.lastIndexOf('.'))}.${victim.id.slice(victim.id.lastIndexOf('.') + 1)}`;
      const replies = (await batch(
        10,
        ...victimKeys,
        `${base}key:-`,
        `${base}op:${freshId}`,
        `${base}hist:${freshId}`,
        `${base}schedule`,
        `${base}counts`,
        ...['unfazedDurableSettle', 5, 13, victim.id, victim.owner ?? '', 'retry', 'NaN'],
        ...['', '', '', '1', '', '', '86400000', '', ''],
        ...['unfazedDurableCreate', 5, 9, freshId, 'batch', '', '{}', '60000', '0', '', ''],
        `${base}op:`,
      )) as unknown[];
      expect(replies).toHaveLength(2);
      expect(replies[0]).toBeInstanceOf(Error);
      expect((replies[0] as Error).message).toMatch(/ARGV\[4\].*must be a finite number/);
      expect(replies[1]).toEqual([1, expect.stringMatching(/^\d+$/)]);
      expect((await store.get(victim.id))?.state).toBe('running');
      expect((await store.get(freshId))?.state).toBe('pending');
      // A malformed batch is refused whole, before any call runs.
      await expect(batch(0, 'unfazedDurableCreate', 5, 9)).rejects.toThrow(/malformed batch/);
    } finally {
      await Promise.allSettled([conn.quit(), admin.quit()]);
    }
  });
});

describe('the Lua scripts check every argument before they write', () => {
  type Script = (...args: (string | number)[]) => Promise<unknown>;

  it('a bad argument to any script is an error reply, and the operation, its schedule, counts and history are unchanged', async () => {
    const prefix = `${ctx.prefix}args:`;
    const conn = ctx.connect();
    const store = redisDurableStore(conn, { prefix, partitions: 1 });
    const call = (name: string, ...args: (string | number)[]): Promise<unknown> =>
      (conn as unknown as Record<string, Script>)[name]?.(...args) ??
      Promise.reject(new Error(`no script ${name}`));
    const now = Date.now();
    const made = async (): Promise<string> =>
      (
        await store.create({
          id: store.newId('args'),
          type: 'args',
          input: '{"n":1}',
          now,
          deadline: now + 60_000,
          dueAt: now,
        })
      ).record.id;
    const id = await made();
    const [claimed] = await store.claim(0, now, 1, 'W', 60_000);
    const token = claimed?.record.owner ?? '';
    expect(claimed?.record.id).toBe(id);
    const waiting = await made(); // pending and due: what a bad claim must leave alone
    const opKey = (await conn.keys(`${prefix}*:op:${id}`))[0] ?? '';
    const base = opKey.slice(0, -`op:${id}`.length);
    const keys = (op: string): string[] => [
      `${base}op:${op}`,
      `${base}hist:${op}`,
      `${base}schedule`,
      `${base}counts`,
      `${base}dlq`,
    ];
    const snapshot = async (): Promise<unknown> => ({
      ops: await Promise.all([id, waiting].map((op) => conn.hgetall(`${base}op:${op}`))),
      history: await Promise.all(
        [id, waiting].map((op) => conn.lrange(`${base}hist:${op}`, 0, -1)),
      ),
      schedule: await conn.zrange(`${base}schedule`, 0, -1, 'WITHSCORES'),
      dlq: await conn.zrange(`${base}dlq`, 0, -1, 'WITHSCORES'),
      counts: await conn.hgetall(`${base}counts`),
      keys: (await conn.keys(`${prefix}*`)).sort(),
    });
    const refused = async (what: string, run: () => Promise<unknown>, rule: RegExp) => {
      const before = await snapshot();
      const error = await run().then(
        () => new Error(`${what}: no error`),
        (e: unknown) => e as Error,
      );
      expect([what, error.message]).toEqual([what, expect.stringMatching(rule)]);
      expect([what, await snapshot()]).toEqual([what, before]);
    };
    // settle: KEYS, id, owner, action, dueIn, phase, leaseMs, state, attempts, lastError, response,
    // retention, saga journal, stuck flag, entries...
    const settle = (
      over: Record<number, string>,
      entries: string[] = ['{"at":1,"kind":"attempt"}'],
    ) => {
      const args = [
        id,
        token,
        'retry',
        '100',
        '',
        '',
        '',
        '1',
        '{"code":"x","message":"m"}',
        '',
        '86400000',
        '',
        '',
      ];
      for (const [i, v] of Object.entries(over)) args[Number(i) - 1] = v;
      return call('unfazedDurableSettle', ...keys(id), ...args, ...entries);
    };
    const number = /must be a finite number/;
    await refused('settle due NaN', () => settle({ 4: 'NaN' }), number);
    await refused('settle due tomorrow', () => settle({ 4: 'tomorrow' }), number);
    await refused('settle due Infinity', () => settle({ 4: 'Infinity' }), number);
    await refused('settle due missing', () => settle({ 4: '' }), number);
    await refused('settle action', () => settle({ 3: 'explode' }), /action\) must be one of/);
    await refused(
      'settle hook phase',
      () => settle({ 3: 'hook', 5: 'later', 6: '100' }),
      /phase\) must be one of/,
    );
    await refused(
      'settle hook lease',
      () => settle({ 3: 'hook', 5: 'success-hook', 6: 'x' }),
      number,
    );
    await refused(
      'settle finish state',
      () => settle({ 3: 'finish', 7: 'done' }),
      /terminal state/,
    );
    await refused('settle attempts', () => settle({ 8: '1.5' }), /integer >= 0/);
    await refused('settle lastError', () => settle({ 9: 'not json' }), /JSON object/);
    await refused('settle response', () => settle({ 10: '{"status":' }), /JSON object/);
    await refused('settle retention', () => settle({ 11: 'a day' }), number);
    await refused(
      'settle entry',
      () => settle({}, ['{"at":1}', 'oops']),
      /ARGV\[15\].*JSON object/,
    );
    await refused('settle saga journal', () => settle({ 12: '[oops' }), /JSON object/);
    await refused('settle stuck flag', () => settle({ 13: 'yes' }), /stuck flag\) must be one of/);
    await refused(
      'settle arity',
      () => call('unfazedDurableSettle', ...keys(id), id, token),
      /expected at least 13 arguments/,
    );
    await refused(
      'renew lease NaN',
      () => call('unfazedDurableRenew', `${base}op:${id}`, `${base}schedule`, id, token, 'NaN'),
      number,
    );
    await refused(
      'renew lease 0',
      () => call('unfazedDurableRenew', `${base}op:${id}`, `${base}schedule`, id, token, '0'),
      /> 0/,
    );
    const claimArgs = (limit: string, lease: string) => [
      `${base}schedule`,
      `${base}counts`,
      limit,
      'W2#1',
      lease,
      `${base}op:`,
      `${base}hist:`,
      'W2',
    ];
    await refused(
      'claim limit',
      () => call('unfazedDurableClaim', ...claimArgs('many', '1000')),
      number,
    );
    await refused(
      'claim lease',
      () => call('unfazedDurableClaim', ...claimArgs('1', 'NaN')),
      number,
    );
    const tag = base.slice(base.indexOf('{') + 1, base.indexOf('}'));
    await refused(
      'claim-any lease',
      () => call('unfazedDurableClaimAny', '1', 'W2#2', 'inf', 'W2', prefix, tag),
      number,
    );
    await refused(
      'claim-any tags',
      () => call('unfazedDurableClaimAny', '1', 'W2#2', '1000', 'W2', prefix),
      /expected 6 arguments/,
    );
    await refused(
      'claim-any empty tags',
      () => call('unfazedDurableClaimAny', '1', 'W2#2', '1000', 'W2', prefix, ''),
      /partition tags/,
    );
    const fresh = store.newId('args');
    const create = (deadline: string, dueIn: string) =>
      call(
        'unfazedDurableCreate',
        `${base}key:-`,
        ...keys(fresh).slice(0, 4),
        fresh,
        'args',
        '',
        '{}',
        deadline,
        dueIn,
        '',
        '',
        `${base}op:`,
      );
    await refused('create deadline NaN', () => create('NaN', '0'), number);
    await refused('create due tomorrow', () => create('60000', 'tomorrow'), number);
    await refused(
      'gauges limit',
      () => call('unfazedDurableGauges', `${base}schedule`, `${base}op:`, 'all'),
      number,
    );
    await refused(
      'discard id',
      () => call('unfazedDurableDiscard', ...keys(id), ''),
      /non-empty string/,
    );
    // Still the store's to settle: fail it, then the redrive arguments.
    expect(
      await store.settle(
        id,
        token,
        Date.now(),
        { action: 'finish', state: 'failed', attempts: 1 },
        [],
      ),
    ).toBe(true);
    const redrive = (dueIn: string, deadline: string, entry = '{"at":1,"kind":"redriven"}') =>
      call('unfazedDurableRedrive', ...keys(id), id, dueIn, deadline, entry);
    await refused('redrive due NaN', () => redrive('NaN', '60000'), number);
    await refused('redrive due tomorrow', () => redrive('tomorrow', '60000'), number);
    await refused('redrive due Infinity', () => redrive('Infinity', '60000'), number);
    await refused('redrive deadline', () => redrive('0', '-inf'), number);
    await refused('redrive entry', () => redrive('0', '60000', 'x'), /JSON object/);
    // Nothing was corrupted: it reads back, and redrives.
    expect(await store.get(id)).toMatchObject({ state: 'failed', attempts: 1 });
    expect(
      await store.redrive(id, Date.now(), Date.now(), Date.now() + 60_000, {
        at: 1,
        kind: 'redriven',
      }),
    ).toBe(true);
    expect(await store.get(id)).toMatchObject({ state: 'pending' });
  });
});
