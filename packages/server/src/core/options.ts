import { KEYED_METHODS, option, validateOptions, type ShapeFor } from '@unfazed/contract';
import type { IdempotencyEventName, IdempotencyListeners } from './events.js';
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

const timerMs = option.duration({ integer: true });
const bytes = option.number({ integer: true, min: 1 });
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const EVENTS: readonly IdempotencyEventName[] = [
  'claimed',
  'replayed',
  'conflict',
  'mismatch',
  'completed',
  'released',
  'storeError',
  'failOpen',
  'leaseExpired',
];
const listener = option.function<(event: never) => void>().optional();

// The request type is the adapter's: the schema checks the functions' kind, the caller's
// `IdempotencyMiddlewareOptions<TReq>` keeps their signatures.
type AnyRequest = never;

const optionsRule = option
  .object(
    {
      store: option.instance<IdempotencyStore>(
        'an idempotency store (redisIdempotencyStore(redis) or memoryIdempotencyStore())',
        ['claim', 'complete', 'release', 'renew'],
      ),
      methods: option
        .array(option.string({ test: { check: METHOD, rule: 'an HTTP method name' } }), {
          minLength: 1,
          description: 'an array of HTTP method names',
        })
        .default(KEYED_METHODS),
      required: option.boolean().default(true),
      scope: option.function<IdempotencyMiddlewareOptions<AnyRequest>['scope'] & {}>().optional(),
      excludeFields: option
        .array(option.string({ nonEmpty: true }), { description: 'an array of field names' })
        .default([]),
      fingerprint: option
        .function<IdempotencyMiddlewareOptions<AnyRequest>['fingerprint'] & {}>()
        .optional(),
      leaseMs: timerMs.default(60_000),
      leaseRenewalMs: timerMs.optional(),
      retentionMs: option.number({ integer: true, min: 1 }).default(86_400_000),
      storeTimeoutMs: timerMs.default(1_000),
      unavailableRetryAfterMs: timerMs.default(1_000),
      inFlightRetryAfterMs: timerMs.default(1_000),
      failOpen: option.boolean().default(false),
      maxBodyBytes: bytes.default(1_048_576),
      maxResponseBytes: bytes.default(1_048_576),
      storedHeaders: option
        .array(
          option
            .string({ nonEmpty: true })
            .refine((header, fail) =>
              NEVER_STORED_HEADERS.includes(header.toLowerCase())
                ? fail(undefined, 'must not name a per-response or hop-by-hop header')
                : header.toLowerCase(),
            ),
          { description: 'an array of header names' },
        )
        .default([]),
      shouldStore: option.function<(status: number) => boolean>().default(defaultShouldStore),
      on: option.object(Object.fromEntries(EVENTS.map((name) => [name, listener]))).default({}),
    } satisfies ShapeFor<IdempotencyMiddlewareOptions<AnyRequest>>,
    {
      aliases: {
        ttl: 'retentionMs',
        ttlMs: 'retentionMs',
        retention: 'retentionMs',
        lease: 'leaseMs',
        timeout: 'storeTimeoutMs',
        storeTimeout: 'storeTimeoutMs',
        maxBodySize: 'maxBodyBytes',
        listeners: 'on',
      },
    },
  )
  .refine((o, fail) => {
    if (o.leaseMs < 2) fail('leaseMs', 'must be at least 2 ms (it is renewed before it ends)');
    const leaseRenewalMs = o.leaseRenewalMs ?? Math.max(1, Math.floor(o.leaseMs / 3));
    if (leaseRenewalMs >= o.leaseMs) {
      fail('leaseRenewalMs', `must be less than leaseMs (${o.leaseMs})`, leaseRenewalMs);
    }
    return { ...o, leaseRenewalMs };
  });

/**
 * Applies defaults and checks every option.
 * @throws {InvalidOptionError} naming the option and the rule it broke (unknown keys with a hint).
 */
export function resolveOptions<TReq>(
  options: IdempotencyMiddlewareOptions<TReq>,
): ResolvedOptions<TReq> {
  const o = validateOptions(optionsRule, options, { name: 'idempotency' });
  return {
    ...o,
    methods: new Set(o.methods.map((m) => m.toUpperCase())),
    scope: o.scope as ResolvedOptions<TReq>['scope'],
    fingerprint: o.fingerprint as ResolvedOptions<TReq>['fingerprint'],
    storedHeaders: new Set([...DEFAULT_STORED_HEADERS, ...o.storedHeaders]),
    on: o.on as IdempotencyListeners,
  };
}
