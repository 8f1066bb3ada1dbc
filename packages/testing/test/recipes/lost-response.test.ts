// Recipe "lost response": the server handled the request (the charge happened) but the answer
// never reached the caller. A retry with the same Idempotency-Key must not charge twice.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import '@unfazed/testing/jest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import {
  checkExactlyOnce,
  createHistory,
  createLedger,
  faultInterceptor,
  faults,
  faultyServer,
  plans,
  type FaultyHandler,
  type FaultyServer,
  type History,
  type Ledger,
} from '@unfazed/testing';

/** The code under test: POST /charges with one key for every attempt, retried on errors. */
async function charge(
  baseUrl: string,
  key: string,
  history: History,
  dispatcher: Dispatcher,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await history.track(
        key,
        async () => {
          const r = await request(`${baseUrl}/charges`, {
            method: 'POST',
            dispatcher,
            headers: { 'idempotency-key': `"${key}"`, 'content-type': 'application/json' },
            body: JSON.stringify({ amount: 42 }),
          });
          await r.body.dump();
          return r;
        },
        { label: `POST /charges attempt ${attempt}` },
      );
      return res.statusCode;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** The downstream's handler: records each charge in the ledger; `dedupe` replays a known key. */
function chargesHandler(ledger: Ledger, dedupe: boolean): FaultyHandler {
  const stored = new Map<string, { id: string }>();
  return (req) => {
    const known = dedupe ? stored.get(req.key) : undefined;
    if (known) return { status: 201, headers: { 'idempotent-replayed': 'true' }, body: known };
    const count = ledger.record(req.headers['idempotency-key'] as string, req.json());
    const body = { id: `ch_${req.key}_${count}` };
    stored.set(req.key, body);
    return { status: 201, body };
  };
}

let server: FaultyServer | undefined;
const agent = new Agent({ keepAliveTimeout: 10 });
afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  await agent.close();
});

describe('recipe: lost response', () => {
  it('faultyServer: the first answer is lost after the charge; the retry is deduplicated', async () => {
    const ledger = createLedger();
    const history = createHistory();
    server = await faultyServer({
      routes: {
        'POST /charges': {
          plan: plans.times(1, faults.lostResponse()),
          handler: chargesHandler(ledger, true),
        },
      },
    });

    expect(await charge(server.url, 'order-1', history, agent)).toBe(201);

    expect(history).toHaveAppliedExactlyOnce(ledger);
    expect(server.attempts('order-1').map((r) => [r.attempt, r.label, r.handled])).toEqual([
      [1, 'afterSend', true], // the charge happened, the caller got a socket error
      [2, undefined, true], // the retry was answered from the stored result
    ]);
    server.assertAllFaultsFired();
  });

  it('the same check catches a downstream that does not deduplicate', async () => {
    const ledger = createLedger();
    const history = createHistory();
    server = await faultyServer({
      routes: {
        'POST /charges': {
          plan: plans.times(1, faults.lostResponse()),
          handler: chargesHandler(ledger, false),
        },
      },
    });

    await charge(server.url, 'order-2', history, agent);

    const report = checkExactlyOnce(history, ledger);
    expect(report.ok).toBe(false);
    expect(ledger.count('order-2')).toBe(2);
    expect(history).not.toHaveAppliedExactlyOnce(ledger);
  });

  it('faultInterceptor: the same fault in front of any server, labelled afterSend', async () => {
    const ledger = createLedger();
    const history = createHistory();
    const stored = new Map<string, string>();
    // Any server will do; here a plain node:http one with its own deduplication.
    const plain: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['idempotency-key']);
        if (!stored.has(key)) {
          ledger.record(key, 'charge');
          stored.set(key, '{"id":"ch_1"}');
        }
        res.writeHead(201, { 'content-type': 'application/json' }).end(stored.get(key));
      });
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const chaos = faultInterceptor({
      routes: { 'POST /charges': plans.times(1, faults.lostResponse()) },
    });
    try {
      const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
      expect(await charge(url, 'order-3', history, agent.compose(chaos))).toBe(201);
      expect(history).toHaveAppliedExactlyOnce(ledger);
      expect(chaos.calls.map((c) => [c.attempt, c.label, c.forwarded])).toEqual([
        [1, 'afterSend', true],
        [2, undefined, true],
      ]);
    } finally {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    }
  });
});
