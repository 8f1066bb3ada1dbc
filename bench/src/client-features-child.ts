/**
 * Child process of the features suite: one variant of `client.request` for one round, in a
 * process of its own, so that no variant (and no concurrency) inherits another's JIT and GC
 * history (see the client suite's note on V8 pretenuring). Runs a warm-up load, then the measured
 * load against the no-op server, prints `RESULT {json}` and exits. Exits too when its stdin ends
 * (the suite died) or after BENCH_MAX_MS.
 *
 * Variants (BENCH_VARIANT):
 * - `off`: the default client with `@opentelemetry/api` made unresolvable in this process (what a
 *   user without OpenTelemetry runs), local breaker and local retry budget (the defaults);
 * - `nosdk`: the same client with the API resolvable and no SDK registered (the default when the
 *   API is installed);
 * - `sdk`: a tracer provider (BasicTracerProvider, SimpleSpanProcessor, in-memory exporter), a
 *   meter provider (a reader never collected) and an AsyncLocalStorage context manager registered;
 * - `shared`: as `off`, plus `breaker.shared = sharedCircuit(redis)` and
 *   `retry.budget.shared = sharedRetryBudget(redis)` on BENCH_REDIS_URL.
 *
 * Run with `node --import tsx` (plus `--conditions=@unfazed/source` to load the sources).
 */
import Module, { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Client } from '@unfazed/client';
import { closedLoop } from './load.js';

const BODY = JSON.stringify({ amount: 42, currency: 'EUR' });

/** What the child prints after `RESULT `. */
export interface FeatureRunResult {
  readonly variant: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU time of this process per request over the measured load, µs. */
  readonly cpu: number;
  /** Requests finished, warm-up included. */
  readonly requests: number;
  /** Whether `@opentelemetry/api` resolved in this process. */
  readonly otelApi: boolean;
  /** Spans the in-memory exporter received per measured request (`sdk` only). */
  readonly spansPerRequest?: number;
}

/** Makes `@opentelemetry/*` unresolvable for `require` (how the client loads its optional peer). */
function hideOpenTelemetry(): void {
  const M = Module as unknown as {
    _resolveFilename: (this: unknown, request: string, ...rest: unknown[]) => string;
  };
  const original = M._resolveFilename;
  M._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    if (request.startsWith('@opentelemetry/')) {
      const error = new Error(`Cannot find module '${request}' (hidden by the bench)`);
      (error as NodeJS.ErrnoException).code = 'MODULE_NOT_FOUND';
      throw error;
    }
    return original.call(this, request, ...rest);
  };
}

function otelApiResolves(): boolean {
  try {
    createRequire(import.meta.url)('@opentelemetry/api');
    return true;
  } catch {
    return false;
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const variant = required('BENCH_VARIANT');
  const origin = required('BENCH_ORIGIN');
  const concurrency = Number(required('BENCH_CONCURRENCY'));
  const durationMs = Number(required('BENCH_DURATION_MS'));
  const warmupMs = Number(required('BENCH_WARMUP_MS'));
  setTimeout(() => process.exit(3), Number(process.env['BENCH_MAX_MS'] ?? 120_000)).unref();
  process.stdin.on('end', () => process.exit(4));
  process.stdin.resume();

  if (variant === 'off' || variant === 'shared') hideOpenTelemetry();
  const otelApi = otelApiResolves();
  if ((variant === 'off' || variant === 'shared') === otelApi) {
    throw new Error(`variant ${variant}: @opentelemetry/api resolves: ${otelApi}`);
  }

  let spans: (() => number) | undefined;
  let resetSpans: (() => void) | undefined;
  let shutdownSdk: (() => Promise<void>) | undefined;
  if (variant === 'sdk') {
    const { context, metrics, trace } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const { AggregationTemporality, MeterProvider, MetricReader } =
      await import('@opentelemetry/sdk-metrics');
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } =
      await import('@opentelemetry/sdk-trace-base');
    class IdleReader extends MetricReader {
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
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    // The exporter keeps every span: emptied every 1 000 requests, its count carried over.
    let carried = 0;
    spans = () => carried + exporter.getFinishedSpans().length;
    resetSpans = () => {
      carried += exporter.getFinishedSpans().length;
      exporter.reset();
    };
    shutdownSdk = async () => {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    };
  }

  const { createClient, sharedCircuit, sharedRetryBudget } = await import('@unfazed/client');
  let redis: Redis | undefined;
  let client: Client;
  if (variant === 'shared') {
    const ioredis = await import('ioredis');
    redis = new ioredis.Redis(required('BENCH_REDIS_URL'), {
      maxRetriesPerRequest: 1,
      connectionName: 'unfazed-bench-features',
    });
    const prefix = required('BENCH_REDIS_PREFIX');
    client = createClient({
      baseUrl: origin,
      pool: { connections: concurrency },
      breaker: { shared: sharedCircuit(redis, { prefix }) },
      retry: { budget: { shared: sharedRetryBudget(redis, { prefix }) } },
    });
  } else {
    client = createClient({ baseUrl: origin, pool: { connections: concurrency } });
  }

  let n = 0;
  const op = async (): Promise<void> => {
    const res = await client.request({
      method: 'POST',
      path: '/charges',
      body: BODY,
      headers: { 'content-type': 'application/json' },
    });
    await res.text();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    if (++n % 1_000 === 0) resetSpans?.();
  };
  const warm = await closedLoop(op, { concurrency, durationMs: warmupMs, warmupMs: 0 });
  const spans0 = spans?.() ?? 0;
  const r = await closedLoop(op, { concurrency, durationMs, warmupMs: 0 });
  const errors = warm.errors + r.errors;
  if (errors > 0) {
    const first = r.firstError ?? warm.firstError;
    throw new Error(
      `${errors} failed requests (first: ${first instanceof Error ? first.message : String(first)})`,
    );
  }
  if (r.ops === 0) throw new Error('no request finished in the window');
  const breaker = client.circuit(origin).state;
  if (breaker !== 'closed') throw new Error(`the circuit ended ${breaker}, not closed`);
  const result: FeatureRunResult = {
    variant,
    rps: r.perSecond,
    p50: r.p50,
    p99: r.p99,
    cpu: r.cpuPerOp,
    requests: warm.finished + r.finished,
    otelApi,
    ...(spans ? { spansPerRequest: (spans() - spans0) / Math.max(1, r.finished) } : {}),
  };
  await client.close();
  await shutdownSdk?.();
  if (redis) await redis.quit().catch(() => redis?.disconnect());
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
