import { createRequire } from 'node:module';
import type * as OtelApiModule from '@opentelemetry/api';

/** @internal The `@opentelemetry/api` module, as loaded. */
export type OtelApi = typeof OtelApiModule;

let loaded: OtelApi | null | undefined;

/**
 * @internal `@opentelemetry/api` when it is installed, else undefined: an optional peer
 * dependency, loaded on first use (a CommonJS host's own `require` first, so that a test
 * runner's module registry is the application's). Its registrations live on a global, so any
 * copy of the API sees the application's SDK.
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
