import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redisDurableStore, memoryDurableStore, type DurableStore } from '@unfazed/client/durable';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import {
  memoryAuditLog,
  readOnly,
  redisAuditLog,
  startOpsServer,
  type OpsAuditLog,
  type OpsClock,
  type OpsServer,
} from '@unfazed/ops';
import { call, setup, startDownstream, type Setup } from './support.js';

let ctx: RedisTestContext;
let downstream: Awaited<ReturnType<typeof startDownstream>>;
let n = 0;
beforeAll(async () => {
  ctx = await redisTestContext('ops-api');
  downstream = await startDownstream();
});
afterAll(async () => {
  await downstream.close();
  await ctx.close();
});

const who = (req: unknown): string =>
  String((req as { headers: Record<string, string> }).headers['x-user'] ?? 'nobody');

const stores: [string, () => { store: DurableStore; audit: OpsAuditLog }][] = [
  [
    'redis',
    () => {
      const prefix = `${ctx.prefix}${++n}:`;
      return {
        store: redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
          prefix,
          partitions: 4,
        }),
        audit: redisAuditLog(ctx.connect(), { prefix }),
      };
    },
  ],
  ['memory', () => ({ store: memoryDurableStore(), audit: memoryAuditLog() })],
];

describe.each(stores)('the console API on the %s store', (_name, make) => {
  let s: Setup;
  let server: OpsServer;
  let base: string;
  const failedIds: string[] = [];
  const circuit = { open: false };

  beforeAll(async () => {
    const { store, audit } = make();
    s = setup(store, downstream.url);
    server = await startOpsServer({
      durable: s.durable,
      audit,
      redact: ['card.number', 'customer.email'],
      authorize: (req, action) => {
        const user = who(req);
        if (user === 'nobody') return { allow: false, status: 401, message: 'log in first' };
        if (user === 'viewer' && action !== 'read') return { allow: false };
        return { allow: true, who: user };
      },
      client: {
        circuit: () =>
          circuit.open ? { state: 'open', nextProbeAt: Date.now() + 50 } : { state: 'closed' },
      },
    });
    base = server.url;
    for (let i = 0; i < 5; i++) {
      const out = await s.charge.start({
        order: `o-${i}`,
        card: { number: `4111-0000-0000-000${i}`, brand: 'visa' },
        customer: { email: `c${i}@example.com` },
        note: i === 2 ? '<script>alert(1)</script>' : 'plain',
      });
      expect(out.status).toBe('failed');
      failedIds.push(out.id);
    }
  });
  afterAll(async () => {
    await server.close();
    await s.durable.store.close();
  });

  const as = (user: string) => ({ 'x-user': user });

  it('GET /api/queues: counts by state, gauges, oldest pending age, paused flag', async () => {
    const r = await call(base, 'GET', '/ops/api/queues', undefined, as('ann'));
    expect(r.status).toBe(200);
    expect(r.json.queues).toEqual([
      expect.objectContaining({
        type: 'charge',
        due: 0,
        inFlight: 0,
        paused: false,
        oldestPendingAgeMs: null,
      }),
    ]);
    expect(r.json.queues[0].counts.failed).toBe(5);
  });

  it('GET /api/operations: filters, text in the input and in the last error, cursor paging', async () => {
    const all = await call(base, 'GET', '/ops/api/operations?limit=2', undefined, as('ann'));
    expect(all.status).toBe(200);
    expect(all.json.items).toHaveLength(2);
    const next = await call(
      base,
      'GET',
      `/ops/api/operations?limit=2&cursor=${all.json.cursor}`,
      undefined,
      as('ann'),
    );
    const last = await call(
      base,
      'GET',
      `/ops/api/operations?limit=2&cursor=${next.json.cursor}`,
      undefined,
      as('ann'),
    );
    const seen = [...all.json.items, ...next.json.items, ...last.json.items].map(
      (i: { id: string }) => i.id,
    );
    expect(new Set(seen)).toEqual(new Set(failedIds));
    expect(last.json.cursor).toBeUndefined();
    const byText = await call(base, 'GET', '/ops/api/operations?text=o-3', undefined, as('ann'));
    expect(byText.json.items.map((i: { id: string }) => i.id)).toEqual([failedIds[3]]);
    const byError = await call(base, 'GET', '/ops/api/operations?text=404', undefined, as('ann'));
    expect(byError.json.items).toHaveLength(5);
    for (const q of [
      'type=charge',
      'state=failed',
      'errorCode=status%20404',
      'status=404',
      'since=0',
      `until=${Date.now() + 1000}`,
    ]) {
      const r = await call(base, 'GET', `/ops/api/operations?${q}`, undefined, as('ann'));
      expect([q, r.json.items.length]).toEqual([q, 5]);
    }
    for (const q of [
      'type=other',
      'state=dead',
      'errorCode=deadline',
      'status=500',
      `since=${Date.now() + 60_000}`,
      'until=1',
      'text=nothing-like-this',
    ]) {
      const r = await call(base, 'GET', `/ops/api/operations?${q}`, undefined, as('ann'));
      expect([q, r.json.items.length]).toEqual([q, 0]);
    }
  });

  it('GET /api/operations: a bad parameter is a 400 naming it', async () => {
    const r = await call(base, 'GET', '/ops/api/operations?limit=5000', undefined, as('ann'));
    expect(r.status).toBe(400);
    expect(r.type).toContain('application/problem+json');
    expect(r.json.detail).toContain('query.limit');
    const bad = await call(base, 'GET', '/ops/api/operations?state=lost', undefined, as('ann'));
    expect(bad.json.detail).toContain('query.state');
  });

  it('redacts the paths in every response, and a text search never matches inside a redacted value', async () => {
    const list = await call(base, 'GET', '/ops/api/operations', undefined, as('ann'));
    expect(list.text).not.toContain('4111');
    expect(list.text).not.toContain('example.com');
    expect(list.json.items[0].input.card).toEqual({ number: '[redacted]', brand: 'visa' });
    const one = await call(
      base,
      'GET',
      `/ops/api/operations/${failedIds[0]}`,
      undefined,
      as('ann'),
    );
    expect(one.text).not.toContain('4111');
    const probe = await call(
      base,
      'GET',
      '/ops/api/operations?text=4111-0000-0000-0001',
      undefined,
      as('ann'),
    );
    expect(probe.json.items).toEqual([]);
  });

  it('returns an input containing <script> as JSON text, never markup', async () => {
    const r = await call(base, 'GET', `/ops/api/operations/${failedIds[2]}`, undefined, as('ann'));
    expect(r.type).toBe('application/json; charset=utf-8');
    expect(r.text).not.toContain('<script>');
    expect(r.json.input.note).toBe('<script>alert(1)</script>');
  });

  it('GET /api/operations/:id: history with time, status, error, duration, worker; what happens next', async () => {
    const r = await call(base, 'GET', `/ops/api/operations/${failedIds[1]}`, undefined, as('ann'));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      id: failedIds[1],
      type: 'charge',
      state: 'failed',
      attempts: 1,
      lastError: { code: 'status 404', status: 404 },
    });
    expect(r.json.history[0]).toMatchObject({
      kind: 'attempt',
      attempt: 1,
      status: 404,
      error: 'status 404',
    });
    expect(typeof r.json.history[0].at).toBe('number');
    expect(typeof r.json.history[0].durationMs).toBe('number');
    expect(typeof r.json.history[0].worker).toBe('string');
    expect(r.json.next.kind).toBe('operator');
    const missing = await call(base, 'GET', '/ops/api/operations/nope.1', undefined, as('ann'));
    expect(missing.status).toBe(404);
  });

  it('refuses the unauthenticated (401), the unauthorised (403) and cross-site requests (403)', async () => {
    expect((await call(base, 'GET', '/ops/api/queues')).status).toBe(401);
    const viewer = await call(
      base,
      'POST',
      `/ops/api/operations/${failedIds[0]}/discard`,
      { reason: 'x' },
      as('viewer'),
    );
    expect(viewer.status).toBe(403);
    const noHeader = await call(
      base,
      'POST',
      `/ops/api/operations/${failedIds[0]}/discard`,
      { reason: 'x' },
      { ...as('ann'), 'x-unfazed-ops': '' },
    );
    expect(noHeader.status).toBe(403);
    expect(noHeader.json.code).toBe('cross-site-refused');
    const foreign = await call(
      base,
      'POST',
      `/ops/api/operations/${failedIds[0]}/discard`,
      { reason: 'x' },
      { ...as('ann'), origin: 'https://evil.example' },
    );
    expect(foreign.json).toMatchObject({ status: 403, code: 'cross-site-refused' });
    const fetchSite = await call(
      base,
      'POST',
      `/ops/api/operations/${failedIds[0]}/discard`,
      { reason: 'x' },
      { ...as('ann'), 'sec-fetch-site': 'cross-site' },
    );
    expect(fetchSite.status).toBe(403);
    const same = new URL(base);
    const own = await call(
      base,
      'POST',
      `/ops/api/operations/nope.1/discard`,
      { reason: 'x' },
      { ...as('ann'), origin: same.origin },
    );
    expect(own.status).toBe(404);
    expect(
      (await call(base, 'GET', `/ops/api/operations/${failedIds[0]}`, undefined, as('ann'))).json
        .state,
    ).toBe('failed');
  });

  it('requires a reason for every action', async () => {
    for (const [path, body] of [
      [`/ops/api/operations/${failedIds[0]}/redrive`, {}],
      [`/ops/api/operations/${failedIds[0]}/discard`, { reason: '   ' }],
      ['/ops/api/bulk-redrives', { dryRun: true }],
      ['/ops/api/types/charge/pause', { reason: '' }],
    ] as const) {
      const r = await call(base, 'POST', path, body, as('ann'));
      expect([path, r.status, r.json.code]).toEqual([path, 400, 'reason-required']);
      expect(r.json.detail).toContain('reason');
    }
  });

  it('POST redrive with an edited input: validated like start (422), then run with it; audit redacted', async () => {
    const id = failedIds[4] as string;
    const bad = await call(
      base,
      'POST',
      `/ops/api/operations/${id}/redrive`,
      { reason: 'fix', input: { big: 'x'.repeat(20_000) } },
      as('ann'),
    );
    expect(bad.status).toBe(422);
    expect(bad.json.detail).toContain('maxInputBytes');
    const edited = {
      order: 'o-4',
      card: { number: '5500-0000-0000-0004' },
      customer: { email: 'fixed@example.com' },
    };
    const ok = await call(
      base,
      'POST',
      `/ops/api/operations/${id}/redrive`,
      { reason: 'typo in the email', input: edited },
      as('ann'),
    );
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ redriven: true, inputEdited: true });
    const rec = await s.durable.deadLetters.get(id);
    expect(JSON.parse(rec?.record.input ?? '')).toEqual(edited);
    expect(rec?.record.state).toBe('pending');
    const again = await call(
      base,
      'POST',
      `/ops/api/operations/${id}/redrive`,
      { reason: 'twice' },
      as('ann'),
    );
    expect(again.status).toBe(409);
    const audit = await call(base, 'GET', '/ops/api/audit?limit=1', undefined, as('ann'));
    expect(audit.json.items[0]).toMatchObject({
      who: 'ann',
      action: 'redrive',
      operationId: id,
      count: 1,
      reason: 'typo in the email',
    });
    expect(audit.json.items[0].input.card.number).toBe('[redacted]');
    expect(audit.json.items[0].input.customer.email).toBe('[redacted]');
    expect(audit.text).not.toContain('5500');
  });

  it('POST discard: deletes a failed operation (audited); 409 for one that cannot be', async () => {
    const id = failedIds[3] as string;
    const r = await call(
      base,
      'POST',
      `/ops/api/operations/${id}/discard`,
      { reason: 'duplicate order' },
      as('bob'),
    );
    expect(r.status).toBe(200);
    expect(
      (await call(base, 'GET', `/ops/api/operations/${id}`, undefined, as('ann'))).status,
    ).toBe(404);
    const pending = await call(
      base,
      'POST',
      `/ops/api/operations/${failedIds[4]}/discard`,
      { reason: 'no' },
      as('bob'),
    );
    expect(pending.status).toBe(409);
    const audit = await call(base, 'GET', '/ops/api/audit?limit=1', undefined, as('ann'));
    expect(audit.json.items[0]).toMatchObject({
      who: 'bob',
      action: 'discard',
      operationId: id,
      reason: 'duplicate order',
    });
  });

  it('POST /api/bulk-redrives dryRun: the count and a sample, nothing changed', async () => {
    const r = await call(
      base,
      'POST',
      '/ops/api/bulk-redrives',
      { filter: { type: 'charge', text: 'plain' }, reason: 'check', dryRun: true },
      as('ann'),
    );
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dryRun: true, count: 2, capped: false });
    expect(r.json.sample).toHaveLength(2);
    expect(r.text).not.toContain('4111');
    const bad = await call(
      base,
      'POST',
      '/ops/api/bulk-redrives',
      { filter: { states: ['compensated'] }, reason: 'x', dryRun: true },
      as('ann'),
    );
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toContain('body.filter.states');
  });

  it('GET /api/audit pages newest first with a cursor', async () => {
    const first = await call(base, 'GET', '/ops/api/audit?limit=1', undefined, as('ann'));
    const second = await call(
      base,
      'GET',
      `/ops/api/audit?limit=1&cursor=${first.json.cursor}`,
      undefined,
      as('ann'),
    );
    expect(first.json.items[0].action).toBe('discard');
    expect(second.json.items[0].action).toBe('redrive');
    expect((await call(base, 'GET', '/ops/api/audit?cursor=zz', undefined, as('ann'))).status).toBe(
      400,
    );
  });

  it('read-only is an explicit choice: readOnly allows reads and refuses every action', async () => {
    const ro = await startOpsServer({
      durable: s.durable,
      audit: memoryAuditLog(),
      authorize: readOnly,
    });
    try {
      expect((await call(ro.url, 'GET', '/ops/api/queues')).status).toBe(200);
      const r = await call(ro.url, 'POST', `/ops/api/operations/${failedIds[0]}/redrive`, {
        reason: 'x',
      });
      expect(r.json).toMatchObject({
        status: 403,
        code: 'forbidden',
        detail: 'this console is read-only',
      });
    } finally {
      await ro.close();
    }
  });
});

