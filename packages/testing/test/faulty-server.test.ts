import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import {
  faults,
  formatEvent,
  faultyServer,
  forwardTo,
  isFaultsNotFiredError,
  plans,
  type FaultyServer,
} from '@unfazed/testing';
import { abortWhen, observe } from './observe.js';

let server: FaultyServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A handler with a side effect the tests can count: the ledger. */
function ledgerHandler(): {
  ledger: string[];
  handler: (r: { text(): string }) => { status: number; body: object };
} {
  const ledger: string[] = [];
  return {
    ledger,
    handler: (r) => {
      ledger.push(r.text());
      return { status: 201, body: { charged: r.text(), padding: 'x'.repeat(64) } };
    },
  };
}

async function start(plan: ReturnType<typeof plans.times>) {
  const { ledger, handler } = ledgerHandler();
  server = await faultyServer({ routes: { 'POST /charges': { plan, handler } } });
  return { ledger, server };
}

describe('faultyServer: each fault as the caller and the server see it', () => {
  it('passes calls to the handler and records them', async () => {
    const { ledger, server } = await start(plans.none());
    const seen = await observe(`${server.url}/charges?x=1`, {
      method: 'POST',
      body: 'a',
      headers: { 'idempotency-key': 'k1' },
    });
    expect(seen).toMatchObject({ kind: 'answer', status: 201 });
    expect(ledger).toEqual(['a']);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      path: '/charges',
      url: '/charges?x=1',
      key: 'k1',
      attempt: 1,
      route: 'POST /charges',
      fault: undefined,
      handled: true,
      status: 201,
      outcome: 'answered',
    });
    expect(server.requests[0]?.body.toString()).toBe('a');
  });

  it('status with retryAfterMs: 0 sends Retry-After: 0 over the wire', async () => {
    const { server } = await start(plans.times(1, faults.status(503, { retryAfterMs: 0 })));
    const first = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(first).toMatchObject({ kind: 'answer', status: 503, headers: { 'retry-after': '0' } });
  });

  it('status (beforeSend): the caller gets 503 with Retry-After, the handler never ran', async () => {
    const { ledger, server } = await start(
      plans.times(2, faults.status(503, { retryAfterMs: 2000, body: { title: 'busy' } })),
    );
    const first = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    const second = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    const third = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(first).toMatchObject({
      kind: 'answer',
      status: 503,
      headers: { 'retry-after': '2' },
      body: '{"title":"busy"}',
    });
    expect(second).toMatchObject({ kind: 'answer', status: 503 });
    expect(third).toMatchObject({ kind: 'answer', status: 201 });
    expect(ledger).toEqual(['a']);
    expect(server.requests.map((r) => [r.attempt, r.label, r.handled])).toEqual([
      [1, 'beforeSend', false],
      [2, 'beforeSend', false],
      [3, undefined, true],
    ]);
    server.assertAllFaultsFired();
  });

  it('status (afterSend): the handler ran, the caller got a 502 instead of its answer', async () => {
    const { ledger, server } = await start(
      plans.times(1, faults.status(502, { label: 'afterSend' })),
    );
    const seen = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(seen).toMatchObject({ kind: 'answer', status: 502, body: 'Bad Gateway' });
    expect(ledger).toEqual(['a']);
    expect(server.requests[0]).toMatchObject({ handled: true, label: 'afterSend' });
  });

  it('reset (beforeSend): the caller gets a socket error, the handler never ran, the body was not read', async () => {
    const { ledger, server } = await start(plans.times(1, faults.reset()));
    const seen = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(seen).toMatchObject({ kind: 'error' });
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain((seen as { code: string }).code);
    expect(ledger).toEqual([]);
    expect(server.requests[0]).toMatchObject({
      handled: false,
      outcome: 'reset',
      label: 'beforeSend',
    });
  });

  it('lostResponse (afterSend): the handler ran, the caller gets a socket error', async () => {
    const { ledger, server } = await start(plans.times(1, faults.lostResponse()));
    const seen = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(seen).toMatchObject({ kind: 'error' });
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain((seen as { code: string }).code);
    expect(ledger).toEqual(['a']);
    expect(server.requests[0]).toMatchObject({
      handled: true,
      outcome: 'reset',
      label: 'afterSend',
    });
    const retry = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(retry).toMatchObject({ kind: 'answer', status: 201 });
    expect(ledger).toEqual(['a', 'a']);
  });

  it('closeMidBody (midBody): headers arrive, the body breaks, the handler ran', async () => {
    const { ledger, server } = await start(plans.times(1, faults.closeMidBody({ afterBytes: 5 })));
    const seen = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(seen).toMatchObject({ kind: 'error' });
    expect(ledger).toEqual(['a']);
    expect(server.requests[0]).toMatchObject({
      handled: true,
      status: 201,
      outcome: 'closed-mid-body',
      label: 'midBody',
    });
  });

  it('closeMidBody sees the status before the break (plain node:http client)', async () => {
    const { server } = await start(plans.times(1, faults.closeMidBody()));
    const result = await new Promise<{ status: number; received: number; error: string }>(
      (resolve) => {
        const req = httpRequest(`${server.url}/charges`, { method: 'POST' }, (res) => {
          let received = 0;
          res.on('data', (chunk: Buffer) => (received += chunk.length));
          res.on('error', (e: NodeJS.ErrnoException) =>
            resolve({ status: res.statusCode ?? 0, received, error: e.code ?? e.message }),
          );
          res.on('end', () => resolve({ status: res.statusCode ?? 0, received, error: 'none' }));
        });
        req.end('a');
      },
    );
    expect(result.status).toBe(201);
    expect(result.error).toBe('ECONNRESET');
    expect(result.received).toBeGreaterThan(0);
  });

  it('slowBody (midBody): the whole body arrives, slowly; the handler ran', async () => {
    const { ledger, server } = await start(
      plans.times(1, faults.slowBody({ chunkSize: 40, intervalMs: 30 })),
    );
    const started = Date.now();
    const seen = await observe(`${server.url}/charges`, { method: 'POST', body: 'a' });
    expect(seen).toMatchObject({ kind: 'answer', status: 201 });
    expect(JSON.parse((seen as { body: string }).body)).toMatchObject({ charged: 'a' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(ledger).toEqual(['a']);
  });

  it('slowBody trips a body timeout', async () => {
    const { server } = await start(
      plans.times(1, faults.slowBody({ chunkSize: 1, intervalMs: 200 })),
    );
    const seen = await observe(`${server.url}/charges`, {
      method: 'POST',
      body: 'a',
      timeoutMs: 150,
    });
    expect(seen).toMatchObject({ kind: 'error' });
    expect(server.requests[0]).toMatchObject({ handled: true, status: 201 });
  });

  it('delay (afterSend, default): a caller that times out lost a handled response', async () => {
    const { ledger, server } = await start(plans.times(1, faults.delay(2000)));
    // The caller gives up while the headers wait: after the handler ran.
    const seen = await abortWhen(`${server.url}/charges`, () => ledger.length === 1, {
      method: 'POST',
      body: 'a',
    });
    expect(seen).toMatchObject({ kind: 'error', code: 'AbortError' });
    expect(ledger).toEqual(['a']);
  });

  it('delay (beforeSend): a caller that leaves first leaves no side effect; a patient one gets the answer', async () => {
    const { ledger, server } = await start(
      plans.times(2, faults.delay(150, { label: 'beforeSend' })),
    );
    // Leave once the server has the request, while it waits.
    const controller = new AbortController();
    const gone = request(`${server.url}/charges`, {
      method: 'POST',
      body: 'a',
      signal: controller.signal,
    }).catch((e: unknown) => e);
    while (server.requests.length < 1) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await gone).toMatchObject({ name: 'AbortError' });
    const patient = await observe(`${server.url}/charges`, { method: 'POST', body: 'b' });
    expect(patient).toMatchObject({ kind: 'answer', status: 201 });
    await new Promise((r) => setTimeout(r, 150));
    expect(ledger).toEqual(['b']);
    expect(server.requests[0]).toMatchObject({ handled: false, outcome: 'caller-gone' });
  });

  it('hang (beforeSend): the caller times out, the handler never ran; close() does not hang', async () => {
    const { ledger, server } = await start(plans.always(faults.hang()));
    const seen = await observe(`${server.url}/charges`, {
      method: 'POST',
      body: 'a',
      timeoutMs: 100,
    });
    expect(seen).toMatchObject({ kind: 'error', code: 'TimeoutError' });
    expect(ledger).toEqual([]);
    // A second hung request still open while closing.
    const pending = observe(`${server.url}/charges`, {
      method: 'POST',
      body: 'b',
      timeoutMs: 5000,
    });
    while (server.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toMatchObject({ kind: 'error' });
  });

  it('hang (afterSend): the handler ran, no answer ever comes', async () => {
    const { ledger, server } = await start(plans.times(1, faults.hang({ label: 'afterSend' })));
    const seen = await abortWhen(`${server.url}/charges`, () => ledger.length === 1, {
      method: 'POST',
      body: 'a',
    });
    expect(seen).toMatchObject({ kind: 'error', code: 'AbortError' });
    expect(ledger).toEqual(['a']);
    expect(server.requests[0]).toMatchObject({ handled: true, outcome: 'hung' });
  });
});

