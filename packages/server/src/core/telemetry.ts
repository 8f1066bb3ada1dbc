import type { Counter, Meter, MeterProvider } from '@opentelemetry/api';
import { otelApi } from './otel-api.js';

/** @internal The instrumentation scope of the middleware's metrics. */
export const SERVER_SCOPE = '@unfazed/server';

/** The span attribute and metric the middleware reports its decisions with. */
export const IDEMPOTENCY_OUTCOME = 'unfazed.idempotency.outcome';
export const IDEMPOTENCY_METRIC = 'unfazed.server.idempotency.outcomes';

/** What the middleware decided for one keyed request. */
export type IdempotencyOutcome =
  | 'claimed'
  | 'recovered'
  | 'replayed'
  | 'conflict'
  | 'mismatch'
  | 'store-unavailable'
  | 'fail-open';

let cachedProvider: MeterProvider | undefined;
let counter: Counter | undefined;

function outcomes(): Counter | undefined {
  const api = otelApi();
  if (api === undefined) return undefined;
  const provider = api.metrics.getMeterProvider();
  if (provider !== cachedProvider) {
    cachedProvider = provider;
    const meter: Meter = provider.getMeter(SERVER_SCOPE);
    counter =
      meter === api.createNoopMeter()
        ? undefined
        : meter.createCounter(IDEMPOTENCY_METRIC, {
            description: 'Keyed requests, by what the idempotency middleware decided.',
            unit: '{request}',
          });
  }
  return counter;
}

/**
 * @internal Reports a decision: sets `unfazed.idempotency.outcome` on the active span (the
 * server span of the request, when an HTTP instrumentation made one) and counts it. Nothing of
 * the key is reported. Costs a lookup and nothing else without an SDK.
 */
export function reportOutcome(outcome: IdempotencyOutcome, method: string): void {
  const api = otelApi();
  if (api === undefined) return;
  const span = api.trace.getActiveSpan();
  if (span !== undefined && span.isRecording()) span.setAttribute(IDEMPOTENCY_OUTCOME, outcome);
  outcomes()?.add(1, { [IDEMPOTENCY_OUTCOME]: outcome, 'http.request.method': method });
}
