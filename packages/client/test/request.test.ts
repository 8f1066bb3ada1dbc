import { Readable } from 'node:stream';
import { MockAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parseIdempotencyKey, problem, PROBLEM_CONTENT_TYPE } from '@unfazed/contract';
import { faults, faultyServer, plans, type FaultyServer } from '@unfazed/testing';
import {
  createClient,
  isRetriesExhaustedError,
  type Client,
  type ClientEvents,
} from '@unfazed/client';
import { send, startServer, type TestServer } from './support/server.js';

const FAST = { backoff: { initialMs: 5, maxMs: 20 } } as const;

function keyOf(header: string | string[] | undefined): string | undefined {
  const parsed = parseIdempotencyKey(header);
  return parsed.ok ? parsed.key : undefined;
}

describe('request()', () => {
  let server: TestServer;
  let client: Client;
  let releaseStream: () => void = () => undefined;
  const streamReleased = new Promise<void>((resolve) => (releaseStream = resolve));

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const path = req.url.replace(/^\/api/, '');
      if (path.startsWith('/echo')) {
        send(res, 200, { method: req.method, url: req.url, body: req.body, headers: req.headers });
      } else if (path === '/replayed') {
        send(res, 201, { id: 1 }, { 'idempotent-replayed': 'true' });
      } else if (path === '/stream') {
        // Headers at once; the body only once the test says the client's timers have passed.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('chunk-0\n');
        void streamReleased.then(() => {
          for (let i = 1; i < 5; i++) res.write(`chunk-${i}\n`);
          res.end();
        });
      } else {
        send(res, 404, { error: 'not found' });
      }
    });
    client = createClient({ baseUrl: `${server.url}/api`, retry: FAST });
  });

  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('joins baseUrl and path, appends the query and sends JSON', async () => {
    const res = await client.request({
      method: 'PUT',
      path: '/echo/x',
      query: { a: 1, b: ['x', 'y'], c: undefined },
      json: { amount: 42 },
    });
    expect(res.status).toBe(200);
    const echo = await res.json<{ url: string; body: string; headers: Record<string, string> }>();
    expect(echo.url).toBe('/api/echo/x?a=1&b=x&b=y');
    expect(JSON.parse(echo.body)).toEqual({ amount: 42 });
    expect(echo.headers['content-type']).toBe('application/json');
    expect(res.attempts).toBe(1);
    expect(res.idempotencyKey).toBeUndefined();
  });

  it('adds a UUIDv7 Idempotency-Key to POST, sent as an sf-string', async () => {
    const res = await client.request({ method: 'POST', path: '/echo', json: {} });
    const echo = await res.json<{ headers: Record<string, string> }>();
    const header = echo.headers['idempotency-key'];
    expect(header).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(keyOf(header)).toBe(res.idempotencyKey);
    expect(res.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('sends a caller key as given, and none with idempotencyKey: false', async () => {
    const given = await client.request({ method: 'POST', path: '/echo', idempotencyKey: 'a "b"' });
    const echo = await given.json<{ headers: Record<string, string> }>();
    expect(echo.headers['idempotency-key']).toBe('"a \\"b\\""');
    expect(given.idempotencyKey).toBe('a "b"');
    const none = await client.request({ method: 'POST', path: '/echo', idempotencyKey: false });
    const echo2 = await none.json<{ headers: Record<string, string> }>();
    expect(echo2.headers['idempotency-key']).toBeUndefined();
    expect(none.idempotencyKey).toBeUndefined();
  });

  it('rejects a malformed key naming the option', async () => {
    await expect(
      client.request({ method: 'POST', path: '/echo', idempotencyKey: 'é' }),
    ).rejects.toThrow(/Invalid option "idempotencyKey"/);
  });

  it('returns non-2xx answers and reports replayed answers', async () => {
    const missing = await client.request({ path: '/nope' });
    expect(missing.status).toBe(404);
    await missing.dump();
    const replayed = await client.request({ method: 'POST', path: '/replayed' });
    expect(replayed.status).toBe(201);
    expect(replayed.replayed).toBe(true);
    expect(await replayed.json()).toEqual({ id: 1 });
  });

  it('lets a streamed body be read whole after request() returned (no abort on return)', async () => {
    // Generous timeouts, so that a loaded machine still gets the headers in time; the rest of
    // the body is sent only after both have passed.
    const res = await client.request({
      path: '/stream',
      timeout: { attempt: 1_000, total: 1_200 },
    });
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    releaseStream();
    const chunks: string[] = [];
    for await (const chunk of res.body) chunks.push(String(chunk));
    expect(chunks.join('')).toBe('chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n');
  });

  it('refuses to read a body twice', async () => {
    const res = await client.request({ path: '/echo' });
    await res.text();
    await expect(res.text()).rejects.toThrow(/already read/);
  });

  it('fails after close()', async () => {
    const other = createClient({ baseUrl: server.url });
    await other.close();
    await expect(other.request({ path: '/echo' })).rejects.toMatchObject({
      code: 'UNFAZED_ERR_CLIENT_CLOSED',
    });
  });
});

describe('retries and idempotency', () => {
  let server: FaultyServer | undefined;
  let client: Client | undefined;

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  async function setup(plan: ReturnType<typeof plans.times>): Promise<{
    server: FaultyServer;
    client: Client;
  }> {
    await client?.close();
    await server?.close();
    server = await faultyServer({ plan });
    client = createClient({ baseUrl: server.url, retry: FAST });
    return { server, client };
  }

  it('sends the same key on every attempt', async () => {
    const { server, client } = await setup(plans.times(2, faults.status(503)));
    const events: ClientEvents['retry'][] = [];
    client.on('retry', (e) => events.push(e));
    const res = await client.request({ method: 'POST', path: '/charges', json: { amount: 1 } });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(3);
    const keys = server.requests.map((r) => keyOf(r.headers['idempotency-key']));
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toBe(res.idempotencyKey);
    expect(events.map((e) => [e.nextAttempt, e.delayReason, e.cause])).toEqual([
      [2, 'backoff', 'status 503'],
      [3, 'backoff', 'status 503'],
    ]);
  });

  it('retries a reset after the server read the request, with the same key', async () => {
    const { server, client } = await setup(plans.times(1, faults.lostResponse()));
    const res = await client.request({ method: 'POST', path: '/charges', json: { amount: 2 } });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(2);
    expect(server.requests.map((r) => r.handled)).toEqual([true, true]);
    const [first, second] = server.requests;
    expect(keyOf(first?.headers['idempotency-key'])).toBe(res.idempotencyKey);
    expect(keyOf(second?.headers['idempotency-key'])).toBe(res.idempotencyKey);
    expect(second?.body.toString()).toBe('{"amount":2}');
  });

  it('does not retry a POST without a key after a lost response, and says why', async () => {
    const { server, client } = await setup(plans.times(1, faults.lostResponse()));
    const error = await client
      .request({ method: 'POST', path: '/charges', idempotencyKey: false, body: 'x' })
      .catch((e: unknown) => e);
    expect(isRetriesExhaustedError(error)).toBe(true);
    if (!isRetriesExhaustedError(error)) return;
    expect(error.stopReason).toBe('idempotency-key-missing');
    expect(error.attempts).toHaveLength(1);
    expect(error.message).toMatch(/not retried/);
    expect(server.requests).toHaveLength(1);
  });

  it('returns a transient answer to a POST without a key, marked as not retried', async () => {
    const { server, client } = await setup(plans.times(1, faults.status(503)));
    const res = await client.request({ method: 'POST', path: '/charges', idempotencyKey: false });
    expect(res.status).toBe(503);
    expect(res.notRetried?.reason).toBe('idempotency-key-missing');
    await res.dump();
    expect(server.requests).toHaveLength(1);
  });

  it('retries a POST without a key when the request certainly was not sent', async () => {
    const dead = await startServer(() => undefined);
    const url = dead.url;
    await dead.close();
    const local = createClient({ retry: { maxRetries: 2, ...FAST } });
    const error = await local
      .request({ method: 'POST', url: `${url}/x`, idempotencyKey: false })
      .catch((e: unknown) => e);
    await local.close();
    expect(isRetriesExhaustedError(error)).toBe(true);
    if (!isRetriesExhaustedError(error)) return;
    expect(error.stopReason).toBe('max-retries');
    expect(error.attempts.map((a) => a.error)).toEqual([
      'ECONNREFUSED',
      'ECONNREFUSED',
      'ECONNREFUSED',
    ]);
  });

  it('sends a one-shot stream once and never retries it', async () => {
    const { server, client } = await setup(plans.times(1, faults.status(503)));
    const res = await client.request({
      method: 'PUT',
      path: '/upload',
      body: Readable.from(['part-1,', 'part-2']),
    });
    expect(res.status).toBe(503);
    expect(res.attempts).toBe(1);
    expect(res.notRetried?.reason).toBe('one-shot-body');
    expect(res.notRetried?.message).toMatch(/one-shot stream/);
    await res.dump();
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.body.toString()).toBe('part-1,part-2');
  });

  it('replays a body factory on every attempt', async () => {
    const { server, client } = await setup(plans.times(1, faults.status(502)));
    let calls = 0;
    const res = await client.request({
      method: 'PUT',
      path: '/upload',
      body: () => {
        calls++;
        return Readable.from([`attempt-${calls}`]);
      },
    });
    expect(res.status).toBe(200);
    expect(server.requests.map((r) => r.body.toString())).toEqual(['attempt-1', 'attempt-2']);
  });

  it('does not retry 501', async () => {
    const { server, client } = await setup(plans.times(1, faults.status(501)));
    const res = await client.request({ path: '/x' });
    expect(res.status).toBe(501);
    expect(res.attempts).toBe(1);
    expect(res.notRetried).toBeUndefined();
    await res.dump();
    expect(server.requests).toHaveLength(1);
  });

  it('retries the in-flight 409 but not the fingerprint 422 (read from the problem body)', async () => {
    const inFlight = faults.status(409, {
      headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'retry-after': '0' },
      body: problem('request-in-flight'),
    });
    const { server, client } = await setup(plans.times(1, inFlight));
    const res = await client.request({ method: 'POST', path: '/charges' });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(2);
    await res.dump();
    expect(server.requests).toHaveLength(2);

    const reused = faults.status(422, {
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
      body: problem('idempotency-key-reused'),
    });
    const second = await setup(plans.times(1, reused));
    const res2 = await second.client.request({ method: 'POST', path: '/charges' });
    expect(res2.status).toBe(422);
    expect(await res2.json()).toMatchObject({ code: 'idempotency-key-reused' });
    expect(second.server.requests).toHaveLength(1);
  });

  it('does not retry an application 409 (no contract problem body)', async () => {
    const { server, client } = await setup(plans.times(1, faults.status(409, { body: 'taken' })));
    const res = await client.request({ method: 'POST', path: '/charges' });
    expect(res.status).toBe(409);
    expect(await res.text()).toBe('taken');
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after maxRetries with a summary of every attempt', async () => {
    const { server, client } = await setup(plans.always(faults.status(503, { body: 'down' })));
    const error = await client
      .request({ method: 'POST', path: '/charges', retry: { maxRetries: 2 } })
      .catch((e: unknown) => e);
    expect(isRetriesExhaustedError(error)).toBe(true);
    if (!isRetriesExhaustedError(error)) return;
    expect(error.code).toBe('UNFAZED_ERR_RETRIES_EXHAUSTED');
    expect(error.stopReason).toBe('max-retries');
    expect(error.attempts.map((a) => [a.attempt, a.status, a.delayReason])).toEqual([
      [1, 503, 'backoff'],
      [2, 503, 'backoff'],
      [3, 503, undefined],
    ]);
    expect(error.attempts[0]?.delayMs).toBeGreaterThanOrEqual(0);
    expect(error.lastResponse?.status).toBe(503);
    expect(error.lastResponse?.body).toBe('down');
    expect(server.requests).toHaveLength(3);
  });

  it('emits attempt-start and attempt-end for each attempt', async () => {
    const { client } = await setup(plans.times(1, faults.status(500)));
    const seen: string[] = [];
    client.on('attempt-start', (e) => seen.push(`start ${e.attempt}`));
    const off = client.on('attempt-end', (e) =>
      seen.push(`end ${e.attempt} ${e.outcome} ${e.reason}`),
    );
    const res = await client.request({ path: '/x' });
    await res.dump();
    expect(seen).toEqual([
      'start 1',
      'end 1 transient status 500',
      'start 2',
      'end 2 success status 200',
    ]);
    off();
    const again = await client.request({ path: '/x' });
    await again.dump();
    expect(seen.filter((s) => s.startsWith('end'))).toHaveLength(2);
  });
});

