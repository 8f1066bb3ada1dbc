/**
 * The behavioural suite every store runs, for Express and Fastify alike: what a caller of a
 * protected route notices, over real loopback sockets.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { IdempotencyEvent, IdempotencyStore } from '@unfazed/server';
import {
  BIG_BODY_BYTES,
  STREAM_BODY,
  WIRINGS,
  startApp,
  type Framework,
  type TestApp,
  type AppOptions,
} from './apps.js';
import { rawRequest, sleep, type Answer } from './http.js';

/** A store backend: `open()` gives a store on its own connection; `sever()` cuts it, as a crash would. */
export interface StoreFixture {
  open(): { store: IdempotencyStore; sever(): void };
  close(): Promise<void>;
}

const LEASE_MS = 600;

/** Wraps a store so that `sever()` makes every later call hang, as for a process that is gone. */
export function severable(inner: IdempotencyStore): { store: IdempotencyStore; sever(): void } {
  let severed = false;
  const guard =
    <A, R>(fn: (a: A) => Promise<R>) =>
    (a: A): Promise<R> =>
      severed ? new Promise<R>(() => undefined) : fn(a);
  const store: IdempotencyStore = {
    claim: guard((i) => inner.claim(i)),
    complete: guard((i) => inner.complete(i)),
    release: guard((i) => inner.release(i)),
    renew: guard((i) => inner.renew(i)),
  };
  return { store, sever: () => (severed = true) };
}

/** A store that forgets to renew: its owner looks stalled (a long GC pause, a frozen process). */
function stalled(store: IdempotencyStore): IdempotencyStore {
  return {
    claim: (i) => store.claim(i),
    complete: (i) => store.complete(i),
    release: (i) => store.release(i),
    renew: () => Promise.resolve(true),
  };
}

function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  expect(answer.json()).toMatchObject({ status, code, type: `urn:unfazed:problem:${code}` });
}

/**
 * Runs the suite on a store in each of `wirings` (default: every wiring of {@link WIRINGS}:
 * Express with the middleware first and after a global `express.json()`, Fastify over sockets
 * and through `inject`).
 */
