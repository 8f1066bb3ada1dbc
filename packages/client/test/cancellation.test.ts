import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  createClient,
  isAbortedError,
  isAttemptTimeoutError,
  isRetriesExhaustedError,
  isTotalTimeoutError,
  type Client,
  type ClientEvents,
} from '@unfazed/client';
import { send, startServer, type TestServer } from './support/server.js';

describe('deadlines and cancellation', () => {
  let server: TestServer;
  let client: Client;
  let fast: Client;
  let hangFirst = new Set<string>();

  beforeAll(async () => {
    server = await startServer((req, res) => {
      if (req.url.startsWith('/down')) return send(res, 503, { error: 'down' });
      if (req.url.startsWith('/hang')) return; // never answers
      if (hangFirst.has(req.url)) {
        hangFirst.delete(req.url);
        return;
      }
      send(res, 200, { ok: true });
    });
    // No breaker: these tests fail many calls on purpose.
    client = createClient({
      baseUrl: server.url,
      breaker: false,
      retry: { backoff: { initialMs: 5000, maxMs: 5000 } },
    });
    fast = createClient({
      baseUrl: server.url,
      breaker: false,
      retry: { backoff: { initialMs: 1, maxMs: 2 } },
    });
  });

  afterEach(() => {
    jest.restoreAllMocks();
    hangFirst = new Set();
  });

  afterAll(async () => {
    await client.close();
    await fast.close();
    await server.close();
  });

  it('an abort during a 5 s backoff wait settles within 50 ms', async () => {
    // The top of the jitter range: the first wait hits the 5 s cap.
    jest.spyOn(Math, 'random').mockReturnValue(0.99);
    const controller = new AbortController();
    let abortedAt = 0;
    const onRetry = (e: ClientEvents['retry']): void => {
      expect(e.delayMs).toBe(5000);
      setTimeout(() => {
        abortedAt = performance.now();
        controller.abort(new Error('user left'));
      }, 20);
    };
    const off = client.on('retry', onRetry);
    const error = await client
      .request({
        path: '/down/1',
        signal: controller.signal,
        retry: { maxRetries: 3 },
      })
      .catch((e: unknown) => e);
    const settledIn = performance.now() - abortedAt;
    off();
    expect(isAbortedError(error)).toBe(true);
    if (!isAbortedError(error)) return;
    expect(error.code).toBe('UNFAZED_ERR_ABORTED');
    expect((error.cause as Error).message).toBe('user left');
    expect(error.attempts).toHaveLength(1);
    expect(settledIn).toBeLessThan(50);
  });

  it('the deadline stops a long backoff at once instead of waiting for it', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const local = createClient({
      baseUrl: server.url,
      breaker: false,
      timeout: { total: 1000, attempt: 500 },
      retry: { backoff: { initialMs: 60_000, maxMs: 60_000 } },
    });
    const started = performance.now();
    const error = await local.request({ path: '/down/2' }).catch((e: unknown) => e);
    await local.close();
    expect(performance.now() - started).toBeLessThan(500);
    expect(isTotalTimeoutError(error)).toBe(true);
    if (!isTotalTimeoutError(error)) return;
    expect(error.reason).toBe('backoff-beyond-deadline');
    expect(error.attempts).toHaveLength(1);
  });

  it('the total deadline cancels a running attempt', async () => {
    const timeouts: ClientEvents['timeout'][] = [];
    const off = client.on('timeout', (e) => timeouts.push(e));
    const started = performance.now();
    const error = await client
      .request({ path: '/hang/1', timeout: { total: 150, attempt: 150 } })
      .catch((e: unknown) => e);
    off();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(isTotalTimeoutError(error)).toBe(true);
    if (!isTotalTimeoutError(error)) return;
    expect(error.reason).toBe('elapsed');
    expect(error.message).toMatch(/total deadline of 150 ms/);
    expect(timeouts.map((t) => t.kind)).toContain('total');
  });

  it('the caller signal cancels a running attempt', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const error = await client
      .request({ path: '/hang/2', signal: controller.signal })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(500);
    expect(isAbortedError(error)).toBe(true);
  });

  it('an already aborted signal sends nothing', async () => {
    const before = server.requests.length;
    const error = await client
      .request({ path: '/x', signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(isAbortedError(error)).toBe(true);
    expect(server.requests.length).toBe(before);
  });

  it('retries an attempt that timed out', async () => {
    hangFirst.add('/slow-once');
    const timeouts: ClientEvents['timeout'][] = [];
    const off = fast.on('timeout', (e) => timeouts.push(e));
    const res = await fast.request({
      path: '/slow-once',
      timeout: { attempt: 100 },
      retry: { maxRetries: 1 },
    });
    off();
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(2);
    expect(timeouts).toEqual([
      {
        method: 'GET',
        url: `${server.url}/slow-once`,
        kind: 'attempt',
        timeoutMs: 100,
        attempt: 1,
      },
    ]);
  });

  it('gives up with the attempt timeout as cause when every attempt hangs', async () => {
    const error = await fast
      .request({ path: '/hang/3', timeout: { attempt: 50 }, retry: { maxRetries: 1 } })
      .catch((e: unknown) => e);
    expect(isRetriesExhaustedError(error)).toBe(true);
    if (!isRetriesExhaustedError(error)) return;
    expect(isAttemptTimeoutError(error.cause)).toBe(true);
    expect(error.attempts.map((a) => a.error)).toEqual([
      'UNFAZED_ERR_ATTEMPT_TIMEOUT',
      'UNFAZED_ERR_ATTEMPT_TIMEOUT',
    ]);
  });

  it('rejects per-call timeouts that break the rules, naming them', async () => {
    await expect(
      client.request({ path: '/x', timeout: { total: 100, attempt: 200 } }),
    ).rejects.toThrow('Invalid option "timeout.attempt": must be at most timeout.total (100 ms)');
    await expect(client.request({ path: '/x', retry: { maxRetries: -1 } })).rejects.toThrow(
      /Invalid option "retry.maxRetries"/,
    );
  });
});
