import { createRequire } from 'node:module';
import type * as OtelApiModule from '@opentelemetry/api';
import type { Meter, Tracer, TracerProvider } from '@opentelemetry/api';

/** @internal The `@opentelemetry/api` module, as loaded. */
export type OtelApi = typeof OtelApiModule;

let loaded: OtelApi | null | undefined;

/**
 * @internal `@opentelemetry/api` when it is installed, else undefined: it is an optional peer
 * dependency, loaded on first use and never required. A CommonJS host (jest) has its own
 * `require`, whose module registry the application's copy lives in; ESM uses one made here.
 * Two copies of the API meet anyway: it keeps its registrations on a global.
 */
export function otelApi(): OtelApi | undefined {
  if (loaded === undefined) {
    try {
      const load = typeof require === 'function' ? require : createRequire(import.meta.url);
      loaded = load('@opentelemetry/api') as OtelApi;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

/** What a registered provider gave for one instrumentation scope name. */
interface Cached<P, T> {
  provider: P | undefined;
  value: T | undefined;
}

const tracers = new Map<string, Cached<TracerProvider, Tracer>>();
const meters = new Map<string, Cached<unknown, Meter>>();
let noopTracerProvider: TracerProvider | undefined;

/**
 * @internal The tracer of `scope`, or undefined while no tracer provider is registered: callers
 * then create no span at all (the API's no-op tracer would still allocate one per call). A
 * provider registered later is seen on the next call.
 */
export function activeTracer(scope: string): Tracer | undefined {
  const api = otelApi();
  if (api === undefined) return undefined;
  const global = api.trace.getTracerProvider() as TracerProvider & {
    getDelegate?: () => TracerProvider;
  };
  const provider = typeof global.getDelegate === 'function' ? global.getDelegate() : global;
  noopTracerProvider ??= new api.ProxyTracerProvider().getDelegate();
  let cached = tracers.get(scope);
  if (cached === undefined)
    tracers.set(scope, (cached = { provider: undefined, value: undefined }));
  if (cached.provider !== provider) {
    cached.provider = provider;
    cached.value = provider === noopTracerProvider ? undefined : provider.getTracer(scope);
  }
  return cached.value;
}

/**
 * @internal The meter of `scope`, or undefined while no meter provider is registered (the API's
 * metrics have no proxy: a meter taken before the SDK registers would stay a no-op, so the
 * provider is looked up on every call).
 */
export function activeMeter(scope: string): Meter | undefined {
  const api = otelApi();
  if (api === undefined) return undefined;
  const provider = api.metrics.getMeterProvider();
  let cached = meters.get(scope);
  if (cached === undefined) meters.set(scope, (cached = { provider: undefined, value: undefined }));
  if (cached.provider !== provider) {
    cached.provider = provider;
    const meter = provider.getMeter(scope);
    cached.value = meter === api.createNoopMeter() ? undefined : meter;
  }
  return cached.value;
}
