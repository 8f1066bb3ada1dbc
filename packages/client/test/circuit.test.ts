import { afterEach, describe, expect, it } from '@jest/globals';
import { createClient, isCircuitOpenError, type Client, type ClientOptions } from '@unfazed/client';
import { send, startServer, type TestServer } from './support/server.js';

const BREAKER = {
  failureRatio: 0.5,
  windowMs: 1000,
  minimumCalls: 4,
  openMs: 200,
  maxOpenMs: 1000,
} as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('circuit breaker', () => {
  let server: TestServer | undefined;
  let client: Client | undefined;
  let mode: 'fail' | 'ok' | 'slow' = 'fail';
  /** When set, the server fails this many requests in all, then answers 200. */
  let failFirst: number | undefined;

  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
  });

  async function setup(options: Partial<ClientOptions> = {}): Promise<{
    server: TestServer;
    client: Client;
  }> {
    mode = 'fail';
    failFirst = undefined;
    let seen = 0;
    server = await startServer((_req, res) => {
      seen++;
      if (failFirst !== undefined) {
        return seen <= failFirst ? send(res, 503, { error: 'down' }) : send(res, 200, { ok: true });
      }
      if (mode === 'fail') return send(res, 503, { error: 'down' });
      if (mode === 'slow') return void setTimeout(() => send(res, 200, { ok: true }), 150);
      send(res, 200, { ok: true });
    });
    client = createClient({
      baseUrl: server.url,
      timeout: { attempt: 400, total: 2000 },
      retry: { maxRetries: 0 },
      breaker: BREAKER,
      ...options,
    });
    return { server, client };
  }

  async function failMany(c: Client, n: number, path = '/x'): Promise<void> {
    for (let i = 0; i < n; i++) {
      await c.request({ path, retry: { maxRetries: 0 } }).catch(() => undefined);
    }
  }

  it('opens, fails fast while the server sees no new connection, half-opens and closes', async () => {
    const { server, client } = await setup();
    const changes: string[] = [];
    client.on('circuit', (e) => changes.push(`${e.from}->${e.to}`));

    await failMany(client, 3);
    expect(client.circuit(server.url).state).toBe('closed');
    await failMany(client, 1);
    const open = client.circuit(server.url);
    expect(open.state).toBe('open');
    expect(open.nextProbeAt).toBeGreaterThan(Date.now());

    const connections = server.connections();
    const requests = server.requests.length;
    const started = performance.now();
    const error = await client.request({ path: '/x' }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(100); // a wait would be >= 150 ms
    expect(isCircuitOpenError(error)).toBe(true);
    if (!isCircuitOpenError(error)) return;
    expect(error.code).toBe('UNFAZED_ERR_CIRCUIT_OPEN');
    expect(error.key).toBe(new URL(server.url).origin);
    expect(error.nextProbeAt).toBe(open.nextProbeAt);
    expect(error.message).toMatch(/next probe allowed in \d+ ms/);
    // Another path of the same origin is refused too, still without touching the server.
    await client.request({ url: `${server.url}/other` }).catch(() => undefined);
    expect(server.connections()).toBe(connections);
    expect(server.requests.length).toBe(requests);

    mode = 'ok';
    await sleep((open.nextProbeAt ?? 0) - Date.now() + 5);
    expect(client.circuit(server.url).state).toBe('half-open');
    const probe = await client.request({ path: '/x' });
    expect(probe.status).toBe(200);
    await probe.dump();
    expect(client.circuit(server.url)).toEqual({ state: 'closed' });
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('opens at the failure ratio only once minimumCalls calls were seen', async () => {
    const { server, client } = await setup({ breaker: { ...BREAKER, minimumCalls: 6 } });
    mode = 'ok';
    for (let i = 0; i < 4; i++) await (await client.request({ path: '/ok' })).dump();
    mode = 'fail';
    await failMany(client, 2);
    expect(client.circuit(server.url).state).toBe('closed'); // 2 of 6
    await failMany(client, 1);
    expect(client.circuit(server.url).state).toBe('closed'); // 3 of 7 < 50 %
    await failMany(client, 1);
    expect(client.circuit(server.url).state).toBe('open'); // 4 of 8 = 50 %
  });

  it('rejects callers beyond the half-open probes at once', async () => {
    const { server, client } = await setup({ breaker: { ...BREAKER, halfOpenProbes: 2 } });
    await failMany(client, 4);
    const open = client.circuit(server.url);
    await sleep((open.nextProbeAt ?? 0) - Date.now() + 5);
    mode = 'slow';
    const probe = client.request({ path: '/probe' });
    const follower = client.request({ path: '/follower' });
    const started = performance.now();
    const rejected = await client.request({ path: '/third' }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(100); // a wait would be >= 150 ms
    expect(isCircuitOpenError(rejected)).toBe(true);
    if (isCircuitOpenError(rejected)) expect(rejected.circuitState).toBe('half-open');
    // The follower waited for the probe's verdict, then ran: both succeed.
    expect((await probe).status).toBe(200);
    expect((await follower).status).toBe(200);
    expect(server.requests.map((r) => r.url).filter((u) => u !== '/x')).toEqual([
      '/probe',
      '/follower',
    ]);
  });

  it('refuses a waiting follower, unsent, when the probe fails', async () => {
    const { server, client } = await setup({ breaker: { ...BREAKER, halfOpenProbes: 2 } });
    await failMany(client, 4);
    const open = client.circuit(server.url);
    await sleep((open.nextProbeAt ?? 0) - Date.now() + 5);
    const before = server.requests.length;
    const probe = client.request({ path: '/probe', retry: { maxRetries: 0 } });
    const follower = client.request({ path: '/follower', retry: { maxRetries: 0 } });
    await expect(probe).rejects.toMatchObject({ code: 'UNFAZED_ERR_RETRIES_EXHAUSTED' });
    const error = await follower.catch((e: unknown) => e);
    expect(isCircuitOpenError(error)).toBe(true);
    expect(server.requests.slice(before).map((r) => r.url)).toEqual(['/probe']);
    expect(client.circuit(server.url).state).toBe('open');
  });

  it('stays open longer after a failed probe, up to maxOpenMs', async () => {
    const { server, client } = await setup();
    await failMany(client, 4);
    const first = client.circuit(server.url);
    const firstOpenFor = (first.nextProbeAt ?? 0) - Date.now();
    expect(firstOpenFor).toBeGreaterThan(100);
    expect(firstOpenFor).toBeLessThanOrEqual(200);
    await sleep(firstOpenFor + 5);
    await failMany(client, 1); // the probe fails
    const second = client.circuit(server.url);
    expect(second.state).toBe('open');
    const secondOpenFor = (second.nextProbeAt ?? 0) - Date.now();
    expect(secondOpenFor).toBeGreaterThan(250); // without growth it would be <= 200
    expect(secondOpenFor).toBeLessThanOrEqual(400);
  });

  it('keeps one breaker per origin by default, or per key function', async () => {
    const { server, client } = await setup({
      breaker: { ...BREAKER, key: (url) => `${url.origin}${url.pathname}` },
    });
    await failMany(client, 4, '/a');
    expect(client.circuit(`${server.url}/a`).state).toBe('open');
    expect(client.circuit(`${server.url}/b`).state).toBe('closed');
    expect(client.circuit('/a').state).toBe('open');
    expect(client.circuit('not a url')).toEqual({ state: 'closed' });
    mode = 'ok';
    const other = await client.request({ path: '/b' });
    expect(other.status).toBe(200);
  });

  it('waits for the probe slot instead of retrying into an open circuit', async () => {
    const { server, client } = await setup({
      retry: { maxRetries: 2, backoff: { initialMs: 1, maxMs: 2 } },
    });
    failFirst = 4;
    await failMany(client, 3);
    const retries: { delayMs: number; delayReason: string }[] = [];
    client.on('retry', (e) => retries.push(e));
    // Attempt 1 is the 4th failure: it opens the circuit for 200 ms; the retry waits for the
    // probe slot (a 1 ms backoff would only meet the open circuit) and becomes the probe.
    const res = await client.request({ path: '/y', retry: { maxRetries: 2 } });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.delayReason).toBe('circuit-open');
    expect(retries[0]?.delayMs).toBeGreaterThan(150);
    expect(server.requests).toHaveLength(5);
  });

  it('counts the failures of calls in flight when the circuit opened, without moving the break', async () => {
    server = await startServer((req, res) => {
      if (req.url === '/slow') return void setTimeout(() => send(res, 503, { error: 'down' }), 250);
      send(res, 503, { error: 'down' });
    });
    client = createClient({
      baseUrl: server.url,
      timeout: { attempt: 500, total: 2000 },
      retry: { maxRetries: 0 },
      breaker: { ...BREAKER, openMs: 1000 },
    });
    const c = client;
    const changes: string[] = [];
    c.on('circuit', (e) => changes.push(`${e.from}->${e.to}`));
    // Both start while the circuit is closed, and end after four quick failures opened it.
    const slow = [c.request({ path: '/slow' }), c.request({ path: '/slow' })].map((p) =>
      p.catch((e: unknown) => e),
    );
    await failMany(c, 4);
    const open = c.circuit(server.url);
    expect(open.state).toBe('open');
    // Their answers are theirs (a 503 with no retry left), not the open circuit's.
    for (const error of await Promise.all(slow)) {
      expect(error).toMatchObject({ code: 'UNFAZED_ERR_RETRIES_EXHAUSTED' });
    }
    expect(c.circuit(server.url)).toEqual(open);
    expect(changes).toEqual(['closed->open']);
  });

  it('a call that started closed and fails while a probe is out opens the circuit again', async () => {
    server = await startServer((req, res) => {
      if (req.url === '/slow')
        return void setTimeout(() => send(res, 503, { error: 'down' }), 1000);
      if (req.url === '/probe') return void setTimeout(() => send(res, 200, { ok: true }), 1500);
      send(res, 503, { error: 'down' });
    });
    client = createClient({
      baseUrl: server.url,
      timeout: { attempt: 3000, total: 5000 },
      retry: { maxRetries: 0 },
      breaker: { ...BREAKER, windowMs: 6000, openMs: 150 },
    });
    const c = client;
    const changes: string[] = [];
    c.on('circuit', (e) => changes.push(`${e.from}->${e.to}`));
    // Starts while the circuit is closed: it runs outside cockatiel's execute.
    const slow = c.request({ path: '/slow' }).catch((e: unknown) => e);
    await failMany(c, 4);
    expect(c.circuit(server.url).state).toBe('open');
    await sleep(250);
    const probe = c.request({ path: '/probe' }).catch((e: unknown) => e);
    expect(c.circuit(server.url).state).toBe('half-open');
    // Its failure lands while the probe is out: as execute would, it opens the circuit again.
    expect(await slow).toMatchObject({ code: 'UNFAZED_ERR_RETRIES_EXHAUSTED' });
    expect(c.circuit(server.url).state).toBe('open');
    expect(changes.slice(0, 3)).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
    await probe;
  });

  it('runs without a breaker when breaker is false', async () => {
    const { server, client } = await setup({ breaker: false });
    await failMany(client, 10);
    expect(client.circuit(server.url)).toEqual({ state: 'closed' });
    expect(server.requests).toHaveLength(10);
  });
});
