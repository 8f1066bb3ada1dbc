import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, MockAgent, fetch, interceptors, request } from 'undici';
import { faultInterceptor, faults, injectedFaultOf, plans, type FaultPlan } from '@unfazed/testing';
import { abortWhen, observe } from './observe.js';

// A plain node:http server that records what its handler ran.
let server: Server;
let base: string;
const handled: string[] = [];
const BODY = 'the answer from the real server';

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      handled.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end(BODY);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const agents: Agent[] = [];
afterEach(async () => {
  handled.length = 0;
  await Promise.all(agents.splice(0).map((a) => a.destroy()));
});

function chaos(plan: FaultPlan) {
  const interceptor = faultInterceptor({ routes: { 'POST /charges': plan } });
  const agent = new Agent({ keepAliveTimeout: 10 });
  agents.push(agent);
  return { interceptor, dispatcher: agent.compose(interceptor) };
}

const post = (dispatcher: ReturnType<typeof chaos>['dispatcher'], timeoutMs?: number) =>
  observe(`${base}/charges`, {
    method: 'POST',
    body: 'a',
    dispatcher,
    ...(timeoutMs ? { timeoutMs } : {}),
  });

describe('faultInterceptor in front of a real server: caller view vs. server view', () => {
  it('passes calls untouched', async () => {
    const { interceptor, dispatcher } = chaos(plans.none());
    expect(await post(dispatcher)).toMatchObject({ kind: 'answer', status: 201, body: BODY });
    expect(handled).toEqual(['POST /charges a']);
    expect(interceptor.calls[0]).toMatchObject({ forwarded: true, fault: undefined, attempt: 1 });
  });

  it('status (beforeSend): 503 with Retry-After, the server never saw it', async () => {
    const { interceptor, dispatcher } = chaos(
      plans.times(2, faults.status(503, { retryAfterMs: 1000 })),
    );
    expect(await post(dispatcher)).toMatchObject({
      status: 503,
      headers: { 'retry-after': '1' },
      body: 'Service Unavailable',
    });
    expect(await post(dispatcher)).toMatchObject({ status: 503 });
    expect(await post(dispatcher)).toMatchObject({ status: 201 });
    expect(handled).toHaveLength(1);
    expect(interceptor.calls.map((c) => [c.attempt, c.label, c.forwarded])).toEqual([
      [1, 'beforeSend', false],
      [2, 'beforeSend', false],
      [3, undefined, true],
    ]);
    interceptor.assertAllFaultsFired();
  });

  it('status (afterSend): the server handled it, the caller got the 504', async () => {
    const { dispatcher } = chaos(
      plans.times(1, faults.status(504, { label: 'afterSend', body: { late: true } })),
    );
    expect(await post(dispatcher)).toMatchObject({ status: 504, body: '{"late":true}' });
    expect(handled).toHaveLength(1);
  });

  it('reset (beforeSend): UND_ERR_SOCKET, the server never saw it', async () => {
    const { dispatcher } = chaos(plans.times(1, faults.reset()));
    expect(await post(dispatcher)).toMatchObject({ kind: 'error', code: 'UND_ERR_SOCKET' });
    expect(handled).toEqual([]);
  });

  it('lostResponse (afterSend): UND_ERR_SOCKET, the server handled it; the error names the fault', async () => {
    const { dispatcher } = chaos(plans.times(1, faults.lostResponse()));
    const error = await request(`${base}/charges`, { method: 'POST', body: 'a', dispatcher }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(injectedFaultOf(error)).toEqual(faults.lostResponse());
    expect(injectedFaultOf(new Error('real'))).toBeUndefined();
    expect(handled).toEqual(['POST /charges a']);
  });

  it('closeMidBody (midBody): status arrives, the body read fails, the server handled it', async () => {
    const { dispatcher } = chaos(plans.times(1, faults.closeMidBody({ afterBytes: 4 })));
    const res = await request(`${base}/charges`, { method: 'POST', body: 'a', dispatcher });
    expect(res.statusCode).toBe(201);
    const chunks: string[] = [];
    const error = await (async () => {
      for await (const chunk of res.body) chunks.push(String(chunk));
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(chunks.join('')).toBe(BODY.slice(0, 4));
    expect(handled).toHaveLength(1);
  });

  it('slowBody (midBody): the full body, in pieces over time; the server handled it', async () => {
    const { dispatcher } = chaos(
      plans.times(1, faults.slowBody({ chunkSize: 10, intervalMs: 25 })),
    );
    const started = Date.now();
    expect(await post(dispatcher)).toMatchObject({ status: 201, body: BODY });
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
    expect(handled).toHaveLength(1);
  });

  it('delay (afterSend): a caller that times out lost a handled answer', async () => {
    const { dispatcher } = chaos(plans.times(1, faults.delay(2000)));
    const seen = await abortWhen(`${base}/charges`, () => handled.length === 1, {
      method: 'POST',
      body: 'a',
      dispatcher,
    });
    expect(seen).toMatchObject({ kind: 'error', code: 'AbortError' });
    expect(handled).toHaveLength(1);
  });

  it('delay (beforeSend): a caller that times out never reached the server', async () => {
    const { dispatcher } = chaos(plans.times(1, faults.delay(300, { label: 'beforeSend' })));
    expect(await post(dispatcher, 80)).toMatchObject({ kind: 'error', code: 'TimeoutError' });
    await new Promise((r) => setTimeout(r, 300));
    expect(handled).toEqual([]);
  });

  it('hang (beforeSend / afterSend): only the caller gives up; the server saw it only afterSend', async () => {
    const before = chaos(plans.times(1, faults.hang()));
    expect(await post(before.dispatcher, 80)).toMatchObject({
      kind: 'error',
      code: 'TimeoutError',
    });
    expect(handled).toEqual([]);
    const after = chaos(plans.times(1, faults.hang({ label: 'afterSend' })));
    const seen = await abortWhen(`${base}/charges`, () => handled.length === 1, {
      method: 'POST',
      body: 'a',
      dispatcher: after.dispatcher,
    });
    expect(seen).toMatchObject({ kind: 'error', code: 'AbortError' });
    expect(handled).toHaveLength(1);
  });

  it('routes by method and path; other requests pass', async () => {
    const { interceptor, dispatcher } = chaos(plans.always(faults.status(500)));
    expect(await observe(`${base}/other`, { method: 'POST', dispatcher })).toMatchObject({
      status: 201,
    });
    expect(await observe(`${base}/charges?x=1`, { method: 'GET', dispatcher })).toMatchObject({
      status: 201,
    });
    expect(await post(dispatcher)).toMatchObject({ status: 500 });
    expect(interceptor.calls.map((c) => c.route)).toEqual([undefined, undefined, 'POST /charges']);
  });
});

describe('faultInterceptor with undici APIs other than request()', () => {
  it("composes under undici's retry interceptor: each retry is a new attempt", async () => {
    const chaos = faultInterceptor({
      routes: { 'GET /items': plans.sequence([faults.status(503), faults.reset()]) },
    });
    const agent = new Agent({ keepAliveTimeout: 10 });
    agents.push(agent);
    const dispatcher = agent.compose(
      chaos,
      interceptors.retry({ maxRetries: 3, minTimeout: 1, timeoutFactor: 1, statusCodes: [503] }),
    );
    const res = await request(`${base}/items`, { dispatcher });
    expect(res.statusCode).toBe(201);
    expect(await res.body.text()).toBe(BODY);
    expect(chaos.calls.map((c) => [c.attempt, c.fault?.kind ?? 'pass', c.forwarded])).toEqual([
      [1, 'status', false],
      [2, 'reset', false],
      [3, 'pass', true],
    ]);
    expect(handled).toHaveLength(1);
  });

  it('works with fetch(): statuses are responses, resets are "fetch failed" with the socket error as cause', async () => {
    const chaos = faultInterceptor({
      plan: plans.sequence([faults.status(429, { retryAfterMs: 1000 }), faults.reset()]),
    });
    const agent = new Agent({ keepAliveTimeout: 10 });
    agents.push(agent);
    const dispatcher = agent.compose(chaos);
    const first = await fetch(`${base}/x`, { dispatcher });
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('1');
    await first.text();
    const second = await fetch(`${base}/x`, { dispatcher }).catch((e: unknown) => e);
    expect(second).toMatchObject({ message: 'fetch failed', cause: { code: 'UND_ERR_SOCKET' } });
    const third = await fetch(`${base}/x`, { dispatcher });
    expect(await third.text()).toBe(BODY);
    expect(handled).toHaveLength(1);
  });
});

describe('faultInterceptor with no server (MockAgent)', () => {
  function mocked(plan: FaultPlan) {
    const mock = new MockAgent();
    mock.disableNetConnect();
    const replies: string[] = [];
    mock
      .get('http://svc.test')
      .intercept({ path: '/charges', method: 'POST' })
      .reply(200, (opts) => {
        replies.push(String(opts.body));
        return { ok: true };
      })
      .persist();
    const logged: string[] = [];
    const interceptor = faultInterceptor({ plan, onFault: (e) => logged.push(e.fault.kind) });
    return { mock, replies, interceptor, logged, dispatcher: mock.compose(interceptor) };
  }

  it('injects beforeSend faults without touching the mock, afterSend ones after it answered', async () => {
    const { mock, replies, interceptor, logged, dispatcher } = mocked(
      plans.sequence([
        faults.status(429, { headers: { 'Retry-After': '3' } }),
        faults.reset(),
        faults.lostResponse(),
      ]),
    );
    const url = 'http://svc.test/charges';
    expect(await observe(url, { method: 'POST', body: 'x', dispatcher })).toMatchObject({
      status: 429,
      headers: { 'retry-after': '3' },
    });
    expect(await observe(url, { method: 'POST', body: 'x', dispatcher })).toMatchObject({
      code: 'UND_ERR_SOCKET',
    });
    expect(replies).toEqual([]);
    expect(await observe(url, { method: 'POST', body: 'x', dispatcher })).toMatchObject({
      code: 'UND_ERR_SOCKET',
    });
    expect(replies).toEqual(['x']);
    expect(await observe(url, { method: 'POST', body: 'x', dispatcher })).toMatchObject({
      status: 200,
    });
    expect(interceptor.events.map((e) => `${e.attempt}:${e.fault.kind}:${e.label}`)).toEqual([
      '1:status:beforeSend',
      '2:reset:beforeSend',
      '3:lostResponse:afterSend',
    ]);
    expect(logged).toEqual(['status', 'reset', 'lostResponse']);
    await mock.close();
  });

  it('works with jest fake timers: a beforeSend delay waits for the clock', async () => {
    // undici's streams need real nextTick/setImmediate/queueMicrotask: fake only the clock.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const { mock, replies, dispatcher } = mocked(
        plans.times(1, faults.delay(5000, { label: 'beforeSend' })),
      );
      let settled = false;
      const pending = request('http://svc.test/charges', {
        method: 'POST',
        body: 'x',
        dispatcher,
      }).then((r) => {
        settled = true;
        return r.body.json();
      });
      await jest.advanceTimersByTimeAsync(4999);
      expect(settled).toBe(false);
      expect(replies).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(await pending).toEqual({ ok: true });
      expect(replies).toEqual(['x']);
      await mock.close();
    } finally {
      jest.useRealTimers();
    }
  }, 5000);

  it('an aborted hang ends with the abort reason', async () => {
    const { mock, dispatcher } = mocked(plans.always(faults.hang()));
    const controller = new AbortController();
    const pending = request('http://svc.test/charges', {
      method: 'POST',
      dispatcher,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    controller.abort(new Error('gave up'));
    expect(await pending).toMatchObject({ message: 'gave up' });
    await mock.close();
  });

  it("the dispatcher's headersTimeout, given to the interceptor, ends a hang", async () => {
    const interceptor = faultInterceptor({
      routes: { 'POST /charges': plans.always(faults.hang()) },
      headersTimeout: 50,
    });
    const agent = new Agent({ headersTimeout: 50 });
    agents.push(agent);
    const hang = await request(`${base}/charges`, {
      method: 'POST',
      dispatcher: agent.compose(interceptor),
    }).catch((e: unknown) => e);
    expect(hang).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(handled).toEqual([]);
  });

  it('per-request headersTimeout / bodyTimeout still fire, as against a real server', async () => {
    const { mock, dispatcher } = mocked(
      plans.sequence([
        faults.hang(),
        faults.delay(1000),
        faults.slowBody({ chunkSize: 2, intervalMs: 1000 }),
      ]),
    );
    const url = 'http://svc.test/charges';
    const hang = await request(url, { method: 'POST', dispatcher, headersTimeout: 50 }).catch(
      (e: unknown) => e,
    );
    expect(hang).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(injectedFaultOf(hang)?.kind).toBe('hang');
    const delayed = await request(url, { method: 'POST', dispatcher, headersTimeout: 50 }).catch(
      (e: unknown) => e,
    );
    expect(delayed).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    const slow = await request(url, { method: 'POST', dispatcher, bodyTimeout: 50 });
    expect(slow.statusCode).toBe(200);
    expect(await slow.body.text().catch((e: unknown) => e)).toMatchObject({
      code: 'UND_ERR_BODY_TIMEOUT',
    });
    await mock.close();
  });

  it('a rate plan is reproducible from its seed', async () => {
    const run = async (seed: number) => {
      const { mock, dispatcher } = mocked(
        plans.rate(0.5, [faults.status(503), faults.reset()], { seed }),
      );
      const seen: string[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await observe('http://svc.test/charges', { method: 'POST', dispatcher });
        seen.push(r.kind === 'answer' ? String(r.status) : r.code);
      }
      await mock.close();
      return seen;
    };
    const a = await run(2024);
    expect(await run(2024)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(1);
  });

  it('rejects bad options', () => {
    expect(() => faultInterceptor({ routes: { nope: plans.none() } })).toThrow(/routes\["nope"\]/);
    expect(() => faultInterceptor({ key: 'x' as never })).toThrow(/Invalid option "key"/);
  });
});
