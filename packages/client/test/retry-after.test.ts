import { afterEach, describe, expect, it } from '@jest/globals';
import {
  createClient,
  isCircuitOpenError,
  isRetriesExhaustedError,
  isRetryAfterBeyondDeadlineError,
  type Client,
  type ClientEvents,
} from '@unfazed/client';
import { send, startServer, type TestServer } from './support/server.js';

describe('Retry-After', () => {
  let server: TestServer | undefined;
  let client: Client | undefined;

  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
  });

  /** A server that answers `first` once per path, then 200. */
  async function answeringOnce(status: number, retryAfter: () => string): Promise<TestServer> {
    const seen = new Set<string>();
    return startServer((req, res) => {
      if (seen.has(req.url)) return send(res, 200, { ok: true });
      seen.add(req.url);
      send(res, status, { error: 'later' }, { 'retry-after': retryAfter() });
    });
  }

  it('waits the seconds it gives instead of the backoff', async () => {
    server = await answeringOnce(503, () => '1');
    client = createClient({ baseUrl: server.url, retry: { backoff: { initialMs: 1, maxMs: 2 } } });
    const retries: ClientEvents['retry'][] = [];
    client.on('retry', (e) => retries.push(e));
    const started = Date.now();
    const res = await client.request({ path: '/a' });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.delayReason).toBe('retry-after');
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(999);
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it('waits until the HTTP date it gives', async () => {
    server = await answeringOnce(429, () => new Date(Date.now() + 2000).toUTCString());
    client = createClient({
      baseUrl: server.url,
      retry: { backoff: { initialMs: 1, maxMs: 2 } },
      breaker: false,
    });
    const retries: ClientEvents['retry'][] = [];
    client.on('retry', (e) => retries.push(e));
    const started = Date.now();
    const res = await client.request({ path: '/b' });
    expect(res.status).toBe(200);
    expect(retries[0]?.delayReason).toBe('retry-after');
    // The date has whole seconds: between 1 and 2 s from now.
    expect(retries[0]?.delayMs).toBeGreaterThan(900);
    expect(retries[0]?.delayMs).toBeLessThanOrEqual(2000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(retries[0]?.delayMs ?? 0);
  });

  it('stops at once when it points past the deadline, carrying the hint', async () => {
    server = await startServer((_req, res) => send(res, 503, {}, { 'retry-after': '10' }));
    client = createClient({ baseUrl: server.url, timeout: { total: 2000, attempt: 1000 } });
    const started = Date.now();
    const error = await client.request({ path: '/c' }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(500);
    expect(isRetryAfterBeyondDeadlineError(error)).toBe(true);
    if (!isRetryAfterBeyondDeadlineError(error)) return;
    expect(error.code).toBe('UNFAZED_ERR_RETRY_AFTER_BEYOND_DEADLINE');
    expect(error.retryAfterMs).toBe(10_000);
    expect(error.status).toBe(503);
    expect(error.remainingMs).toBeLessThanOrEqual(2000);
    expect(error.attempts).toHaveLength(1);
    expect(error.attempts[0]?.retryAfterMs).toBe(10_000);
    expect(server.requests).toHaveLength(1);
  });

  it('opens the origin circuit on a 429 with Retry-After until that time', async () => {
    let limited = true;
    server = await startServer((_req, res) =>
      limited ? send(res, 429, {}, { 'retry-after': '1' }) : send(res, 200, { ok: true }),
    );
    client = createClient({ baseUrl: server.url, retry: { maxRetries: 0 } });
    const changes: string[] = [];
    client.on('circuit', (e) => changes.push(`${e.from}->${e.to}`));

    const first = await client.request({ path: '/d' }).catch((e: unknown) => e);
    expect(isRetriesExhaustedError(first)).toBe(true);
    const status = client.circuit(server.url);
    expect(status.state).toBe('open');
    expect(status.nextProbeAt).toBeGreaterThan(Date.now() + 600);
    expect(status.nextProbeAt).toBeLessThanOrEqual(Date.now() + 1000);

    const second = await client.request({ path: '/other' }).catch((e: unknown) => e);
    expect(isCircuitOpenError(second)).toBe(true);
    expect(server.requests).toHaveLength(1);

    limited = false;
    await new Promise((r) => setTimeout(r, (status.nextProbeAt ?? 0) - Date.now() + 10));
    const third = await client.request({ path: '/d' });
    expect(third.status).toBe(200);
    expect(client.circuit(server.url).state).toBe('closed');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });
});