describe('faultyServer: routes, attempts, verification', () => {
  it('counts attempts per idempotency key and per route', async () => {
    server = await faultyServer({
      routes: { 'POST /a': plans.times(1, faults.status(503), { per: 'key' }) },
    });
    const k = (key: string) => ({ method: 'POST' as const, headers: { 'idempotency-key': key } });
    expect(await observe(`${server.url}/a`, k('x'))).toMatchObject({ status: 503 });
    expect(await observe(`${server.url}/a`, k('x'))).toMatchObject({ status: 200 });
    expect(await observe(`${server.url}/a`, k('y'))).toMatchObject({ status: 503 });
    expect(await observe(`${server.url}/a`, { method: 'POST' })).toMatchObject({ status: 503 });
    expect(await observe(`${server.url}/b`)).toMatchObject({ status: 404 });
    expect(server.attempts('x').map((r) => r.attempt)).toEqual([1, 2]);
    expect(server.attempts('POST /a')).toHaveLength(1);
    expect(server.requestsTo('POST /a')).toHaveLength(4);
    expect(server.requestsTo('/b')).toHaveLength(1);
    expect(server.events.map((e) => e.key)).toEqual(['x', 'y', 'POST /a']);
  });

  it('matches predicates and path parameters, default handler without routes', async () => {
    server = await faultyServer({
      routes: [
        { match: (r) => r.headers['x-chaos'] === '1', plan: plans.always(faults.status(500)) },
        { match: 'GET /items/:id', handler: (r) => ({ body: { id: r.path.split('/')[2] } }) },
      ],
    });
    expect(await observe(`${server.url}/items/7`)).toMatchObject({
      status: 200,
      body: '{"id":"7"}',
    });
    expect(await observe(`${server.url}/items/7`, { headers: { 'x-chaos': '1' } })).toMatchObject({
      status: 500,
    });
    await server.close();
    server = await faultyServer();
    expect(await observe(`${server.url}/anything`)).toMatchObject({
      status: 200,
      body: '{"ok":true}',
    });
  });

  it('reports each injected fault to onFault as it happens', async () => {
    const lines: string[] = [];
    server = await faultyServer({
      plan: plans.times(1, faults.status(503)),
      onFault: (event) => lines.push(formatEvent(event)),
    });
    await observe(`${server.url}/x`);
    await observe(`${server.url}/x`);
    expect(lines).toEqual(['#1 server GET /x key=GET /x attempt 1: status 503 (beforeSend)']);
  });

  it('answers 500 when the handler throws, and records the error', async () => {
    server = await faultyServer({
      handler: () => {
        throw new Error('boom');
      },
    });
    expect(await observe(`${server.url}/x`)).toMatchObject({ status: 500 });
    expect(String(server.requests[0]?.handlerError)).toContain('boom');
  });

  it('assertAllFaultsFired lists what did not fire, with the replay hint', async () => {
    server = await faultyServer({
      routes: {
        'POST /a': plans.times(3, faults.status(503)),
        'POST /b': plans.rate(0.5, faults.reset(), { seed: 7 }),
      },
    });
    await observe(`${server.url}/a`, { method: 'POST' });
    expect(server.pendingFaults()).toHaveLength(2);
    let caught: unknown;
    try {
      server.assertAllFaultsFired();
    } catch (error) {
      caught = error;
    }
    expect(isFaultsNotFiredError(caught)).toBe(true);
    expect((caught as Error).message).toContain(
      'POST /a: status 503 (beforeSend), status 503 (beforeSend)',
    );
    expect((caught as Error).message).toContain(
      '#1 server POST /a key=POST /a attempt 1: status 503',
    );
    expect((caught as Error).message).toContain('replay with seed=7');
  });

  it('rejects bad options with a clear error', async () => {
    await expect(faultyServer({ routes: { 'POST charges': plans.none() } })).rejects.toThrow(
      /routes\["POST charges"\]/,
    );
    await expect(faultyServer({ plan: {} as never })).rejects.toThrow(/Invalid option "plan"/);
    await expect(faultyServer({ port: -1 })).rejects.toThrow(/Invalid option "port"/);
  });
});