describe('listeners', () => {
  it('a throwing listener never breaks the call; it becomes a process warning', async () => {
    const server = await startServer((_req, res) => send(res, 200, { ok: true }));
    const client = createClient({ baseUrl: server.url });
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    client.on('attempt-end', () => {
      throw new Error('listener bug');
    });
    const res = await client.request({ path: '/' });
    expect(res.status).toBe(200);
    await res.dump();
    expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([
      'an @unfazed/client "attempt-end" listener threw: Error: listener bug',
    ]);
    warn.mockRestore();
    await client.close();
    await server.close();
  });
});

describe('dispatchers and body lifetime', () => {
  it('sends through a user-supplied undici Dispatcher and leaves it open', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('http://payments.internal');
    pool.intercept({ path: '/charges', method: 'POST' }).reply(503, 'busy').times(1);
    pool.intercept({ path: '/charges', method: 'POST' }).reply(201, { id: 'ch_1' });
    const client = createClient({
      baseUrl: 'http://payments.internal',
      dispatcher: agent,
      retry: FAST,
    });
    expect(client.describe().dispatcher).toBe('custom');
    const res = await client.request({ method: 'POST', path: '/charges', json: { amount: 3 } });
    expect(res.status).toBe(201);
    expect(res.attempts).toBe(2);
    expect(await res.json()).toEqual({ id: 'ch_1' });
    await client.close();
    agent.assertNoPendingInterceptors();
    await agent.close();
  });

  it('a caller abort after request() returned stops the body being read', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      // The rest never comes: only the caller's abort can end the read.
    });
    const client = createClient({ baseUrl: server.url });
    const controller = new AbortController();
    const res = await client.request({ path: '/slow', signal: controller.signal });
    const reading = res.text();
    setTimeout(() => controller.abort(), 30);
    await expect(reading).rejects.toMatchObject({ code: 'UNFAZED_ERR_ABORTED' });
    await client.close();
    await server.close();
  });
});
