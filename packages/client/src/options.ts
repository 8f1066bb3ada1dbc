import {
  option,
  validateOptions,
  type OptionRule,
  type OptionsOf,
  type ShapeFor,
} from '@unfazed/contract';
import type { Dispatcher, Pool } from 'undici';
import { isSharedRetryBudget, type SharedRetryBudget } from './shared-budget.js';
import { isSharedCircuit, type SharedCircuit } from './shared-circuit.js';

/** Timeouts of a call, in ms. */
export interface TimeoutOptions {
  /** Deadline of the whole call: every attempt and every wait. Default 30 000. */
  total?: number;
  /** Deadline of one attempt, until the response headers (and a problem body) arrived. Default 10 000. */
  attempt?: number;
}

/** Exponential backoff with decorrelated jitter (cockatiel's generator). */
export interface BackoffOptions {
  /** Scale of the first wait, in ms. Default 500. */
  initialMs?: number;
  /** Upper bound of one wait, in ms. Default 30 000. */
  maxMs?: number;
  /** Growth factor per retry. Default 2. */
  exponent?: number;
}

/**
 * A retry budget per origin: a token bucket (gRPC retry throttling, the AWS SDK's retry quota).
 * It starts full; a retry takes one token, a call the origin answered without a transient
 * failure earns `tokenRatio`, time gives back `refillPerSecond`. With less than one token left
 * retries stop: the call fails with `RetryBudgetExhaustedError` (`attempt()` and the durable
 * queue defer instead). Live retries, durable retries and redriven operations share it.
 */
export interface RetryBudgetOptions {
  /** Capacity, and the tokens the bucket starts with. Default 100. */
  maxTokens?: number;
  /** Tokens earned per success (a retry costs 1). Default 0.1. */
  tokenRatio?: number;
  /** Tokens given back per second, whatever the successes. Default 1. */
  refillPerSecond?: number;
  /** One bucket for every client given it, fleet-wide, in Redis: `sharedRetryBudget(redis)`. */
  shared?: SharedRetryBudget;
}

/** Retry policy. */
export interface RetryOptions {
  /** Retries after the first attempt (so at most `maxRetries + 1` attempts). Default 3. */
  maxRetries?: number;
  /** How long to wait between attempts when the server sends no `Retry-After`. */
  backoff?: BackoffOptions;
  /** The retry budget per origin, or `false` for none. Default: a local budget (see the README). */
  budget?: RetryBudgetOptions | false;
}

/** Circuit breaker policy, one breaker per key (the origin by default). */
export interface BreakerOptions {
  /** Failure ratio (0..1] over the window at which the circuit opens. Default 0.5. */
  failureRatio?: number;
  /** Sliding window the ratio is measured over, in ms. Default 30 000. */
  windowMs?: number;
  /** Calls the window must hold before the circuit may open. Default 20. */
  minimumCalls?: number;
  /** How long the circuit stays open the first time, in ms. Default 5 000. */
  openMs?: number;
  /** Each consecutive re-opening multiplies the open time by this. Default 2. */
  openGrowth?: number;
  /** Cap of the open time, in ms. Default 60 000. */
  maxOpenMs?: number;
  /**
   * Callers let through while half-open: the first is the probe, the others wait for its verdict;
   * any further caller is rejected at once. Default 3.
   */
  halfOpenProbes?: number;
  /** Breaker key of a request. Default: the URL's origin. Return e.g. `origin + path` to split per route. */
  key?: (url: URL, method: string) => string;
  /**
   * Share state changes with every client given the same value, in any process:
   * `sharedCircuit(redis, { prefix })`. Decisions stay local (no Redis call per request).
   */
  shared?: SharedCircuit;
}

/** Idempotency-Key handling. */
export interface AutoKeyOptions {
  /** Add a UUIDv7 key to every POST and PATCH that has none. Default true. */
  autoKey?: boolean;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Base URL that `path` is appended to, e.g. `http://payments.internal/v1`. */
  baseUrl?: string;
  /** Headers sent with every request (request headers win). */
  headers?: Record<string, string | string[]>;
  /** Default timeouts. */
  timeout?: TimeoutOptions;
  /** Default retry policy. */
  retry?: RetryOptions;
  /** Circuit breaker policy, or `false` for none. */
  breaker?: BreakerOptions | false;
  /** Idempotency-Key handling. */
  idempotency?: AutoKeyOptions;
  /**
   * An undici Dispatcher (Agent, Pool, MockAgent, ...) to send every request through. The client
   * does not close it. Default: one keep-alive undici `Pool` per origin, closed by `close()`.
   */
  dispatcher?: Dispatcher;
  /** Options of the pools the client creates (ignored with `dispatcher`). */
  pool?: Pool.Options;
}

/** Defaults of every option. */
export const DEFAULTS = Object.freeze({
  timeout: Object.freeze({ total: 30_000, attempt: 10_000 }),
  retry: Object.freeze({
    maxRetries: 3,
    backoff: Object.freeze({ initialMs: 500, maxMs: 30_000, exponent: 2 }),
    budget: Object.freeze({ maxTokens: 100, tokenRatio: 0.1, refillPerSecond: 1 }),
  }),
  breaker: Object.freeze({
    failureRatio: 0.5,
    windowMs: 30_000,
    minimumCalls: 20,
    openMs: 5_000,
    openGrowth: 2,
    maxOpenMs: 60_000,
    halfOpenProbes: 3,
  }),
  idempotency: Object.freeze({ autoKey: true }),
});

const ms = option.duration();

type Timeouts = { total: number; attempt: number };

/**
 * The `timeout` object of the client or of one call, resolved against `defaults`: a call that
 * sets only `total` gets an attempt timeout of at most that.
 */
