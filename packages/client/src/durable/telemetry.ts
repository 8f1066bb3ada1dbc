import type { Attributes, Context, Link, Span } from '@opentelemetry/api';
import { activeMeter, activeTracer, otelApi, type OtelApi } from '../telemetry/otel-api.js';
import type { DurableStore } from './types.js';

/** @internal The instrumentation scope of the durable queue's spans and metrics. */
export const DURABLE_SCOPE = '@unfazed/client/durable';

/** What the durable queue's metrics are named (documented in the client README). */
export const DURABLE_METRICS = {
  attempts: 'unfazed.durable.attempts',
  due: 'unfazed.durable.queue.due',
  inFlight: 'unfazed.durable.queue.in_flight',
  dead: 'unfazed.durable.queue.dead',
  redrives: 'unfazed.durable.redrives',
} as const;

/** A trace context as the propagation API writes it (`traceparent`, `tracestate`). */
type Carrier = Record<string, string>;

/**
 * @internal The caller's trace context, as the JSON of a W3C `traceparent`/`tracestate`
 * carrier to store with a new operation; undefined without a tracer provider or an active span.
 */
export function captureTrace(): string | undefined {
  if (activeTracer(DURABLE_SCOPE) === undefined) return undefined;
  const api = otelApi() as OtelApi;
  const active = api.context.active();
  const span = api.trace.getSpanContext(active);
  if (span === undefined || !api.trace.isSpanContextValid(span)) return undefined;
  const carrier: Carrier = {};
  api.propagation.inject(active, carrier);
  if (carrier['traceparent'] === undefined) {
    // No propagator registered: W3C Trace Context by hand.
    carrier['traceparent'] = `00-${span.traceId}-${span.spanId}-0${span.traceFlags & 1}`;
    const state = span.traceState?.serialize();
    if (state) carrier['tracestate'] = state;
  }
  return JSON.stringify(carrier);
}

/** @internal The W3C `traceparent` of a span, for a saga's journal. */
export function traceOf(span: Span): string {
  const c = span.spanContext();
  return JSON.stringify({ traceparent: `00-${c.traceId}-${c.spanId}-0${c.traceFlags & 1}` });
}

/** The span context a stored carrier names, or undefined. */
function linkTo(api: OtelApi, stored: string | undefined, attributes: Attributes): Link[] {
  if (stored === undefined) return [];
  let carrier: Carrier;
  try {
    carrier = JSON.parse(stored) as Carrier;
  } catch {
    return [];
  }
  let context = api.trace.getSpanContext(api.propagation.extract(api.ROOT_CONTEXT, carrier));
  if (context === undefined) context = parseTraceparent(api, carrier);
  return context !== undefined && api.trace.isSpanContextValid(context)
    ? [{ context, attributes }]
    : [];
}

function parseTraceparent(api: OtelApi, carrier: Carrier) {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(carrier['traceparent'] ?? '');
  if (m === null) return undefined;
  const traceState = carrier['tracestate'];
  return {
    traceId: m[1] as string,
    spanId: m[2] as string,
    traceFlags: parseInt(m[3] as string, 16) & 1,
    isRemote: true,
    ...(traceState ? { traceState: api.createTraceState(traceState) } : {}),
  };
}

/** What one traced run of an attempt, a local step or a compensation is about. */
export interface SpanSubject {
  readonly id: string;
  readonly type: string;
  /** The saga step (absent for an `operation()`). */
  readonly step: string | undefined;
  readonly attempt: number;
  readonly worker: string;
  /** The trace context stored at `start`. */
  readonly trace: string | undefined;
  /** A compensation: the span of the step it undoes, from the journal. */
  readonly undoes?: string | undefined;
  /** True when `start` runs it in the caller's request: the span is then that request's child. */
  readonly inline: boolean;
}

/**
 * @internal One span of the durable queue's work (an attempt, a local step, a compensation):
 * linked to the request that started the operation, whichever worker runs it and however late.
 */
export class OperationSpan {
  private constructor(
    private readonly api: OtelApi,
    readonly span: Span,
    private readonly context: Context,
    private readonly type: string,
  ) {}

  /** Starts one, or undefined without a tracer provider. */
  static start(kind: 'attempt' | 'compensate', s: SpanSubject): OperationSpan | undefined {
    const tracer = activeTracer(DURABLE_SCOPE);
    if (tracer === undefined) return undefined;
    const api = otelApi() as OtelApi;
    const parent = s.inline ? api.context.active() : api.ROOT_CONTEXT;
    const links = linkTo(api, s.trace, { 'unfazed.link.reason': 'started-by' });
    if (s.undoes !== undefined) {
      links.push(...linkTo(api, s.undoes, { 'unfazed.link.reason': 'compensates' }));
    }
    const attributes: Attributes = {
      'unfazed.operation.id': s.id,
      'unfazed.operation.type': s.type,
      'unfazed.operation.attempt': s.attempt,
      'unfazed.durable.worker': s.worker,
    };
    if (s.step !== undefined) attributes['unfazed.saga.step'] = s.step;
    if (kind === 'compensate') attributes['unfazed.saga.compensation'] = true;
    const name = `${kind} ${s.type}${s.step !== undefined ? ` ${s.step}` : ''}`;
    const span = tracer.startSpan(name, { kind: api.SpanKind.CONSUMER, attributes, links }, parent);
    return new OperationSpan(api, span, api.trace.setSpan(parent, span), s.type);
  }

