import type { IBackoff } from 'cockatiel';
import type { Dispatcher } from 'undici';
import {
  HEADERS,
  KEYED_METHODS,
  formatIdempotencyKey,
  generateIdempotencyKey,
  IDEMPOTENT_METHODS,
  MAX_TIMER_MS,
  option,
  parseIdempotencyKey,
  validateIdempotencyKey,
  validateOptions,
  type OptionRule,
  type OptionsOf,
  type ShapeFor,
} from '@unfazed/contract';
import type { AttemptRecord, CallInfo } from './errors.js';
import {
  headerValueRule,
  maxRetriesRule,
  timeoutRule,
  type ResolvedOptions,
  type TimeoutOptions,
} from './options.js';

import { bodySource, type BodySource, type RequestBody } from './request-body.js';

/** A query-string value. */
export type QueryValue = string | number | boolean;

/** One call. */
export interface RequestOptions {
  /** HTTP method. Default `GET`. */
  method?: string;
  /** Path appended to the client's `baseUrl` (may carry a query string). */
  path?: string;
  /** Absolute URL, instead of `path`. */
  url?: string | URL;
  /** Query parameters appended to the URL; arrays repeat the name, `undefined` is skipped. */
  query?: Record<string, QueryValue | readonly QueryValue[] | undefined>;
  /** Request headers (merged over the client's). */
  headers?: Record<string, string | string[] | undefined>;
  /** A value sent as JSON (`content-type: application/json` unless given). */
  json?: unknown;
  /** A body: string or bytes, a factory called per attempt, or a one-shot stream (never retried). */
  body?: RequestBody;
  /**
   * The Idempotency-Key of this logical operation, sent (as an sf-string) on every attempt.
   * Default: a new UUIDv7 for POST and PATCH (unless `idempotency.autoKey` is off). `false`: none.
   */
  idempotencyKey?: string | false;
  /** Cancels the call: the running attempt and any backoff wait. */
  signal?: AbortSignal;
  /** Per-call timeouts. */
  timeout?: TimeoutOptions;
  /** Per-call retry budget. */
  retry?: { maxRetries?: number };
}

/** An attempt record the client fills in as the call goes. */
export type MutableRecord = { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] };

/** One call in progress: what to send, its budget, and what happened so far. */
export interface Call {
  readonly info: CallInfo;
  readonly origin: string;
  readonly path: string;
  readonly method: Dispatcher.HttpMethod;
  readonly headers: Record<string, string | string[]>;
  readonly body: BodySource;
  readonly safeToResend: boolean;
  readonly totalMs: number;
  readonly attemptMs: number;
  readonly maxRetries: number;
  readonly breakerKey: string | undefined;
  readonly callerSignal: AbortSignal | undefined;
  readonly deadline: number;
  readonly records: MutableRecord[];
  backoff: IBackoff<unknown> | undefined;
  pendingDelay: number;
  /** A fleet-wide retry budget's pending answer for the retry being waited for. */
  pendingGrant: Promise<boolean> | undefined;
}

/** Upper-case, as `method` is once checked. */
const IDEMPOTENT: ReadonlySet<string> = new Set(IDEMPOTENT_METHODS);

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Method tokens already in upper case: {@link quickCheck} takes them without regex or copy. */
const COMMON_METHODS: ReadonlySet<unknown> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
]);

const urlRule = option
  .instance<string | URL>(
    'an absolute http(s) URL',
    (v) => typeof v === 'string' || v instanceof URL,
  )
  .refine((value, fail): URL => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return fail(undefined, 'must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      fail(undefined, 'must use http: or https:');
    }
    return url;
  });

