import { InvalidOptionError, KEYED_METHODS } from '@unfazed/contract';
import type { IdempotencyListeners } from './events.js';
import type { IdempotencyStore } from './store.js';
import { DEFAULT_STORED_HEADERS, NEVER_STORED_HEADERS } from './stored-headers.js';

/**
 * Options of the Idempotency-Key middleware, shared by the Express and Fastify adapters.
 * `TReq` is the framework's request type.
 */
export interface IdempotencyMiddlewareOptions<TReq> {
  /** Where records live: `redisIdempotencyStore(redis)` or `memoryIdempotencyStore()`. Required. */
  store: IdempotencyStore;
  /** Methods the middleware covers; others pass through untouched. Default `['POST', 'PATCH']`. */
  methods?: readonly string[];
  /** Answer 400 when a covered request has no key. Default `true`. */
  required?: boolean;
  /**
   * The principal the key belongs to (e.g. the authenticated user or tenant). Part of the record
   * key and the fingerprint, so one scope never sees another's stored response. Default: none.
   */
  scope?: (req: TReq) => string | undefined | Promise<string | undefined>;
  /** Top-level or dotted JSON fields left out of the fingerprint (e.g. a client timestamp). */
  excludeFields?: readonly string[];
  /** Replaces the default fingerprint (method + target + raw body + scope). */
  fingerprint?: (req: TReq, rawBody: Buffer) => string | Promise<string>;
  /** In-flight lease, ms; renewed while the handler runs. Default 60 000. */
  leaseMs?: number;
  /** How often the lease is renewed, ms. Default a third of `leaseMs`. */
  leaseRenewalMs?: number;
  /** How long completed records are kept, ms. Default 86 400 000 (24 h). */
  retentionMs?: number;
  /** Bound on each store call, ms; past it the store counts as unavailable. Default 1 000. */
  storeTimeoutMs?: number;
  /** `Retry-After` of the 503 answered when the store is unavailable, ms. Default 1 000. */
  unavailableRetryAfterMs?: number;
  /**
   * `Retry-After` of the 409 answered while the same key is in flight: a short poll hint, ms,
   * never more than the lease time left. Default 1 000.
   */
  inFlightRetryAfterMs?: number;
  /**
   * When the store is unavailable, run the handler without deduplication instead of answering
   * 503. A `failOpen` event fires every time. Default `false` (fail closed).
   */
  failOpen?: boolean;
  /** Largest request body fingerprinted, bytes; larger gets 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Largest response body kept for replay, bytes. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Response headers kept in addition to the default allow-list. `set-cookie` and the like are refused. */
  storedHeaders?: readonly string[];
  /**
   * Which handler statuses complete the record; the others release the key so a retry runs
   * again. Default: every status below 500 except 408, 425 and 429.
   */
  shouldStore?: (status: number) => boolean;
  /** Event listeners. */
  on?: IdempotencyListeners;
}

/** Options after defaults and validation. */
export interface ResolvedOptions<TReq> {
  store: IdempotencyStore;
  methods: ReadonlySet<string>;
  required: boolean;
  scope: ((req: TReq) => string | undefined | Promise<string | undefined>) | undefined;
  excludeFields: readonly string[];
  fingerprint: ((req: TReq, rawBody: Buffer) => string | Promise<string>) | undefined;
  leaseMs: number;
  leaseRenewalMs: number;
  retentionMs: number;
  storeTimeoutMs: number;
  unavailableRetryAfterMs: number;
  inFlightRetryAfterMs: number;
  failOpen: boolean;
  maxBodyBytes: number;
  maxResponseBytes: number;
  storedHeaders: ReadonlySet<string>;
  shouldStore: (status: number) => boolean;
  on: IdempotencyListeners;
}

/** Statuses that mean "not now" rather than an outcome: a retry must be able to run again. */
const RETRYABLE_CLIENT_STATUSES = new Set([408, 425, 429]);