export function idempotencySuite(
  label: string,
  makeFixture: () => Promise<StoreFixture>,
  wirings: readonly Framework[] = WIRINGS,
): void {
  let fixture: StoreFixture;
  beforeAll(async () => {
    fixture = await makeFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });
  describe.each<Framework>([...wirings])(`${label} — %s`, (framework) => {
    const apps: TestApp[] = [];
    const start = async (options: Partial<AppOptions> = {}): Promise<TestApp> => {
      const app = await startApp(framework, {
        store: fixture.open().store,
        leaseMs: LEASE_MS,
        storeTimeoutMs: 500,
        maxResponseBytes: 16 * 1024,
        ...options,
      });
      apps.push(app);
      return app;
    };
    afterEach(async () => {
      await Promise.all(apps.splice(0).map((a) => a.close()));
    });

    it('runs a first request once and replays status, body bytes and allow-listed headers, never Set-Cookie', async () => {
      const app = await start();
      const key = randomUUID();
      const first = await app.post('/charges', { key });
      expect(first.status).toBe(201);
      expect(first.headers.get('set-cookie')).not.toBeNull();
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const again = await app.post('/charges', { key });
      expect(again.status).toBe(201);
      expect(again.body.equals(first.body)).toBe(true);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      for (const h of ['content-type', 'location', 'etag']) {
        expect(again.headers.get(h)).toBe(first.headers.get(h));
      }
      expect(again.headers.get('set-cookie')).toBeNull();
      expect(again.headers.get('x-request-id')).toBeNull();
      expect(app.calls.get('/charges')).toBe(1);
    });

    it('runs the handler exactly once for 200 concurrent identical requests; 409s turn into the stored response', async () => {
      // A generous store bound: this test is about concurrency, not about a slow store.
      const app = await start({ storeTimeoutMs: 5_000, leaseMs: 5_000 });
      const key = randomUUID();
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => app.post('/charges?delay=150', { key })),
      );
      expect(app.calls.get('/charges')).toBe(1);
      const ok = answers.filter((a) => a.status === 201);
      const busy = answers.filter((a) => a.status === 409);
      expect(answers.map((a) => a.status).filter((s) => s !== 201 && s !== 409)).toEqual([]);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      const stored = ok[0]?.body ?? Buffer.alloc(0);
      for (const a of ok) expect(a.body.equals(stored)).toBe(true);
      for (const a of busy) {
        expectProblem(a, 409, 'request-in-flight');
        expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      const retried = await Promise.all(
        busy.slice(0, 20).map(() => app.post('/charges?delay=150', { key })),
      );
      for (const a of retried) {
        expect(a.status).toBe(201);
        expect(a.body.equals(stored)).toBe(true);
      }
      expect(app.calls.get('/charges')).toBe(1);
    });

    it('answers 422 for the same key with another body, also while the first still runs', async () => {
      const app = await start();
      const key = randomUUID();
      const running = app.post('/hold', { key, body: '{"amount":1}' });
      await app.held(1);
      const whileRunning = await app.post('/hold', { key, body: '{"amount":2}' });
      expectProblem(whileRunning, 422, 'idempotency-key-reused');
      const sameWhileRunning = await app.post('/hold', { key, body: '{"amount":1}' });
      expectProblem(sameWhileRunning, 409, 'request-in-flight');
      const leaseLeft = Number(sameWhileRunning.headers.get('retry-after'));
      expect(leaseLeft).toBeGreaterThanOrEqual(1);
      expect(leaseLeft).toBeLessThanOrEqual(Math.ceil(LEASE_MS / 1000));
      app.releaseHeld();
      expect((await running).status).toBe(201);
      const afterwards = await app.post('/hold', { key, body: '{"amount":2}' });
      expectProblem(afterwards, 422, 'idempotency-key-reused');
      const otherRoute = await app.post('/charges', { key, body: '{"amount":1}' });
      expectProblem(otherRoute, 422, 'idempotency-key-reused');
      expect(app.calls.get('/hold')).toBe(1);
    });

    it('runs the same key separately for another user, and never replays one user’s response to another', async () => {
      const app = await start();
      const key = randomUUID();
      const alice = await app.post('/charges', { key, user: 'alice' });
      const bob = await app.post('/charges', { key, user: 'bob' });
      expect(alice.status).toBe(201);
      expect(bob.status).toBe(201);
      expect(bob.body.equals(alice.body)).toBe(false);
      expect(app.calls.get('/charges')).toBe(2);
      const aliceAgain = await app.post('/charges', { key, user: 'alice' });
      expect(aliceAgain.body.equals(alice.body)).toBe(true);
    });

    it('after a crash mid-handler answers 409 until the lease expires, then runs the handler once', async () => {
      const events: IdempotencyEvent[] = [];
      const { store, sever } = fixture.open();
      const crashed = await start({ store });
      const key = randomUUID();
      void crashed.post('/hold', { key }).catch(() => undefined);
      await crashed.held(1);
      sever(); // the process's store connection is gone: it can neither renew, complete nor release
      const survivor = await start({ on: { claimed: (e) => events.push(e) } });
      const during = await survivor.post('/hold', { key });
      expectProblem(during, 409, 'request-in-flight');
      await sleep(LEASE_MS + 100);
      const after = survivor.post('/hold', { key });
      await survivor.held(1);
      survivor.releaseHeld();
      expect((await after).status).toBe(201);
      expect(survivor.calls.get('/hold')).toBe(1);
      expect(events).toEqual([expect.objectContaining({ type: 'claimed', recovered: true })]);
      const replay = await survivor.post('/hold', { key });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(survivor.calls.get('/hold')).toBe(1);
    });

    it('renews the lease while the handler runs longer than the lease', async () => {
      const app = await start();
      const key = randomUUID();
      const running = app.post('/hold', { key });
      await app.held(1);
      await sleep(LEASE_MS * 2);
      expectProblem(await app.post('/hold', { key }), 409, 'request-in-flight');
      app.releaseHeld();
      expect((await running).status).toBe(201);
      expect(app.calls.get('/hold')).toBe(1);
    });

    it('does not let a stalled first owner whose lease expired overwrite the second owner’s record', async () => {
      const expired: IdempotencyEvent[] = [];
      const slow = await start({
        store: stalled(fixture.open().store),
        on: { leaseExpired: (e) => expired.push(e) },
      });
      const fast = await start();
      const key = randomUUID();
      const first = slow.post('/hold', { key });
      await slow.held(1);
      await sleep(LEASE_MS + 100);
      const second = fast.post('/hold', { key });
      await fast.held(1);
      fast.releaseHeld();
      const secondAnswer = await second;
      expect(secondAnswer.status).toBe(201);
      slow.releaseHeld();
      expect((await first).status).toBe(201);
      await sleep(50);
      expect(expired).toEqual([
        expect.objectContaining({ type: 'leaseExpired', operation: 'complete' }),
      ]);
      const replay = await fast.post('/hold', { key });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body.equals(secondAnswer.body)).toBe(true);
    });

    it('keeps the outcome when the client disconnects while the handler runs', async () => {
      const app = await start({ leaseMs: 3_000 });
      const key = randomUUID();
      const abort = new AbortController();
      const gone = fetch(`${app.url}/hold`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
        body: '{"amount":7}',
        signal: abort.signal,
      }).catch((e: unknown) => e);
      await app.held(1);
      abort.abort();
      await gone;
      await sleep(50);
      expectProblem(
        await app.post('/hold', { key, body: '{"amount":7}' }),
        409,
        'request-in-flight',
      );
      app.releaseHeld();
      await sleep(100);
      const replay = await app.post('/hold', { key, body: '{"amount":7}' });
      expect([replay.status, replay.body.toString()]).toEqual([201, '{"held":true,"amount":7}']);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.json()).toEqual({ held: true, amount: 7 });
      expect(app.calls.get('/hold')).toBe(1);
    });

    it('replays a streamed response byte-identical', async () => {
      const app = await start({ maxResponseBytes: 64 * 1024 });
      const key = randomUUID();
      const first = await app.post('/stream', { key });
      expect(first.body.equals(STREAM_BODY)).toBe(true);
      const again = await app.post('/stream', { key });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.equals(STREAM_BODY)).toBe(true);
      expect(again.headers.get('content-type')).toBe('application/octet-stream');
      expect(app.calls.get('/stream')).toBe(1);
    });

    it('sends an oversized response in full once, then replays it as response-not-retained without running again', async () => {
      const app = await start({ maxResponseBytes: 16 * 1024 });
      const key = randomUUID();
      const first = await app.post('/big', { key });
      expect(first.status).toBe(200);
      expect(first.body.length).toBe(BIG_BODY_BYTES);
      const again = await app.post('/big', { key });
      expectProblem(again, 409, 'response-not-retained');
      expect(again.json()).toMatchObject({ originalStatus: 200 });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(app.calls.get('/big')).toBe(1);
    });

    it('stores a 4xx outcome but releases the key on 5xx so that a retry runs again', async () => {
      const app = await start();
      const key = randomUUID();
      expect((await app.post('/boom', { key })).status).toBe(503);
      const retry = await app.post('/boom', { key });
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
      expect(app.calls.get('/boom')).toBe(2);
      const key2 = randomUUID();
      expect((await app.post('/invalid', { key: key2 })).status).toBe(400);
      const replay = await app.post('/invalid', { key: key2 });
      expect(replay.status).toBe(400);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(app.calls.get('/invalid')).toBe(1);
    });

    it('answers 413 problem+json for a body over maxBodyBytes without running the handler', async () => {
      const app = await start({ maxBodyBytes: 1024 });
      const big = JSON.stringify({ amount: 1, pad: 'p'.repeat(4096) });
      const answer = await app.post('/charges', { key: randomUUID(), body: big });
      expectProblem(answer, 413, 'payload-too-large');
      expect(app.calls.get('/charges')).toBeUndefined();
    });

    it('answers 400 problem+json for a missing key, and ignores methods it does not cover', async () => {
      const app = await start();
      const missing = await app.post('/charges', {});
      expectProblem(missing, 400, 'idempotency-key-missing');
      const get = await fetch(`${app.url}/charges`, { headers: { 'idempotency-key': '' } });
      expect(get.status).toBe(200);
      expect(app.calls.get('/charges')).toBeUndefined();
    });

    it.each([
      ['empty', 'idempotency-key: '],
      ['256 characters', `idempotency-key: "${'k'.repeat(256)}"`],
      ['a control character', 'idempotency-key: "ab\tcd"'],
      ['a byte above ASCII', 'idempotency-key: "ab\u00e9cd"'],
      ['two header lines', 'idempotency-key: "one"\r\nidempotency-key: "two"'],
      ['an unterminated quote', 'idempotency-key: "abc'],
      ['two values in one line', 'idempotency-key: "a", "b"'],
    ])('answers 400 problem+json for a malformed key: %s', async (_name, line) => {
      const app = await start();
      const answer = await rawRequest(
        app.url,
        `POST /charges HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${line}`,
        '{"amount":1}',
      );
      expect(answer.status).toBe(400);
      expect(answer.head.toLowerCase()).toContain('content-type: application/problem+json');
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'idempotency-key-malformed' });
      expect(app.calls.get('/charges')).toBeUndefined();
    });
  });
}