/** The shape of {@link RequestOptions}, resolved against one client's options. */
function requestRule(options: ResolvedOptions) {
  return option
    .object({
      method: option
        .string({ test: { check: METHOD, rule: 'an HTTP method token' } })
        .refine((m) => m.toUpperCase())
        .default('GET'),
      path: option.string().optional(),
      url: urlRule.optional(),
      query: option
        .passthrough<Record<string, QueryValue | readonly QueryValue[] | undefined>>()
        .optional(),
      headers: option.record(headerValueRule.optional()).optional(),
      json: option
        .unknown()
        .refine((json, fail): string => {
          try {
            // JSON.stringify of a function or a symbol gives undefined: sent as no body.
            return JSON.stringify(json) as string;
          } catch (error) {
            return fail(undefined, `cannot be serialised: ${(error as Error).message}`);
          }
        })
        .optional(),
      body: option
        .unknown()
        .refine((body, fail) => {
          try {
            return bodySource(body as RequestBody);
          } catch (error) {
            return fail(undefined, (error as Error).message);
          }
        })
        .optional(),
      idempotencyKey: option
        .union(
          option.oneOf([false]),
          option.string().refine((key, fail) => {
            try {
              return validateIdempotencyKey(key);
            } catch (error) {
              return fail(undefined, (error as Error).message);
            }
          }),
        )
        .optional(),
      signal: option
        .instance<AbortSignal>('an AbortSignal', (v) => v instanceof AbortSignal)
        .optional(),
      timeout: timeoutRule(options.timeout).optional(),
      retry: option.object({ maxRetries: maxRetriesRule.optional() }).optional(),
    } satisfies ShapeFor<RequestOptions>)
    .refine((r, fail) => {
      if (r.url !== undefined && r.path !== undefined) fail('url', 'cannot be combined with path');
      if (r.url === undefined) {
        if (r.path === undefined) fail('path', 'a request needs path or url', undefined);
        if (options.baseUrl === undefined) {
          fail('path', 'needs the client option baseUrl (or pass url)');
        }
      }
      if (r.json !== undefined && r.body !== undefined) {
        fail('json', 'cannot be combined with body');
      }
      const headers = mergeHeaders(options.headers, r.headers);
      let headerKey: string | undefined;
      const header = headers[HEADERS.idempotencyKey];
      if (r.idempotencyKey === undefined && header !== undefined) {
        const parsed = parseIdempotencyKey(header);
        if (!parsed.ok) fail('headers.idempotency-key', parsed.message, header);
        else headerKey = parsed.key;
      }
      // `r` is the validator's own copy: completing it spares another object per call.
      const checked = r as typeof r & {
        headers: Record<string, string | string[]>;
        headerKey?: string;
      };
      checked.headers = headers;
      if (headerKey !== undefined) checked.headerKey = headerKey;
      return checked;
    });
}

/** @internal A request as the request rule resolves it. */
export type CheckedRequest = OptionsOf<ReturnType<typeof requestRule>>;

/** The client's headers, then the request's over them, names lower-cased. */
function mergeHeaders(
  client: Readonly<Record<string, string | string[]>>,
  request: Record<string, string | string[] | undefined> | undefined,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { ...lowerCased(client) };
  if (request !== undefined) {
    for (const name in request) {
      const value = request[name];
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
  }
  return headers;
}

/** True for what `headerValueRule` accepts, or `undefined` (an optional header). */
function isHeaderValue(value: unknown): boolean {
  if (value === undefined || typeof value === 'string') return true;
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}

/**
 * The request rule's answer for the common shape of a call (method, path, headers, a JSON
 * value or a buffered body, key, signal), checked by hand: the generic rule walks its whole
 * schema per call, which cost about a microsecond, as much as the rest of the client's work.
 * Returns undefined whenever the shape is anything else or something may be wrong, so that
 * the generic rule decides: it alone words the errors, and it handles `url`, `query`,
 * `timeout`, `retry` and stream or factory bodies. What this accepts, the rule accepts with
 * the same result.
 * @internal Exported for its test.
 */
export function quickCheck(
  req: RequestOptions,
  options: ResolvedOptions,
): CheckedRequest | undefined {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return undefined;
  if (options.baseUrl === undefined) return undefined;
  for (const key in req) {
    switch (key) {
      case 'method':
      case 'path':
      case 'headers':
      case 'json':
      case 'body':
      case 'idempotencyKey':
      case 'signal':
        break;
      default:
        return undefined;
    }
  }
  const { path, headers: given, json, body: rawBody, idempotencyKey, signal } = req;
  if (typeof path !== 'string') return undefined;
  let method = req.method;
  if (method === undefined) method = 'GET';
  else if (!COMMON_METHODS.has(method)) {
    if (typeof method !== 'string' || !METHOD.test(method)) return undefined;
    method = method.toUpperCase();
  }
  if (given !== undefined) {
    if (typeof given !== 'object' || given === null || Array.isArray(given)) return undefined;
    for (const name in given) if (!isHeaderValue(given[name])) return undefined;
  }
  let jsonText: string | undefined;
  if (json !== undefined) {
    if (rawBody !== undefined) return undefined;
    try {
      jsonText = JSON.stringify(json) as string | undefined;
    } catch {
      return undefined;
    }
  }
  let body: BodySource | undefined;
  if (rawBody !== undefined) {
    // Streams are left to the rule: wrapping one twice (here, then there) would lock it.
    if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) return undefined;
    body = bodySource(rawBody);
  }
  if (idempotencyKey !== undefined && idempotencyKey !== false) {
    if (typeof idempotencyKey !== 'string') return undefined;
    try {
      validateIdempotencyKey(idempotencyKey);
    } catch {
      return undefined;
    }
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) return undefined;
  const headers = mergeHeaders(options.headers, given);
  let headerKey: string | undefined;
  const header = headers[HEADERS.idempotencyKey];
  if (idempotencyKey === undefined && header !== undefined) {
    const parsed = parseIdempotencyKey(header);
    if (!parsed.ok) return undefined;
    headerKey = parsed.key;
  }
  const checked: {
    method: string;
    path: string;
    headers: Record<string, string | string[]>;
    json?: string;
    body?: BodySource;
    idempotencyKey?: string | false;
    signal?: AbortSignal;
    headerKey?: string;
  } = { method, path, headers };
  if (jsonText !== undefined) checked.json = jsonText;
  if (body !== undefined) checked.body = body;
  if (idempotencyKey !== undefined) checked.idempotencyKey = idempotencyKey;
  if (signal !== undefined) checked.signal = signal;
  if (headerKey !== undefined) checked.headerKey = headerKey;
  return checked as CheckedRequest;
}