/** The default storage policy: 2xx, 3xx and 4xx (except 408, 425, 429) are outcomes. */
export function defaultShouldStore(status: number): boolean {
  return status < 500 && !RETRYABLE_CLIENT_STATUSES.has(status);
}

/** Applies defaults and checks every option, throwing `InvalidOptionError` naming the culprit. */
export function resolveOptions<TReq>(
  options: IdempotencyMiddlewareOptions<TReq>,
): ResolvedOptions<TReq> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object with a store', options);
  }
  const { store } = options;
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.claim !== 'function' ||
    typeof store.complete !== 'function' ||
    typeof store.release !== 'function' ||
    typeof store.renew !== 'function'
  ) {
    throw new InvalidOptionError(
      'store',
      'must be an idempotency store (redisIdempotencyStore(redis) or memoryIdempotencyStore())',
      store,
    );
  }
  const leaseMs = positiveInt('leaseMs', options.leaseMs, 60_000);
  const leaseRenewalMs = positiveInt(
    'leaseRenewalMs',
    options.leaseRenewalMs,
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  if (leaseRenewalMs >= leaseMs) {
    throw new InvalidOptionError(
      'leaseRenewalMs',
      `must be less than leaseMs (${leaseMs})`,
      leaseRenewalMs,
    );
  }
  const methods = options.methods ?? KEYED_METHODS;
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string' || m.length === 0)) {
    throw new InvalidOptionError('methods', 'must be an array of method names', methods);
  }
  const extra = options.storedHeaders ?? [];
  if (!Array.isArray(extra) || extra.some((h) => typeof h !== 'string')) {
    throw new InvalidOptionError('storedHeaders', 'must be an array of header names', extra);
  }
  const refused = extra.find((h) => NEVER_STORED_HEADERS.includes(h.toLowerCase()));
  if (refused !== undefined) {
    throw new InvalidOptionError(
      'storedHeaders',
      `must not name a per-response or hop-by-hop header such as "${refused}"`,
      extra,
    );
  }
  const excludeFields = options.excludeFields ?? [];
  if (
    !Array.isArray(excludeFields) ||
    excludeFields.some((f) => typeof f !== 'string' || f === '')
  ) {
    throw new InvalidOptionError('excludeFields', 'must be an array of field names', excludeFields);
  }
  return {
    store,
    methods: new Set(methods.map((m) => m.toUpperCase())),
    required: bool('required', options.required, true),
    scope: fn('scope', options.scope),
    excludeFields,
    fingerprint: fn('fingerprint', options.fingerprint),
    leaseMs,
    leaseRenewalMs,
    retentionMs: positiveInt('retentionMs', options.retentionMs, 86_400_000),
    storeTimeoutMs: positiveInt('storeTimeoutMs', options.storeTimeoutMs, 1_000),
    unavailableRetryAfterMs: positiveInt(
      'unavailableRetryAfterMs',
      options.unavailableRetryAfterMs,
      1_000,
    ),
    inFlightRetryAfterMs: positiveInt('inFlightRetryAfterMs', options.inFlightRetryAfterMs, 1_000),
    failOpen: bool('failOpen', options.failOpen, false),
    maxBodyBytes: positiveInt('maxBodyBytes', options.maxBodyBytes, 1_048_576),
    maxResponseBytes: positiveInt('maxResponseBytes', options.maxResponseBytes, 1_048_576),
    storedHeaders: new Set([...DEFAULT_STORED_HEADERS, ...extra.map((h) => h.toLowerCase())]),
    shouldStore: fn('shouldStore', options.shouldStore) ?? defaultShouldStore,
    on: options.on ?? {},
  };
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(name, 'must be a positive integer', value);
  }
  return value;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, 'must be a boolean', value);
  return value;
}

function fn<T>(name: string, value: T | undefined): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionError(name, 'must be a function', value);
  return value;
}
