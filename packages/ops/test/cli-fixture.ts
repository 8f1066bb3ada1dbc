import { redisDurableStore } from '@unfazed/client/durable';
import type { RedisTestContext } from '@unfazed/testing';
import { redisAuditLog, startOpsServer, type OpsServer } from '@unfazed/ops';
import { setup, startDownstream, type Setup } from './support.js';

/** What the CLI tests run against: a console over Redis with failed, dead and compensated work. */
export interface CliFixture {
  readonly s: Setup;
  readonly server: OpsServer;
  /** The console's base URL (`http://127.0.0.1:port/ops`). */
  readonly url: string;
  readonly downstream: Awaited<ReturnType<typeof startDownstream>>;
  /** Failed `charge` operations (a final 404), oldest first. */
  readonly failed: string[];
  /** Dead `charge` operations (a 503 on their last allowed attempt). */
  readonly dead: string[];
  /** A compensated `book` saga. */
  readonly saga: string;
  /** Starts `n` more failed charges (for bulk redrives); resolves with their ids. */
  addFailed(n: number, note?: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A standalone console (loopback) over a Redis durable store under `prefix`. `authorize` wants
 * `Authorization: Bearer sre` (who: `sre`); `Bearer viewer` may only read; anything else is 401.
 */
export async function startCliFixture(ctx: RedisTestContext, prefix: string): Promise<CliFixture> {
  const downstream = await startDownstream();
  const store = redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), {
    prefix,
    partitions: 2,
  });
  const s = setup(store, downstream.url);
  const undone: string[] = [];
  const book = s.durable.saga<{ trip: string }>('book', {
    steps: [
      {
        name: 'reserve-seat',
        run: async (input) => ({ seat: `12A-${input.trip}` }),
        compensate: async (input) => void undone.push(input.trip),
      },
      {
        name: 'charge-card',
        request: (input) => ({ method: 'POST', path: '/charge', json: input }),
      },
    ],
  });
  const server = await startOpsServer({
    durable: s.durable,
    audit: redisAuditLog(ctx.connect(), { prefix }),
    redact: ['card.number'],
    authorize: (req, action) => {
      const auth = (req as { headers: Record<string, string | undefined> }).headers[
        'authorization'
      ];
      if (auth === 'Bearer sre') return { allow: true, who: 'sre' };
      if (auth === 'Bearer viewer')
        return action === 'read'
          ? { allow: true, who: 'viewer' }
          : { allow: false, status: 403, message: 'viewers may only read' };
      return { allow: false, status: 401, message: 'send Authorization: Bearer <token>' };
    },
  });
  const addFailed = async (n: number, note = 'bulk'): Promise<string[]> => {
    const ids: string[] = [];
    downstream.status.value = 404;
    for (let i = 0; i < n; i++) {
      const out = await s.charge.start({ order: `${note}-${i}`, card: { number: '4111-1111' } });
      if (out.status !== 'failed') throw new Error(`expected a failed charge, got ${out.status}`);
      ids.push(out.id);
    }
    return ids;
  };
  const failed = await addFailed(3, 'order');
  downstream.status.value = 503;
  const dead: string[] = [];
  for (let i = 0; i < 2; i++) {
    const out = await s.charge.start({ order: `late-${i}`, card: { number: '4111-2222' } });
    const state = (await s.durable.deadLetters.get(out.id))?.record.state;
    if (state !== 'dead') throw new Error(`expected a dead charge, got ${state}`);
    dead.push(out.id);
  }
  downstream.status.value = 402;
  const sagaRun = await book.start({ trip: 'LIS-1' });
  const sagaState = (await s.durable.deadLetters.get(sagaRun.id))?.record.state;
  if (sagaState !== 'compensated') throw new Error(`expected a compensated saga, got ${sagaState}`);
  downstream.status.value = 404;
  return {
    s,
    server,
    url: `${server.url}/ops`,
    downstream,
    failed,
    dead,
    saga: sagaRun.id,
    addFailed,
    async close() {
      await server.close();
      await s.durable.store.close();
      await downstream.close();
    },
  };
}
