/**
 * OpenTelemetry of the durable queue: the trace context of the request that started an
 * operation is stored with it, and every later attempt, in other processes, is a span linked to
 * that request's span; compensations link to the step they undo; the queue gauges and the
 * redrive counter appear under their documented names. Real Redis, real loopback servers.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SpanKind, trace } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import { createDurable, memoryDurableStore, redisDurableStore } from '@unfazed/client/durable';
import { redisTestContext, runChild, type RedisTestContext } from '@unfazed/testing';
import { installOtel, pointsOf, type SpanJson, type TestOtel } from './support/otel.js';

const WORKER_MODULE = join(__dirname, 'otel-durable-worker.ts');

interface Origin {
  url: string;
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function origin(statuses: number[]): Promise<Origin> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const status = statuses[Math.min(seen.length - 1, statuses.length - 1)] ?? 200;
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function spansOf(stdout: string): SpanJson[] {
  const line = stdout.split('\n').find((l) => l.startsWith('SPANS '));
  if (line === undefined) throw new Error(`no SPANS line in:\n${stdout}`);
  return JSON.parse(line.slice('SPANS '.length)) as SpanJson[];
}

let otel: TestOtel | undefined;
afterEach(async () => {
  await otel?.uninstall();
  otel = undefined;
});

describe('a durable operation retried by two worker processes', () => {
  let ctx: RedisTestContext;
  let redis: Redis;
  beforeAll(async () => {
    ctx = await redisTestContext('otel-durable');
    redis = ctx.connect() as Redis;
  });
  afterAll(async () => {
    redis.disconnect();
    await ctx.close();
  });

  it('gives attempt spans in each process linked to the request that started it', async () => {
    otel = installOtel({ metrics: false });
    const down = await origin([503, 503, 201]);
    const prefix = `${ctx.prefix}otel:`;
    const client = createClient({ baseUrl: down.url, breaker: false });
    const durable = createDurable({ client, store: redisDurableStore(redis, { prefix }) });
    const op = durable.operation<{ order: string }>('charge', {
      request: (input) => ({ method: 'POST', path: '/charges', json: input }),
    });
    const children = [];
    try {
      const tracer = trace.getTracer('test');
      const { request, id } = await tracer.startActiveSpan(
        'POST /checkout',
        { kind: SpanKind.SERVER },
        async (span) => {
          const started = await op.start({ order: 'o-1' }, { wait: 0 });
          span.end();
          return { request: span.spanContext(), id: started.id };
        },
      );
      const env = { DOWNSTREAM_URL: down.url, REDIS_URL: ctx.url, PREFIX: prefix };
      const a = await runChild(WORKER_MODULE, { env: { ...env, STOP_ON: 'scheduled' } });
      children.push(a);
      const exitA = await a.exited;
      expect(exitA.code).toBe(0);
      const b = await runChild(WORKER_MODULE, { env: { ...env, STOP_ON: 'succeeded' } });
      children.push(b);
      const exitB = await b.exited;
      expect(exitB.code).toBe(0);
      expect((await durable.status(id))?.state).toBe('completed');

      const spans = [...spansOf(exitA.stdout), ...spansOf(exitB.stdout)];
      const attempts = spans.filter((s) => s.kind === SpanKind.CONSUMER);
      expect(attempts.map((s) => s.attributes['unfazed.operation.attempt'])).toEqual([1, 2, 3]);
      expect(attempts.map((s) => s.attributes['unfazed.attempt.outcome'])).toEqual([
        'transient',
        'transient',
        'success',
      ]);
      const workers = new Set(attempts.map((s) => s.attributes['unfazed.durable.worker']));
      expect(workers.size).toBe(2);
      for (const span of attempts) {
        expect(span.name).toBe('attempt charge');
        expect(span.attributes).toMatchObject({
          'unfazed.operation.id': id,
          'unfazed.operation.type': 'charge',
        });
        // A new trace per attempt (no worker runs inside the request), linked to the request.
        expect(span.parentSpanId).toBeUndefined();
        expect(span.links).toEqual([
          {
            traceId: request.traceId,
            spanId: request.spanId,
            attributes: { 'unfazed.link.reason': 'started-by' },
          },
        ]);
        // The client's CLIENT span of the attempt is its child, and went on the wire.
        const http = spans.filter(
          (s) => s.kind === SpanKind.CLIENT && s.parentSpanId === span.spanId,
        );
        expect(http).toHaveLength(1);
        expect(http[0]?.traceId).toBe(span.traceId);
      }
      expect(down.seen.map((h) => String(h['traceparent']).split('-')[1])).toEqual(
        attempts.map((s) => s.traceId),
      );
    } finally {
      await Promise.all(children.map((c) => c.kill()));
      await client.close();
      await down.close();
    }
  }, 60_000);
});

describe('in one process', () => {
  it('links a compensation to the request and to the span of the step it undoes', async () => {
    otel = installOtel({ metrics: false });
    const down = await origin([400]);
    const client = createClient({ baseUrl: down.url, breaker: false });
    const durable = createDurable({ client, store: memoryDurableStore() });
    const saga = durable.saga<{ order: string }>('checkout', {
      steps: [
        { name: 'reserve', run: () => ({ reserved: true }), compensate: () => undefined },
        { name: 'charge', request: (input) => ({ method: 'POST', path: '/c', json: input }) },
      ],
    });
    try {
      const request = await trace.getTracer('test').startActiveSpan('POST /checkout', async (s) => {
        const started = await saga.start({ order: 'o-2' }, { wait: 2_000 });
        expect((started as { state?: string }).state).toBe('compensated');
        s.end();
        return s.spanContext();
      });
      const spans = otel.spans();
      const reserve = spans.find((s) => s.name === 'attempt checkout reserve');
      const charge = spans.find((s) => s.name === 'attempt checkout charge');
      const undo = spans.find((s) => s.name === 'compensate checkout reserve');
      expect(reserve && charge && undo).toBeTruthy();
      // Run inside the request (start's wait): children of its span.
      expect(reserve?.parentSpanContext?.spanId).toBe(request.spanId);
      expect(charge?.attributes['unfazed.attempt.outcome']).toBe('permanent');
      expect(undo?.attributes).toMatchObject({
        'unfazed.saga.step': 'reserve',
        'unfazed.saga.compensation': true,
      });
      expect(undo?.links.map((l) => [l.context.spanId, l.attributes])).toEqual([
        [request.spanId, { 'unfazed.link.reason': 'started-by' }],
        [reserve?.spanContext().spanId, { 'unfazed.link.reason': 'compensates' }],
      ]);
    } finally {
      await client.close();
      await down.close();
    }
  });

  it('reports the queue gauges, attempts and redrives under their documented names', async () => {
    otel = installOtel({ traces: false });
    const down = await origin([503]);
    const client = createClient({ baseUrl: down.url, breaker: false });
    const durable = createDurable({ client, store: memoryDurableStore() });
    const op = durable.operation<{ n: number }>('ship', {
      request: (input) => ({ method: 'POST', path: '/ship', json: input }),
      maxAttempts: 1,
    });
    try {
      const dead = await op.start({ n: 1 }, { wait: 2_000 });
      expect((dead as { state?: string }).state).toBe('dead');
      await op.start({ n: 2 }, { wait: 0 });
      let m = await otel.collect();
      const byType = (name: string) =>
        Object.fromEntries(
          pointsOf(m, name).map((p) => [p.attributes['unfazed.operation.type'], p.value]),
        );
      expect(byType('unfazed.durable.queue.due')).toEqual({ ship: 1 });
      expect(byType('unfazed.durable.queue.dead')).toEqual({ ship: 1 });
      expect(pointsOf(m, 'unfazed.durable.queue.in_flight')).toBeDefined();
      expect(pointsOf(m, 'unfazed.durable.attempts')[0]).toMatchObject({
        attributes: { 'unfazed.operation.type': 'ship', 'unfazed.attempt.outcome': 'transient' },
        value: 1,
      });
      expect(await durable.deadLetters.redrive(dead.id)).toBe(true);
      m = await otel.collect();
      expect(pointsOf(m, 'unfazed.durable.redrives')).toEqual([
        expect.objectContaining({
          attributes: { 'unfazed.operation.type': 'ship', 'unfazed.redrive.reason': 'redrive' },
          value: 1,
        }),
      ]);
    } finally {
      await client.close();
      await down.close();
    }
  });
});
