import { InvalidOptionError } from '@unfazed/contract';
import type { Dispatcher, Pool } from 'undici';

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

/** Retry policy. */
export interface RetryOptions {
  /** Retries after the first attempt (so at most `maxRetries + 1` attempts). Default 3. */
  maxRetries?: number;
  /** How long to wait between attempts when the server sends no `Retry-After`. */
  backoff?: BackoffOptions;
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

/** The effective, validated configuration. */
export interface ResolvedOptions {
  readonly baseUrl: URL | undefined;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly timeout: { readonly total: number; readonly attempt: number };
  readonly retry: {
    readonly maxRetries: number;
    readonly backoff: {
      readonly initialMs: number;
      readonly maxMs: number;
      readonly exponent: number;
    };
  };
  readonly breaker:
    | {
        readonly failureRatio: number;
        readonly windowMs: number;
        readonly minimumCalls: number;
        readonly openMs: number;
        readonly openGrowth: number;
        readonly maxOpenMs: number;
        readonly halfOpenProbes: number;
        readonly key: ((url: URL, method: string) => string) | undefined;
      }
    | false;
  readonly idempotency: { readonly autoKey: boolean };
  readonly dispatcher: Dispatcher | undefined;
  readonly pool: Pool.Options;
}

/** Defaults of every option. */
export const DEFAULTS = Object.freeze({
  timeout: Object.freeze({ total: 30_000, attempt: 10_000 }),
  retry: Object.freeze({
    maxRetries: 3,
    backoff: Object.freeze({ initialMs: 500, maxMs: 30_000, exponent: 2 }),
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

const KNOWN: Record<string, readonly string[]> = {
  '': ['baseUrl', 'headers', 'timeout', 'retry', 'breaker', 'idempotency', 'dispatcher', 'pool'],
  timeout: ['total', 'attempt'],
  retry: ['maxRetries', 'backoff'],
  'retry.backoff': ['initialMs', 'maxMs', 'exponent'],
  breaker: [
    'failureRatio',
    'windowMs',
    'minimumCalls',
    'openMs',
    'openGrowth',
    'maxOpenMs',
    'halfOpenProbes',
    'key',
  ],
  idempotency: ['autoKey'],
};

/**
 * Validates client options and fills in defaults.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  objectOrUndefined('options', options);
  checkKnown('', options);
  const baseUrl = options.baseUrl === undefined ? undefined : parseBaseUrl(options.baseUrl);
  const headers = options.headers ?? {};
  objectOrUndefined('headers', headers);

  objectOrUndefined('timeout', options.timeout);
  checkKnown('timeout', options.timeout);
  const timeout = resolveTimeouts('timeout', options.timeout, DEFAULTS.timeout);

  objectOrUndefined('retry', options.retry);
  checkKnown('retry', options.retry);
  const maxRetries = resolveMaxRetries('retry.maxRetries', options.retry?.maxRetries);
  const b = options.retry?.backoff;
  objectOrUndefined('retry.backoff', b);
  checkKnown('retry.backoff', b);
  const initialMs = positive(
    'retry.backoff.initialMs',
    b?.initialMs,
    DEFAULTS.retry.backoff.initialMs,
  );
  const maxMs = positive('retry.backoff.maxMs', b?.maxMs, DEFAULTS.retry.backoff.maxMs);
  if (maxMs < initialMs) {
    throw new InvalidOptionError(
      'retry.backoff.maxMs',
      `must be at least retry.backoff.initialMs (${initialMs})`,
      maxMs,
    );
  }
  const exponent = b?.exponent ?? DEFAULTS.retry.backoff.exponent;
  if (!isFiniteNumber(exponent) || exponent < 1) {
    throw new InvalidOptionError(
      'retry.backoff.exponent',
      'must be a finite number >= 1',
      exponent,
    );
  }

  let breaker: ResolvedOptions['breaker'] = false;
  if (options.breaker !== false) {
    const o = options.breaker;
    objectOrUndefined('breaker', o);
    checkKnown('breaker', o);
    const d = DEFAULTS.breaker;
    const failureRatio = o?.failureRatio ?? d.failureRatio;
    if (!isFiniteNumber(failureRatio) || failureRatio <= 0 || failureRatio > 1) {
      throw new InvalidOptionError(
        'breaker.failureRatio',
        'must be a number greater than 0 and at most 1',
        failureRatio,
      );
    }
    const windowMs = positive('breaker.windowMs', o?.windowMs, d.windowMs);
    if (windowMs < 2 * timeout.attempt) {
      throw new InvalidOptionError(
        'breaker.windowMs',
        `must be at least 2 × timeout.attempt (${2 * timeout.attempt} ms) so that slow failures are counted`,
        windowMs,
      );
    }
    const minimumCalls = integer('breaker.minimumCalls', o?.minimumCalls, d.minimumCalls, 1);
    const openMs = positive('breaker.openMs', o?.openMs, d.openMs);
    const openGrowth = o?.openGrowth ?? d.openGrowth;
    if (!isFiniteNumber(openGrowth) || openGrowth < 1) {
      throw new InvalidOptionError(
        'breaker.openGrowth',
        'must be a finite number >= 1',
        openGrowth,
      );
    }
    const maxOpenMs = positive('breaker.maxOpenMs', o?.maxOpenMs, Math.max(d.maxOpenMs, openMs));
    if (maxOpenMs < openMs) {
      throw new InvalidOptionError(
        'breaker.maxOpenMs',
        `must be at least breaker.openMs (${openMs})`,
        maxOpenMs,
      );
    }
    const halfOpenProbes = integer(
      'breaker.halfOpenProbes',
      o?.halfOpenProbes,
      d.halfOpenProbes,
      1,
    );
    if (o?.key !== undefined && typeof o.key !== 'function') {
      throw new InvalidOptionError(
        'breaker.key',
        'must be a function (url, method) => string',
        o.key,
      );
    }
    breaker = {
      failureRatio,
      windowMs,
      minimumCalls,
      openMs,
      openGrowth,
      maxOpenMs,
      halfOpenProbes,
      key: o?.key,
    };
  }

  objectOrUndefined('idempotency', options.idempotency);
  checkKnown('idempotency', options.idempotency);
  const autoKey = options.idempotency?.autoKey ?? DEFAULTS.idempotency.autoKey;
  if (typeof autoKey !== 'boolean') {
    throw new InvalidOptionError('idempotency.autoKey', 'must be true or false', autoKey);
  }

  const dispatcher = options.dispatcher;
  if (
    dispatcher !== undefined &&
    (typeof dispatcher !== 'object' ||
      dispatcher === null ||
      typeof (dispatcher as { request?: unknown }).request !== 'function')
  ) {
    throw new InvalidOptionError('dispatcher', 'must be an undici Dispatcher', dispatcher);
  }
  objectOrUndefined('pool', options.pool);

  return {
    baseUrl,
    headers,
    timeout,
    retry: { maxRetries, backoff: { initialMs, maxMs, exponent } },
    breaker,
    idempotency: { autoKey },
    dispatcher,
    pool: options.pool ?? {},
  };
}

/**
 * Validates per-call timeout overrides against the client's timeouts.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function resolveTimeouts(
  prefix: string,
  given: TimeoutOptions | undefined,
  defaults: { readonly total: number; readonly attempt: number },
): { total: number; attempt: number } {
  const total = positive(`${prefix}.total`, given?.total, defaults.total);
  const attemptDefault =
    given?.total !== undefined ? Math.min(defaults.attempt, total) : defaults.attempt;
  const attempt = positive(`${prefix}.attempt`, given?.attempt, attemptDefault);
  if (attempt > total) {
    throw new InvalidOptionError(
      `${prefix}.attempt`,
      `must be at most ${prefix}.total (${total} ms)`,
      attempt,
    );
  }
  return { total, attempt };
}

/**
 * Validates a `maxRetries` value.
 * @throws {InvalidOptionError} when it is not an integer in 0..100.
 */
export function resolveMaxRetries(option: string, value: unknown): number {
  const n = value ?? DEFAULTS.retry.maxRetries;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100) {
    throw new InvalidOptionError(option, 'must be an integer from 0 to 100', value);
  }
  return n;
}

function parseBaseUrl(value: unknown): URL {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new InvalidOptionError('baseUrl', 'must be an absolute http(s) URL string', value);
  }
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new InvalidOptionError('baseUrl', 'must be an absolute http(s) URL string', value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError('baseUrl', 'must use http: or https:', value);
  }
  if (url.search || url.hash) {
    throw new InvalidOptionError('baseUrl', 'must not have a query or a fragment', value);
  }
  return url;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Node fires a longer timer after 1 ms (with a warning): refuse such durations. */
const MAX_TIMER_MS = 2_147_483_647;

function positive(option: string, value: unknown, fallback: number): number {
  const n = value ?? fallback;
  if (!isFiniteNumber(n) || n <= 0) {
    throw new InvalidOptionError(option, 'must be a finite number of milliseconds > 0', value);
  }
  if (n > MAX_TIMER_MS) {
    throw new InvalidOptionError(
      option,
      `must be at most ${MAX_TIMER_MS} ms (the longest Node timer)`,
      value,
    );
  }
  return n;
}

function integer(option: string, value: unknown, fallback: number, min: number): number {
  const n = value ?? fallback;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
    throw new InvalidOptionError(option, `must be an integer >= ${min}`, value);
  }
  return n;
}

function objectOrUndefined(option: string, value: unknown): void {
  if (
    value !== undefined &&
    (typeof value !== 'object' || value === null || Array.isArray(value))
  ) {
    throw new InvalidOptionError(option, 'must be an object', value);
  }
}

function checkKnown(prefix: string, value: object | undefined): void {
  if (value === undefined) return;
  const known = KNOWN[prefix] ?? [];
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) {
      const option = prefix ? `${prefix}.${name}` : name;
      throw new InvalidOptionError(
        option,
        `is not a known option (known: ${known.join(', ')})`,
        (value as Record<string, unknown>)[name],
      );
    }
  }
}