describe('bulk redrives: pacing, the circuit hold, cancel, failed items (injected clock)', () => {
  /** A clock whose sleep moves time forward at once. */
  function fakeClock(): OpsClock & { t: number } {
    const c = {
      t: 1_000_000,
      now: () => c.t,
      sleep: async (ms: number) => {
        c.t += ms;
        await new Promise((r) => setImmediate(r));
      },
    };
    return c;
  }

  it('redrives at the rate, holds while the circuit is open, lists the items that failed', async () => {
    const s = setup(
      redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
        prefix: `${ctx.prefix}bulk:`,
        partitions: 2,
      }),
      downstream.url,
    );
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await s.charge.start({ i })).id);
    const clock = fakeClock();
    // Open from the third redrive until 5 s later.
    let redrives = 0;
    let openUntil = 0;
    const times: number[] = [];
    s.durable.events.on('redriven', () => {
      times.push(clock.t);
      if (++redrives === 2) openUntil = clock.t + 5000;
    });
    const server = await startOpsServer({
      durable: s.durable,
      audit: memoryAuditLog(),
      authorize: () => ({ allow: true, who: 'ops' }),
      clock,
      client: {
        circuit: () =>
          clock.t < openUntil ? { state: 'open', nextProbeAt: openUntil } : { state: 'closed' },
      },
    });
    try {
      // One of them is discarded after it matched: it fails to redrive.
      const job = await call(
        server.url,
        'POST',
        '/ops/api/bulk-redrives',
        { filter: { type: 'charge' }, reason: 'downstream fixed', rate: 2, target: 'http://x' },
        {},
      );
      expect(job.status).toBe(202);
      expect(job.json.total).toBe(6);
      await s.durable.deadLetters.discard(ids[0] as string);
      let snap;
      for (let i = 0; i < 200; i++) {
        snap = (await call(server.url, 'GET', `/ops/api/bulk-redrives/${job.json.id}`)).json;
        if (snap.state === 'completed') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(snap).toMatchObject({ state: 'completed', total: 6, redriven: 5 });
      expect(snap.failed).toEqual([
        { id: ids[0], error: 'the operation no longer exists (discarded)' },
      ]);
      expect(snap.heldMs).toBeGreaterThanOrEqual(4500);
      const gap = (a: number, b: number): number => (times[a] ?? NaN) - (times[b] ?? NaN);
      // 500 ms apart, and the third one waited for the circuit.
      expect(gap(1, 0)).toBe(500);
      expect(gap(2, 1)).toBeGreaterThanOrEqual(5000);
      expect(gap(3, 2)).toBe(500);
    } finally {
      await server.close();
      await s.durable.store.close();
    }
  });

  it('cancels a running bulk redrive (audited), 409 once finished', async () => {
    const s = setup(memoryDurableStore(), downstream.url);
    for (let i = 0; i < 5; i++) await s.charge.start({ i });
    // Real time: a rate of 1 a second keeps the job running until it is cancelled.
    const server = await startOpsServer({
      durable: s.durable,
      authorize: () => ({ allow: true, who: 'ops' }),
    });
    try {
      const job = await call(server.url, 'POST', '/ops/api/bulk-redrives', {
        reason: 'retry',
        rate: 1,
      });
      const cancel = await call(
        server.url,
        'POST',
        `/ops/api/bulk-redrives/${job.json.id}/cancel`,
        { reason: 'wrong filter' },
      );
      expect(cancel.json).toMatchObject({
        state: 'cancelled',
        cancelledBy: 'ops',
        cancelReason: 'wrong filter',
      });
      expect(cancel.json.redriven).toBeLessThan(5);
      const again = await call(server.url, 'POST', `/ops/api/bulk-redrives/${job.json.id}/cancel`, {
        reason: 'again',
      });
      expect(again.status).toBe(409);
      const audit = await call(server.url, 'GET', '/ops/api/audit');
      expect(audit.json.items.map((e: { action: string }) => e.action)).toEqual([
        'cancel-bulk-redrive',
        'bulk-redrive',
      ]);
      expect(audit.json.items[1]).toMatchObject({ count: 5, filter: {}, reason: 'retry' });
      expect((await call(server.url, 'GET', '/ops/api/bulk-redrives/none')).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