/**
 * `attempt()`'s limits, given beside the request instead of as its `timeout` and `retry`
 * options, so that the request keeps the hand-checked fast path (per-call `timeout`/`retry`
 * send it to the generic rule, ~10 µs per attempt). `totalMs` must already be a valid
 * duration (see {@link isDurationMs}); the request's own `timeout` and `retry` must be absent.
 */
export interface SingleAttempt {
  /** The attempt's total timeout, ms; the client's default when undefined. */
  readonly totalMs?: number | undefined;
}

/** Whether `ms` is a duration the `timeout.total` rule accepts as it is. */
export function isDurationMs(ms: number): boolean {
  return Number.isFinite(ms) && ms > 0 && ms <= MAX_TIMER_MS;
}

/** One request rule per client: it resolves against that client's options. */
const requestRules = new WeakMap<ResolvedOptions, OptionRule<CheckedRequest>>();

/**
 * Validates one request and turns it into a call: URL, headers, Idempotency-Key, body source,
 * effective timeouts and retry budget.
 * @throws {InvalidOptionError} naming the request option and the rule it broke.
 */
export function prepareCall(
  req: RequestOptions,
  options: ResolvedOptions,
  breakerKeyOf: 'origin' | ((url: URL, method: string) => string) | undefined,
  single?: SingleAttempt,
): Call {
  const r = quickCheck(req, options) ?? checkedByRule(req, options);
  const { method, headers } = r;
  const target = targetOf(r, options.baseUrl);
  let body: BodySource;
  if (r.json !== undefined) {
    body = bodySource(r.json);
    headers['content-type'] ??= 'application/json';
  } else {
    body = r.body ?? bodySource(undefined);
  }
  const idempotencyKey = keyOf(r, options.idempotency.autoKey);
  let t = r.timeout ?? options.timeout;
  if (single?.totalMs !== undefined) {
    // As the rule resolves `timeout: { total }`: the attempt timeout is clamped to it.
    t = { total: single.totalMs, attempt: Math.min(options.timeout.attempt, single.totalMs) };
  }
  const maxRetries = single ? 0 : (r.retry?.maxRetries ?? options.retry.maxRetries);
  const signal = r.signal;
  return {
    info: { method, url: target.href, idempotencyKey },
    origin: target.origin,
    path: target.path,
    method: method as Dispatcher.HttpMethod,
    headers,
    body,
    safeToResend: IDEMPOTENT.has(method) || headers[HEADERS.idempotencyKey] !== undefined,
    totalMs: t.total,
    attemptMs: t.attempt,
    maxRetries,
    breakerKey:
      breakerKeyOf === undefined
        ? undefined
        : breakerKeyOf === 'origin'
          ? target.origin
          : breakerKeyOf(target.url ?? new URL(target.href), method),
    callerSignal: signal,
    deadline: performance.now() + t.total,
    records: [],
    backoff: undefined,
    pendingDelay: 0,
    pendingGrant: undefined,
  };
}

