/**
 * OpenTelemetry of the client against a real loopback server: a CLIENT span per attempt under
 * the caller's span (http.request.resend_count absent on the first, then 1, 2), the trace
 * context on the wire, the metrics under their documented names, and nothing at all (no span
 * object, no tracer looked up) while no SDK is registered.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ProxyTracer, ProxyTracerProvider, SpanKind, trace } from '@opentelemetry/api';
import { createClient } from '@unfazed/client';
import { installOtel, pointsOf, type TestOtel } from './support/otel.js';

interface Origin {
  url: string;
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Answers `statuses` in turn (the last one from then on). */
async function origin(statuses: number[]): Promise<Origin> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const status = statuses[Math.min(seen.length - 1, statuses.length - 1)] ?? 200;
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}`);
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

const fast = { backoff: { initialMs: 5, maxMs: 20 } };

let otel: TestOtel | undefined;
afterEach(async () => {
  await otel?.uninstall();
  otel = undefined;
});

describe('client spans and metrics with an SDK registered', () => {
  it('a call retried twice gives three CLIENT spans under the caller, resend_count absent/1/2', async () => {
    otel = installOtel();
    const down = await origin([503, 503, 200]);
    const client = createClient({ baseUrl: down.url, retry: { maxRetries: 3, ...fast } });
    try {
      const tracer = trace.getTracer('test');
      const callerId = await tracer.startActiveSpan('checkout', async (caller) => {
        const res = await client.request({ path: '/stock?token=secret&item=7' });
        expect(res.status).toBe(200);
        await res.text();
        caller.end();
        return caller.spanContext();
      });
      const attempts = otel.spans().filter((s) => s.kind === SpanKind.CLIENT);
      expect(attempts.map((s) => s.name)).toEqual(['GET', 'GET', 'GET']);
      expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([
        undefined,
        1,
        2,
      ]);
      expect(attempts.map((s) => s.attributes['http.response.status_code'])).toEqual([
        503, 503, 200,
      ]);
      expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['503', '503', undefined]);
      const port = Number(new URL(down.url).port);
      for (const span of attempts) {
        expect(span.parentSpanContext?.spanId).toBe(callerId.spanId);
        expect(span.spanContext().traceId).toBe(callerId.traceId);
        expect(span.attributes).toMatchObject({
          'http.request.method': 'GET',
          'server.address': '127.0.0.1',
          'server.port': port,
          'url.full': `${down.url}/stock?token=REDACTED&item=REDACTED`,
        });
      }
      // Each attempt carried its own span's context to the server.
      expect(down.seen.map((h) => h['traceparent'])).toEqual(
        attempts.map((s) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`),
      );

      const m = await otel.collect();
      const durations = pointsOf(m, 'http.client.request.duration');
      const count = durations.reduce((n, p) => n + (p.value as { count: number }).count, 0);
      expect(count).toBe(3);
      expect(m.get('http.client.request.duration')?.descriptor.unit).toBe('s');
      const attemptsByOutcome = Object.fromEntries(
        pointsOf(m, 'unfazed.client.attempts').map((p) => [
          `${String(p.attributes['unfazed.attempt.outcome'])} ${String(p.attributes['http.response.status_code'])}`,
          p.value,
        ]),
      );
      expect(attemptsByOutcome).toEqual({ 'transient 503': 2, 'success 200': 1 });
      const retries = pointsOf(m, 'unfazed.client.call.retries');
      expect(retries).toHaveLength(1);
      expect(retries[0]?.value).toMatchObject({ count: 1, sum: 2 });
      const delays = pointsOf(m, 'unfazed.client.retry.delay');
      expect(delays[0]?.attributes['unfazed.retry.delay_reason']).toBe('backoff');
      expect((delays[0]?.value as { count: number }).count).toBe(2);
    } finally {
      await client.close();
      await down.close();
    }
  });

  it('counts circuit transitions, refused calls and reports the circuit state gauge', async () => {
    otel = installOtel({ traces: false });
    const down = await origin([503]);
    const client = createClient({
      baseUrl: down.url,
      retry: { maxRetries: 0 },
      breaker: { minimumCalls: 2, failureRatio: 0.5, windowMs: 20_000, openMs: 10_000 },
    });
    try {
      for (let i = 0; i < 4; i++) {
        await client.request({ path: '/x' }).then(
          (res) => res.text(),
          () => undefined,
        );
      }
      expect(client.circuit(down.url).state).toBe('open');
      const m = await otel.collect();
      const key = new URL(down.url).origin;
      expect(pointsOf(m, 'unfazed.client.circuit.transitions')).toEqual([
        expect.objectContaining({
          attributes: {
            'unfazed.circuit.key': key,
            'unfazed.circuit.from': 'closed',
            'unfazed.circuit.to': 'open',
          },
          value: 1,
        }),
      ]);
      const refused = pointsOf(m, 'unfazed.client.circuit.not_permitted');
      expect(refused.reduce((n, p) => n + (p.value as number), 0)).toBeGreaterThanOrEqual(1);
      const states = Object.fromEntries(
        pointsOf(m, 'unfazed.client.circuit.state').map((p) => [
          p.attributes['unfazed.circuit.state'],
          p.value,
        ]),
      );
      expect(states).toEqual({ closed: 0, open: 1, 'half-open': 0 });
    } finally {
      await client.close();
      await down.close();
    }
  });
});

describe('without an SDK', () => {
  it('creates no span, looks up no tracer and sends no trace context', async () => {
    const getTracer = jest.spyOn(ProxyTracerProvider.prototype, 'getTracer');
    const startSpan = jest.spyOn(ProxyTracer.prototype, 'startSpan');
    const down = await origin([503, 200]);
    const client = createClient({ baseUrl: down.url, retry: { maxRetries: 1, ...fast } });
    try {
      const res = await client.request({ method: 'POST', path: '/orders', json: { n: 1 } });
      expect(res.status).toBe(200);
      await res.text();
      expect(down.seen).toHaveLength(2);
      expect(down.seen.every((h) => h['traceparent'] === undefined)).toBe(true);
      expect(getTracer).not.toHaveBeenCalled();
      expect(startSpan).not.toHaveBeenCalled();
    } finally {
      getTracer.mockRestore();
      startSpan.mockRestore();
      await client.close();
      await down.close();
    }
  });
});
