/**
 * OpenTelemetry of the idempotency middleware: it sets `unfazed.idempotency.outcome` on the
 * request's server span (claimed, replayed, conflict, mismatch) and counts each decision in
 * `unfazed.server.idempotency.outcomes`. A real Express app on a loopback socket; the server
 * span is made by a middleware in front, as an HTTP instrumentation would.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { context, metrics, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { memoryIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

describe('idempotency middleware with an SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  let server: Server;
  let url: string;
  let release: () => void = () => undefined;

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    const tracer = trace.getTracer('test-http');
    const app = express();
    app.use(express.json());
    app.use((req, res, next) => {
      tracer.startActiveSpan(`${req.method} /orders`, { kind: SpanKind.SERVER }, (span) => {
        span.setAttribute('test.request', String(req.headers['x-test'] ?? ''));
        res.on('finish', () => span.end());
        next();
      });
    });
    app.post('/orders', idempotency({ store: memoryIdempotencyStore() }), async (req, res) => {
      if ((req.body as { slow?: boolean }).slow) await new Promise<void>((r) => (release = r));
      res.status(201).json({ ok: true });
    });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    trace.disable();
    metrics.disable();
    context.disable();
    await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
  });

  const post = (name: string, key: string, body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': `"${key}"`,
        'x-test': name,
      },
      body: JSON.stringify(body),
    });

  it('annotates the server span with claimed, replayed, conflict and mismatch', async () => {
    expect((await post('first', 'k-1', { n: 1 })).status).toBe(201);
    expect((await post('again', 'k-1', { n: 1 })).status).toBe(201);
    expect((await post('other body', 'k-1', { n: 2 })).status).toBe(422);
    const slow = post('slow', 'k-2', { slow: true });
    // The slow one holds its claim until released.
    for (let i = 0; i < 100 && exporter.getFinishedSpans().length < 3; i++) await sleep(5);
    await sleep(50);
    expect((await post('concurrent', 'k-2', { slow: true })).status).toBe(409);
    release();
    expect((await slow).status).toBe(201);
    await sleep(20);
    const outcome = Object.fromEntries(
      exporter
        .getFinishedSpans()
        .map((s) => [s.attributes['test.request'], s.attributes['unfazed.idempotency.outcome']]),
    );
    expect(outcome).toEqual({
      first: 'claimed',
      again: 'replayed',
      'other body': 'mismatch',
      slow: 'claimed',
      concurrent: 'conflict',
    });
    // Nothing of the key is on the span.
    for (const span of exporter.getFinishedSpans())
      expect(JSON.stringify(span.attributes)).not.toContain('k-');

    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'unfazed.server.idempotency.outcomes');
    const counts = Object.fromEntries(
      (metric?.dataPoints ?? []).map((p) => [p.attributes['unfazed.idempotency.outcome'], p.value]),
    );
    expect(counts).toEqual({ claimed: 2, replayed: 1, mismatch: 1, conflict: 1 });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