  /** Runs `fn` with this span active (the client's attempt spans become its children). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.api.context.with(this.context, fn);
  }

  /** Ends it with how the run ended (`success`, `transient`, `permanent`, ...). */
  end(outcome: string, status?: number | undefined, errorType?: string | undefined): void {
    const span = this.span;
    span.setAttribute('unfazed.attempt.outcome', outcome);
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: this.api.SpanStatusCode.ERROR });
    }
    span.end();
    durableAttemptCounted(this.type, outcome);
  }
}

/** Counts one run of the durable queue's work, when a meter provider is registered. */
export function durableAttemptCounted(type: string, outcome: string): void {
  const meter = activeMeter(DURABLE_SCOPE);
  if (meter === undefined) return;
  instrumentsOf(meter).attempts.add(1, {
    'unfazed.operation.type': type,
    'unfazed.attempt.outcome': outcome,
  });
}

/** Counts a redrive, when a meter provider is registered. */
export function redriveCounted(type: string, reason: string): void {
  const meter = activeMeter(DURABLE_SCOPE);
  if (meter === undefined) return;
  instrumentsOf(meter).redrives.add(1, {
    'unfazed.operation.type': type,
    'unfazed.redrive.reason': reason,
  });
}

const instruments = new WeakMap<object, ReturnType<typeof makeInstruments>>();

function makeInstruments(meter: NonNullable<ReturnType<typeof activeMeter>>) {
  return {
    attempts: meter.createCounter(DURABLE_METRICS.attempts, {
      description: 'Attempts, local step runs and compensations of durable operations, by outcome.',
      unit: '{attempt}',
    }),
    redrives: meter.createCounter(DURABLE_METRICS.redrives, {
      description: 'Operations redriven from the dead-letter view.',
      unit: '{operation}',
    }),
    due: meter.createObservableGauge(DURABLE_METRICS.due, {
      description: 'Pending operations whose due time has come.',
      unit: '{operation}',
    }),
    inFlight: meter.createObservableGauge(DURABLE_METRICS.inFlight, {
      description: 'Operations held under a live lease.',
      unit: '{operation}',
    }),
    dead: meter.createObservableGauge(DURABLE_METRICS.dead, {
      description: 'Operations in the dead state (gave up at their deadline or attempts).',
      unit: '{operation}',
    }),
  };
}

function instrumentsOf(meter: NonNullable<ReturnType<typeof activeMeter>>) {
  let made = instruments.get(meter);
  if (made === undefined) instruments.set(meter, (made = makeInstruments(meter)));
  return made;
}

/**
 * @internal The queue gauges of one durable instance, observed from its store (`gauges()` and
 * `counts()`, one read each per collection) while a meter provider is registered. `watch` is
 * called where a provider may have appeared (createDurable, startWorker); it is a no-op without.
 */
export class QueueGaugeObserver {
  #meter: object | undefined;
  #unwatch: (() => void) | undefined;

  constructor(
    private readonly store: DurableStore,
    private readonly now: () => number,
  ) {}

  watch(): void {
    const meter = activeMeter(DURABLE_SCOPE);
    if (meter === this.#meter) return;
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#meter = meter;
    if (meter === undefined) return;
    const m = instrumentsOf(meter);
    const observe = async (result: {
      observe(gauge: unknown, value: number, attributes: Attributes): void;
    }): Promise<void> => {
      let gauges, counts;
      try {
        [gauges, counts] = await Promise.all([this.store.gauges(this.now()), this.store.counts()]);
      } catch {
        return; // a store that is away (or closed) reports nothing this round
      }
      for (const [type, n] of Object.entries(gauges.due)) result.observe(m.due, n, typeOf(type));
      for (const [type, n] of Object.entries(gauges.inFlight))
        result.observe(m.inFlight, n, typeOf(type));
      for (const [type, states] of Object.entries(counts))
        result.observe(m.dead, states.dead ?? 0, typeOf(type));
    };
    const batch = observe as unknown as Parameters<typeof meter.addBatchObservableCallback>[0];
    meter.addBatchObservableCallback(batch, [m.due, m.inFlight, m.dead]);
    this.#unwatch = () => meter.removeBatchObservableCallback(batch, [m.due, m.inFlight, m.dead]);
  }
}

function typeOf(type: string): Attributes {
  return { 'unfazed.operation.type': type };
}
