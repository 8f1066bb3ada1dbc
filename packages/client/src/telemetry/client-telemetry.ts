import type {
  Attributes,
  Counter,
  Histogram,
  Meter,
  ObservableGauge,
  ObservableResult,
  Span,
} from '@opentelemetry/api';
import { errorCodeOf } from '@unfazed/contract';
import type { CircuitStateName } from '../events.js';
import { activeMeter, activeTracer, otelApi } from './otel-api.js';

/** @internal The instrumentation scope of the client's spans and metrics. */
export const CLIENT_SCOPE = '@unfazed/client';

/** What the client's metrics are named (documented in the client README). */
export const METRICS = {
  duration: 'http.client.request.duration',
  attempts: 'unfazed.client.attempts',
  retries: 'unfazed.client.call.retries',
  retryDelay: 'unfazed.client.retry.delay',
  circuitState: 'unfazed.client.circuit.state',
  circuitTransitions: 'unfazed.client.circuit.transitions',
  notPermitted: 'unfazed.client.circuit.not_permitted',
  budgetTokens: 'unfazed.client.retry.budget.tokens',
} as const;

const CIRCUIT_STATES: readonly CircuitStateName[] = ['closed', 'open', 'half-open'];

/** A client's instruments, made once per meter. */
interface Instruments {
  readonly duration: Histogram;
  readonly attempts: Counter;
  readonly retries: Histogram;
  readonly retryDelay: Histogram;
  readonly circuitState: ObservableGauge;
  readonly circuitTransitions: Counter;
  readonly notPermitted: Counter;
  readonly budgetTokens: ObservableGauge;
}

const instrumentsByMeter = new WeakMap<Meter, Instruments>();

function instrumentsOf(meter: Meter): Instruments {
  let made = instrumentsByMeter.get(meter);
  if (made === undefined) {
    made = {
      duration: meter.createHistogram(METRICS.duration, {
        description: 'Duration of HTTP client requests (one per attempt).',
        unit: 's',
        advice: {
          explicitBucketBoundaries: [
            0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
          ],
        },
      }),
      attempts: meter.createCounter(METRICS.attempts, {
        description: 'Attempts sent, by how each ended.',
        unit: '{attempt}',
      }),
      retries: meter.createHistogram(METRICS.retries, {
        description: 'Retries of one call (0 when its first attempt settled it).',
        unit: '{retry}',
        advice: { explicitBucketBoundaries: [0, 1, 2, 3, 4, 5, 10] },
      }),
      retryDelay: meter.createHistogram(METRICS.retryDelay, {
        description: 'The wait before each retry.',
        unit: 's',
      }),
      circuitState: meter.createObservableGauge(METRICS.circuitState, {
        description: 'Circuit breaker state: 1 for the state a circuit is in, 0 for the others.',
        unit: '1',
      }),
      circuitTransitions: meter.createCounter(METRICS.circuitTransitions, {
        description: 'Circuit breaker state changes.',
        unit: '{transition}',
      }),
      notPermitted: meter.createCounter(METRICS.notPermitted, {
        description: 'Attempts the circuit breaker refused (sent nowhere).',
        unit: '{call}',
      }),
      budgetTokens: meter.createObservableGauge(METRICS.budgetTokens, {
        description: 'Tokens left in the retry budget of an origin (a retry takes one).',
        unit: '{token}',
      }),
    };
    instrumentsByMeter.set(meter, made);
  }
  return made;
}

/** What the telemetry needs to know of a call. */
export interface TracedCall {
  readonly info: { readonly method: string; readonly url: string };
  readonly origin: string;
  readonly headers: Record<string, string | string[]>;
}

/** How an attempt ended, for its span and metrics. */
export interface AttemptEnding {
  readonly status: number | undefined;
  /** `error.type`: the status as text for an error status, an error's code, or undefined. */
  readonly errorType: string | undefined;
  /** The contract's verdict kind, or `aborted`. */
  readonly outcome: string;
}

/**
 * @internal One client's OpenTelemetry: a CLIENT span per attempt and the client's metrics,
 * when an SDK is registered. Every method is cheap to call without one: it looks up whether a
 * provider is registered and returns (no span, no attribute object).
 */
export class ClientTelemetry {
  #observed: Instruments | undefined;
  readonly #observeCircuits: (result: ObservableResult) => void;
  readonly #observeBudgets: (result: ObservableResult) => void;