export function timeoutRule(defaults: Readonly<Timeouts>): OptionRule<Timeouts> {
  return option
    .object({ total: ms.optional(), attempt: ms.optional() })
    .refine((t, fail): Timeouts => {
      const total = t.total ?? defaults.total;
      const attempt =
        t.attempt ?? (t.total !== undefined ? Math.min(defaults.attempt, total) : defaults.attempt);
      if (attempt > total) {
        fail('attempt', `must be at most timeout.total (${total} ms)`, attempt);
      }
      return { total, attempt };
    });
}

/** Retries after the first attempt. */
export const maxRetriesRule = option.number({ integer: true, min: 0, max: 100 });

/** Other libraries' names for the backoff options, answered with a hint to ours. */
export const BACKOFF_ALIASES = Object.freeze({
  initialDelay: 'initialMs',
  delay: 'initialMs',
  maxDelay: 'maxMs',
  factor: 'exponent',
  multiplier: 'exponent',
});

const backoffRule = option
  .object(
    {
      initialMs: ms.default(DEFAULTS.retry.backoff.initialMs),
      maxMs: ms.default(DEFAULTS.retry.backoff.maxMs),
      exponent: option.number({ min: 1 }).default(DEFAULTS.retry.backoff.exponent),
    } satisfies ShapeFor<BackoffOptions>,
    { aliases: BACKOFF_ALIASES },
  )
  .refine((b, fail) =>
    b.maxMs < b.initialMs
      ? fail('maxMs', `must be at least retry.backoff.initialMs (${b.initialMs})`)
      : b,
  );

const d = DEFAULTS.breaker;
const breakerRule = option
  .object({
    failureRatio: option.number({ above: 0, max: 1 }).default(d.failureRatio),
    windowMs: ms.default(d.windowMs),
    minimumCalls: option.number({ integer: true, min: 1 }).default(d.minimumCalls),
    openMs: ms.default(d.openMs),
    openGrowth: option.number({ min: 1 }).default(d.openGrowth),
    maxOpenMs: ms.optional(),
    halfOpenProbes: option.number({ integer: true, min: 1 }).default(d.halfOpenProbes),
    key: option
      .function<(url: URL, method: string) => string>('a function (url, method) => string')
      .optional(),
    shared: option
      .instance<SharedCircuit>('a value made by sharedCircuit(redis)', isSharedCircuit)
      .optional(),
  } satisfies ShapeFor<BreakerOptions>)
  .refine((b, fail) => {
    const maxOpenMs = b.maxOpenMs ?? Math.max(d.maxOpenMs, b.openMs);
    if (maxOpenMs < b.openMs) {
      fail('maxOpenMs', `must be at least breaker.openMs (${b.openMs})`);
    }
    return { ...b, maxOpenMs };
  });

const b = DEFAULTS.retry.budget;
const budgetRule = option.object({
  maxTokens: option.number({ min: 1 }).default(b.maxTokens),
  tokenRatio: option.number({ min: 0 }).default(b.tokenRatio),
  refillPerSecond: option.number({ min: 0 }).default(b.refillPerSecond),
  shared: option
    .instance<SharedRetryBudget>('a value made by sharedRetryBudget(redis)', isSharedRetryBudget)
    .optional(),
} satisfies ShapeFor<RetryBudgetOptions>);

const baseUrlRule = option
  .instance<string | URL>(
    'an absolute http(s) URL string',
    (v) => typeof v === 'string' || v instanceof URL,
  )
  .refine((value, fail): URL => {
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      return fail(undefined, 'must be an absolute http(s) URL string');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      fail(undefined, 'must use http: or https:');
    }
    if (url.search || url.hash) fail(undefined, 'must not have a query or a fragment');
    return url;
  });

/** Header values of the client (`string` or `string[]` per name). */
export const headerValueRule = option.union(option.string(), option.array(option.string()));

/** The schema of {@link ClientOptions}. */
const clientOptionsRule = option
  .object(
    {
      baseUrl: baseUrlRule.optional(),
      headers: option.record(headerValueRule, 'an object of header values').default({}),
      timeout: timeoutRule(DEFAULTS.timeout).default({}),
      retry: option
        .object({
          maxRetries: maxRetriesRule.default(DEFAULTS.retry.maxRetries),
          backoff: backoffRule.default({}),
          budget: option.union(option.oneOf([false]), budgetRule).default({}),
        } satisfies ShapeFor<RetryOptions>)
        .default({}),
      breaker: option.union(option.oneOf([false]), breakerRule).default({}),
      idempotency: option
        .object({
          autoKey: option.boolean().default(DEFAULTS.idempotency.autoKey),
        } satisfies ShapeFor<AutoKeyOptions>)
        .default({}),
      dispatcher: option.instance<Dispatcher>('an undici Dispatcher', ['request']).optional(),
      pool: option.passthrough<Pool.Options>().default({}),
    } satisfies ShapeFor<ClientOptions>,
    {
      aliases: {
        timeoutMs: 'timeout.total',
        retries: 'retry.maxRetries',
        maxRetries: 'retry.maxRetries',
        circuitBreaker: 'breaker',
      },
    },
  )
  .refine((o, fail) => {
    if (o.breaker !== false && o.breaker.windowMs < 2 * o.timeout.attempt) {
      fail(
        'breaker.windowMs',
        `must be at least 2 × timeout.attempt (${2 * o.timeout.attempt} ms) so that slow failures are counted`,
        o.breaker.windowMs,
      );
    }
    return o;
  });

/** The effective, validated configuration. */
export type ResolvedOptions = OptionsOf<typeof clientOptionsRule>;

/**
 * Validates client options and fills in defaults.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  return validateOptions(clientOptionsRule, options, { name: 'createClient' });
}
