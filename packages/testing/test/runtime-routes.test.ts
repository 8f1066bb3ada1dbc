import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import {
  faultInterceptor,
  faultyServer,
  faults,
  plans,
  type FaultInterceptor,
  type FaultyServer,
} from '@unfazed/testing';
import { observe } from './observe.js';

// One faultyServer for the whole file, as msw users keep one server: each test swaps in its
// own plan with use(), and afterEach puts the server back as it was created.
const ledger: string[] = [];
let server: FaultyServer;
beforeAll(async () => {
  server = await faultyServer({
    routes: {
      'POST /charges': {
        handler: (req) => {
          ledger.push(req.text());
          return { status: 201, body: { charged: req.text() } };
        },
      },
    },
  });
});
afterEach(() => {
  server.reset();
  ledger.length = 0;
});
afterAll(async () => {
  await server.close();
});

const charge = (body: string) => observe(`${server.url}/charges`, { method: 'POST', body });

describe('faultyServer: plans swapped at runtime', () => {
  it('use() gives this test a plan; the route keeps its handler', async () => {
    server.use({ 'POST /charges': plans.times(1, faults.lostResponse()) });
    expect(await charge('a')).toMatchObject({ kind: 'error' });
    expect(await charge('a')).toMatchObject({ kind: 'answer', status: 201 });
    expect(ledger).toEqual(['a', 'a']); // the handler ran both times
    expect(server.requests.map((r) => [r.seq, r.attempt, r.fault?.kind])).toEqual([
      [1, 1, 'lostResponse'],
      [2, 2, undefined],
    ]);
    server.assertAllFaultsFired();
  });

  it('after reset(): the route as created, an empty log, attempts from 1, no faults', async () => {
    expect(await charge('b')).toMatchObject({ kind: 'answer', status: 201 });
    expect(server.requests.map((r) => [r.seq, r.attempt, r.fault])).toEqual([[1, 1, undefined]]);
    expect(server.events).toEqual([]);
    expect(server.pendingFaults()).toEqual([]);
  });

  it('reset() drops a plan whose faults did not fire, so the next test is not blamed', () => {
    server.use({ 'POST /charges': plans.times(1, faults.reset()) });
    expect(server.pendingFaults()).toHaveLength(1);
    server.reset();
    expect(server.pendingFaults()).toEqual([]);
    expect(() => server.assertAllFaultsFired()).not.toThrow();
  });

  it('the latest use() wins; a route with its own handler replaces the answer', async () => {
    server.use({ 'POST /charges': plans.always(faults.status(503)) });
    server.use({ 'POST /charges': { handler: () => ({ status: 202, body: 'queued' }) } });
    expect(await charge('c')).toMatchObject({ status: 202, body: 'queued' });
    expect(ledger).toEqual([]);
  });

  it('use() can add a route the server did not have', async () => {
    server.use({ 'GET /health': { handler: () => ({ body: 'up' }) } });
    expect(await observe(`${server.url}/health`)).toMatchObject({ status: 200, body: 'up' });
    server.reset();
    expect(await observe(`${server.url}/health`)).toMatchObject({ status: 404 });
  });

  it('clearRequests() empties the log and restarts the attempt count, routes untouched', async () => {
    server.use({ 'POST /charges': plans.sequence(['pass', faults.status(503)]) });
    await charge('d');
    server.clearRequests();
    expect(server.requests).toEqual([]);
    expect(await charge('d')).toMatchObject({ status: 503 });
    expect(server.requests.map((r) => [r.seq, r.attempt])).toEqual([[1, 1]]);
  });

  it('resetRoutes(routes) replaces the routes given at creation', async () => {
    server.resetRoutes({ 'GET /only': { handler: () => ({ body: 'only' }) } });
    expect(await charge('e')).toMatchObject({ status: 404 });
    expect(await observe(`${server.url}/only`)).toMatchObject({ body: 'only' });
    // Put the file's route back for the tests after this one.
    server.resetRoutes({
      'POST /charges': { handler: (req) => (ledger.push(req.text()), { status: 201 }) },
    });
  });
});

describe('faultInterceptor: plans swapped at runtime', () => {
  let upstream: Server;
  let base: string;
  let agent: Agent;
  let interceptor: FaultInterceptor;
  beforeAll(async () => {
    upstream = createServer((_req, res) => res.end('real'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    interceptor = faultInterceptor();
    agent = new Agent({ keepAliveTimeout: 10 });
  });
  afterAll(async () => {
    await agent.destroy();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('use(), then reset()', async () => {
    const dispatcher = agent.compose(interceptor);
    interceptor.use({ 'GET /x': plans.times(1, faults.status(503)) });
    expect(await observe(`${base}/x`, { dispatcher })).toMatchObject({ status: 503 });
    expect(interceptor.calls).toHaveLength(1);
    interceptor.use({ 'GET /x': plans.always(faults.status(429)) });
    interceptor.reset();
    expect(interceptor.calls).toEqual([]);
    expect(await observe(`${base}/x`, { dispatcher })).toMatchObject({ status: 200, body: 'real' });
    expect(interceptor.calls.map((c) => [c.seq, c.attempt, c.fault])).toEqual([[1, 1, undefined]]);
  });
});