  constructor(
    circuits: () => Iterable<[string, CircuitStateName]>,
    budgets: () => Iterable<[string, number]> = () => [],
    budgetScope: 'local' | 'fleet' = 'local',
  ) {
    this.#observeBudgets = (result) => {
      for (const [key, tokens] of budgets()) {
        result.observe(tokens, { 'unfazed.budget.key': key, 'unfazed.budget.scope': budgetScope });
      }
    };
    this.#observeCircuits = (result) => {
      for (const [key, state] of circuits()) {
        for (const s of CIRCUIT_STATES) {
          result.observe(s === state ? 1 : 0, {
            'unfazed.circuit.key': key,
            'unfazed.circuit.state': s,
          });
        }
      }
    };
  }

  /** The instruments, when a meter provider is registered (and the circuit gauge observed). */
  instruments(): Instruments | undefined {
    const meter = activeMeter(CLIENT_SCOPE);
    if (meter === undefined) return undefined;
    const made = instrumentsOf(meter);
    if (this.#observed !== made) {
      this.#observed?.circuitState.removeCallback(this.#observeCircuits);
      this.#observed?.budgetTokens.removeCallback(this.#observeBudgets);
      made.circuitState.addCallback(this.#observeCircuits);
      made.budgetTokens.addCallback(this.#observeBudgets);
      this.#observed = made;
    }
    return made;
  }

  /** Stops observing this client's circuits (it is closed). */
  close(): void {
    this.#observed?.circuitState.removeCallback(this.#observeCircuits);
    this.#observed?.budgetTokens.removeCallback(this.#observeBudgets);
    this.#observed = undefined;
  }

  /**
   * Starts the CLIENT span of attempt `n` (1-based) under the caller's active span and returns
   * it with the headers to send (the call's, plus the trace context); undefined without a
   * tracer provider.
   */
  startAttempt(
    call: TracedCall,
    n: number,
  ): { span: Span; headers: Record<string, string | string[]> } | undefined {
    const tracer = activeTracer(CLIENT_SCOPE);
    if (tracer === undefined) return undefined;
    const api = otelApi() as NonNullable<ReturnType<typeof otelApi>>;
    const parent = api.context.active();
    const attributes: Attributes = {
      'http.request.method': call.info.method,
      ...serverOf(call.origin),
      'url.full': redactedUrl(call.info.url),
    };
    // Semconv: set only when the request was resent (absent on the first attempt).
    if (n > 1) attributes['http.request.resend_count'] = n - 1;
    const span = tracer.startSpan(
      call.info.method,
      { kind: api.SpanKind.CLIENT, attributes },
      parent,
    );
    const headers = { ...call.headers };
    api.propagation.inject(api.trace.setSpan(parent, span), headers);
    if (headers['traceparent'] === undefined && span.isRecording()) {
      // No propagator registered: W3C Trace Context by hand, so the server can still join.
      const c = span.spanContext();
      headers['traceparent'] = `00-${c.traceId}-${c.spanId}-0${c.traceFlags & 1}`;
    }
    return { span, headers };
  }

  /** Ends an attempt's span (when it has one) and records the attempt's metrics. */
  attemptEnded(
    call: TracedCall,
    span: Span | undefined,
    ending: AttemptEnding,
    durationMs: number,
  ): void {
    if (span !== undefined) {
      if (ending.status !== undefined)
        span.setAttribute('http.response.status_code', ending.status);
      if (ending.errorType !== undefined) {
        span.setAttribute('error.type', ending.errorType);
        const api = otelApi() as NonNullable<ReturnType<typeof otelApi>>;
        span.setStatus({ code: api.SpanStatusCode.ERROR });
      }
      span.end();
    }
    const m = this.instruments();
    if (m === undefined) return;
    const attributes: Attributes = {
      'http.request.method': call.info.method,
      ...serverOf(call.origin),
    };
    if (ending.status !== undefined) attributes['http.response.status_code'] = ending.status;
    if (ending.errorType !== undefined) attributes['error.type'] = ending.errorType;
    m.duration.record(durationMs / 1000, attributes);
    m.attempts.add(1, { ...attributes, 'unfazed.attempt.outcome': ending.outcome });
  }

  /** A call settled after `retries` retries; `error` is what it rejected with, if it did. */
  callEnded(call: TracedCall, retries: number, error: unknown): void {
    const m = this.instruments();
    if (m === undefined) return;
    const attributes: Attributes = {
      'http.request.method': call.info.method,
      ...serverOf(call.origin),
    };
    if (error !== undefined) attributes['error.type'] = errorTypeOf(error);
    m.retries.record(retries, attributes);
  }

  /** A retry was scheduled `delayMs` from now. */
  retryScheduled(call: TracedCall, delayMs: number, reason: string): void {
    this.instruments()?.retryDelay.record(delayMs / 1000, {
      'http.request.method': call.info.method,
      ...serverOf(call.origin),
      'unfazed.retry.delay_reason': reason,
    });
  }

  /** The breaker refused an attempt. */
  notPermitted(key: string, state: string): void {
    this.instruments()?.notPermitted.add(1, {
      'unfazed.circuit.key': key,
      'unfazed.circuit.state': state,
    });
  }

  /** A circuit changed state. */
  circuitChanged(key: string, from: CircuitStateName, to: CircuitStateName): void {
    this.instruments()?.circuitTransitions.add(1, {
      'unfazed.circuit.key': key,
      'unfazed.circuit.from': from,
      'unfazed.circuit.to': to,
    });
  }
}

/** `error.type` of an error: its stable code, its name, or `_OTHER`. */
export function errorTypeOf(error: unknown): string {
  return errorCodeOf(error) ?? (error instanceof Error ? error.name : '_OTHER');
}

const servers = new Map<string, Attributes>();

/** `server.address` and `server.port` of an origin, made once per origin. */
function serverOf(origin: string): Attributes {
  let server = servers.get(origin);
  if (server === undefined) {
    try {
      const url = new URL(origin);
      const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      server = {
        'server.address': url.hostname,
        'server.port': port,
        'url.scheme': url.protocol.slice(0, -1),
      };
    } catch {
      server = {};
    }
    if (servers.size < 1000) servers.set(origin, server);
  }
  return server;
}

/**
 * `url.full` without secrets (semconv): credentials are never in a client URL here (undici
 * refuses them), and every query value is replaced by `REDACTED` (the semconv list of keys to
 * redact is a minimum; a query is where tokens travel).
 */
function redactedUrl(href: string): string {
  const q = href.indexOf('?');
  if (q < 0) return href;
  const hash = href.indexOf('#', q);
  const query = href.slice(q + 1, hash < 0 ? undefined : hash);
  const redacted = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : `${pair.slice(0, eq)}=REDACTED`;
    })
    .join('&');
  return `${href.slice(0, q)}?${redacted}`;
}
