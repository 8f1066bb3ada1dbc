import type { AttemptOptions, AttemptResult } from '../attempt-result.js';
import type { RequestOptions } from '../client.js';
import type { CircuitStatus } from '../circuit-breaker.js';
import type { OperationResponse } from './types.js';

/*
 * The boundary between the durable queue and the HTTP client: the queue makes its attempts
 * through `attemptWith()` and reads nothing of the client but what this file exports.
 */

export type { AttemptResult } from '../attempt-result.js';
/** The client's backoff option names, which the queue's backoff option accepts too. */
export { BACKOFF_ALIASES } from '../options.js';

/**
 * The request an operation type builds from its input: the options of `client.request()`
 * without those the queue owns (the idempotency key is always the operation id; the queue
 * sets the signal, the timeout and one call per attempt).
 */
export type DurableRequest = Omit<
  RequestOptions,
  'idempotencyKey' | 'signal' | 'timeout' | 'retry'
>;

/**
 * The part of `@unfazed/client`'s `Client` the durable queue uses: `attempt` (one classified
 * attempt) and, to skip targets whose circuit is open, `circuit`. The client made by
 * `createClient()` fits.
 */
export interface DurableClient {
  /** One attempt, no retries, as one classified value (see `Client.attempt`). */
  attempt(req: RequestOptions, options?: AttemptOptions): Promise<AttemptResult>;
  circuit?(urlOrOrigin: string): CircuitStatus;
  /**
   * The client's policy: path-only requests target the origin of its `baseUrl`; its backoff and
   * attempt timeout are the queue's defaults.
   */
  describe?(): ClientPolicy;
}

/** The part of `client.describe()` the queue reads. */
export interface ClientPolicy {
  readonly baseUrl: string | undefined;
  readonly timeout?: { readonly attempt?: number };
  readonly retry?: {
    readonly backoff?: {
      readonly initialMs: number;
      readonly maxMs: number;
      readonly exponent: number;
    };
  };
}

/** Response headers as a plain lower-case map, whatever shape the client returned. */
export function headerMap(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === null || typeof headers !== 'object') return out;
  const h = headers as { forEach?: unknown };
  if (typeof h.forEach === 'function' && !Array.isArray(headers)) {
    (headers as { forEach(cb: (v: string, k: string) => void): void }).forEach((v, k) => {
      out[k.toLowerCase()] = v;
    });
  } else {
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
      if (typeof v === 'string') out[k.toLowerCase()] = v;
      else if (Array.isArray(v)) out[k.toLowerCase()] = v.join(', ');
    }
  }
  delete out['set-cookie'];
  return out;
}

/** A response in the shape the store keeps, the body cut at `maxBytes`. */
export function storedResponse(
  status: number,
  headers: unknown,
  text: string,
  maxBytes: number,
): OperationResponse {
  const body =
    Buffer.byteLength(text) > maxBytes
      ? Buffer.from(text).subarray(0, maxBytes).toString('utf8')
      : text;
  return { status, headers: headerMap(headers), body };
}

/**
 * @internal One attempt of `request` under `idempotencyKey`, through the client's `attempt()`:
 * the client classifies the outcome once, by the contract, and the queue reads that value.
 */
export function attemptWith(
  client: DurableClient,
  request: RequestOptions,
  options: { readonly signal: AbortSignal; readonly timeout: number },
): Promise<AttemptResult> {
  return client.attempt(request, options);
}