describe('faultyServer in front of an existing app (forwardTo)', () => {
  let app: Server;
  let appUrl: string;
  const appSaw: string[] = [];
  beforeEach(async () => {
    appSaw.length = 0;
    app = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        appSaw.push(`${req.method} ${req.url} ${String(req.headers['idempotency-key'])} ${body}`);
        res.writeHead(202, { 'content-type': 'application/json', 'x-app': 'yes' });
        res.end(JSON.stringify({ accepted: body }));
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    app.closeAllConnections();
    await new Promise((r) => app.close(r));
  });

  it("the app handles the lost-response attempt; the retry gets the app's answer", async () => {
    server = await faultyServer({
      plan: plans.times(1, faults.lostResponse()),
      handler: forwardTo(appUrl),
    });
    const headers = { 'idempotency-key': '"k-9"' };
    const lost = await observe(`${server.url}/orders?x=1`, { method: 'POST', body: 'b', headers });
    expect(lost).toMatchObject({ kind: 'error' });
    const retry = await observe(`${server.url}/orders?x=1`, { method: 'POST', body: 'b', headers });
    expect(retry).toMatchObject({
      kind: 'answer',
      status: 202,
      headers: { 'x-app': 'yes' },
      body: '{"accepted":"b"}',
    });
    expect(appSaw).toEqual(['POST /orders?x=1 "k-9" b', 'POST /orders?x=1 "k-9" b']);
    expect(server.attempts('k-9').map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('answers 502 when the app is down, and rejects a bad URL', async () => {
    server = await faultyServer({ handler: forwardTo('http://127.0.0.1:1') });
    expect(await observe(`${server.url}/x`)).toMatchObject({ kind: 'answer', status: 502 });
    expect(() => forwardTo('ftp://x')).toThrow(/Invalid option "baseUrl"/);
  });
});

describe('requests no route matches', () => {
  it('get 404 when there are routes and no top-level handler', async () => {
    server = await faultyServer({ routes: { 'POST /charges': {} } });
    const res = await request(`${server.url}/charge`, { method: 'POST', body: '{}' });
    expect(res.statusCode).toBe(404);
    expect(await res.body.text()).toBe('no route for POST /charge');
  });

  it('go to the top-level handler when there is one (e.g. forwardTo an app)', async () => {
    server = await faultyServer({
      routes: { 'POST /charges': { plan: plans.times(1, faults.status(503)) } },
      handler: () => ({ status: 200, body: 'from the handler' }),
    });
    const res = await request(`${server.url}/elsewhere`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('from the handler');
  });
});
