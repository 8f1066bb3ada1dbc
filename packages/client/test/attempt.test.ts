import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { problem, PROBLEM_CONTENT_TYPE } from '@unfazed/contract';
import { createClient, type Client } from '@unfazed/client';
import { startDownstream, type Downstream } from './durable-downstream.js';

describe('client.attempt(): one attempt, one classified value', () => {
  let downstream: Downstream;
  let client: Client;
  beforeAll(async () => {
    downstream = await startDownstream((req) => {
      if (req.path === '/ok') return { status: 201, body: { id: 1 } };
      if (req.path === '/busy') return { status: 503, headers: { 'retry-after': '2' } };
      if (req.path === '/slow') return { status: 200, delay: 1_000 };
      if (req.path === '/in-flight') {
        return {
          status: 409,
          headers: { 'content-type': PROBLEM_CONTENT_TYPE },
          body: problem('request-in-flight'),
        };
      }
      return { status: 404 };
    });
    client = createClient({ baseUrl: downstream.url, breaker: false, retry: { maxRetries: 3 } });
  });
  afterAll(async () => {
    await client.close();
    await downstream.close();
  });

  it('answers a response with its body and the contract classification, never retrying', async () => {
    const ok = await client.attempt({ method: 'POST', path: '/ok', idempotencyKey: 'k-ok' });
    expect(ok).toMatchObject({ kind: 'response', status: 201, body: '{"id":1}' });
    if (ok.kind === 'response') expect(ok.classification.kind).toBe('success');
    const busy = await client.attempt({ method: 'POST', path: '/busy', idempotencyKey: 'k-busy' });
    expect(busy).toMatchObject({ kind: 'response', status: 503 });
    if (busy.kind === 'response') {
      expect(busy.classification).toMatchObject({ kind: 'transient', retryable: true });
      expect(busy.headers['retry-after']).toBe('2');
    }
    // The client's maxRetries: 3 does not apply: one attempt only.
    expect(downstream.requests.filter((r) => r.path === '/busy')).toHaveLength(1);
  });

  it("reads the problem code: the server's in-flight 409 is in-flight, a bare 404 permanent", async () => {
    const inFlight = await client.attempt({
      method: 'POST',
      path: '/in-flight',
      idempotencyKey: 'k',
    });
    expect(inFlight.kind === 'response' && inFlight.classification.kind).toBe('in-flight');
    const missing = await client.attempt({ method: 'GET', path: '/missing' });
    expect(missing.kind === 'response' && missing.classification.kind).toBe('permanent');
  });

  it('a timeout is a transient error; an aborted signal is aborted; a bad request is permanent', async () => {
    const slow = await client.attempt({ method: 'GET', path: '/slow' }, { timeout: 100 });
    expect(slow).toMatchObject({
      kind: 'error',
      timedOut: true,
      classification: { kind: 'transient', requestSent: 'maybe' },
    });
    const controller = new AbortController();
    const pending = client.attempt({ method: 'GET', path: '/slow' }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toEqual({ kind: 'aborted' });
    const bad = await client.attempt({ method: 'GET' });
    expect(bad).toMatchObject({
      kind: 'error',
      timedOut: false,
      classification: { kind: 'permanent' },
    });
  });

  it('a timeout no timer can wait is refused as a permanent error naming it, nothing sent', async () => {
    const before = downstream.requests.length;
    for (const timeout of [Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      const refused = await client.attempt({ method: 'POST', path: '/ok' }, { timeout });
      expect(refused).toMatchObject({ kind: 'error', classification: { kind: 'permanent' } });
      if (refused.kind === 'error') expect(refused.message).toMatch(/timeout\.total/);
    }
    expect(downstream.requests.length).toBe(before);
    // A fraction of a millisecond or less is a valid (tiny) bound, not a refusal.
    const tiny = await client.attempt({ method: 'GET', path: '/slow' }, { timeout: 0.5 });
    expect(tiny).toMatchObject({ kind: 'error', timedOut: true });
  });

  it('an open circuit answers circuit-open without sending anything', async () => {
    const refusing = createClient({
      baseUrl: downstream.url,
      retry: { maxRetries: 0 },
      breaker: { minimumCalls: 2, failureRatio: 0.5, openMs: 60_000 },
    });
    try {
      await refusing.attempt({ method: 'POST', path: '/busy', idempotencyKey: 'a' });
      await refusing.attempt({ method: 'POST', path: '/busy', idempotencyKey: 'b' });
      const before = downstream.requests.length;
      const refused = await refusing.attempt({ method: 'POST', path: '/ok', idempotencyKey: 'c' });
      expect(refused.kind).toBe('circuit-open');
      if (refused.kind === 'circuit-open') expect(refused.nextProbeAt).toBeGreaterThan(Date.now());
      expect(downstream.requests.length).toBe(before);
    } finally {
      await refusing.close();
    }
  });
});