/**
 * @internal The generic request rule's verdict (exported for the test that holds
 * {@link quickCheck} to it).
 * @throws {InvalidOptionError} naming the request option and the rule it broke.
 */
export function checkedByRule(req: RequestOptions, options: ResolvedOptions): CheckedRequest {
  let rule = requestRules.get(options);
  if (rule === undefined) {
    rule = requestRule(options);
    requestRules.set(options, rule);
  }
  return validateOptions(rule, req, { name: 'request' });
}

/** Where a call goes: what undici needs, and the URL the errors and events name. */
interface Target {
  readonly href: string;
  readonly origin: string;
  /** Path and query string, as sent. */
  readonly path: string;
  /** Set when the URL was parsed. */
  readonly url: URL | undefined;
}

/**
 * A path the WHATWG URL parser leaves as it is (no character it would percent-encode, no dot
 * segment, no fragment, no empty query): joined to the base URL by concatenation, it gives the
 * same href, which spares a URL parse per call.
 */
const VERBATIM_PATH = /^\/?[\w\-.~!$&()*+,;=:@%/]*(?:\?[\w\-.~!$&()*+,;=:@%/?]+)?$/;
const DOT_SEGMENT = /\/\.|%2e/i;

/** The origin and path prefix of a base URL, computed once per client. */
const bases = new WeakMap<URL, { readonly origin: string; readonly prefix: string }>();

function targetOf(req: CheckedRequest, baseUrl: URL | undefined): Target {
  const path = req.path;
  if (
    req.url === undefined &&
    req.query === undefined &&
    baseUrl !== undefined &&
    typeof path === 'string' &&
    VERBATIM_PATH.test(path)
  ) {
    let base = bases.get(baseUrl);
    if (!base) {
      const pathname = baseUrl.pathname;
      base = {
        origin: baseUrl.origin,
        prefix: pathname.endsWith('/') ? pathname.slice(0, -1) : pathname,
      };
      bases.set(baseUrl, base);
    }
    const joined = base.prefix + (path.startsWith('/') ? path : `/${path}`);
    if (!DOT_SEGMENT.test(joined)) {
      return { href: base.origin + joined, origin: base.origin, path: joined, url: undefined };
    }
  }
  const url = urlOf(req, baseUrl);
  return { href: url.href, origin: url.origin, path: url.pathname + url.search, url };
}

/** The client's headers with lower-case names, computed once per client. */
const lowerCasedHeaders = new WeakMap<object, Record<string, string | string[]>>();

function lowerCased(
  headers: Readonly<Record<string, string | string[]>>,
): Record<string, string | string[]> {
  let lower = lowerCasedHeaders.get(headers);
  if (!lower) {
    lower = {};
    for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
    lowerCasedHeaders.set(headers, lower);
  }
  return lower;
}

function urlOf(req: CheckedRequest, baseUrl: URL | undefined): URL {
  // The request rule saw to it that there is exactly one of url and path, and a base for a path.
  const url = req.url ?? joinPath(baseUrl as URL, req.path as string);
  if (req.query !== undefined) {
    for (const [name, value] of Object.entries(req.query)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value])
        url.searchParams.append(name, String(v));
    }
  }
  return url;
}

function keyOf(req: CheckedRequest, autoKey: boolean): string | undefined {
  const given = req.idempotencyKey;
  if (given === false) return undefined;
  if (given !== undefined) {
    req.headers[HEADERS.idempotencyKey] = formatIdempotencyKey(given);
    return given;
  }
  if (req.headerKey !== undefined) return req.headerKey;
  if (!autoKey || !KEYED_METHODS.includes(req.method)) return undefined;
  const key = generateIdempotencyKey();
  // A UUID needs neither the checks nor the escaping of formatIdempotencyKey: quoting it is
  // its sf-string form.
  req.headers[HEADERS.idempotencyKey] = `"${key}"`;
  return key;
}

/** Appends `path` to the base URL's path (a leading `/` on `path` does not drop the base path). */
export function joinPath(base: URL, path: string): URL {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  return new URL(`${base.origin}${prefix}${path.startsWith('/') ? path : `/${path}`}`);
}
