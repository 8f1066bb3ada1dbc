import type { IBackoff } from 'cockatiel';
import type { Dispatcher } from 'undici';
import {
  HEADERS,
  KEYED_METHODS,
  formatIdempotencyKey,
  generateIdempotencyKey,
  IDEMPOTENT_METHODS,
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
}

/** Upper-case, as `method` is once checked. */
const IDEMPOTENT: ReadonlySet<string> = new Set(IDEMPOTENT_METHODS);

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

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
      const headers: Record<string, string | string[]> = { ...lowerCased(options.headers) };
      if (r.headers !== undefined) {
        for (const name in r.headers) {
          const value = r.headers[name];
          if (value !== undefined) headers[name.toLowerCase()] = value;
        }
      }
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

type CheckedRequest = OptionsOf<ReturnType<typeof requestRule>>;

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
): Call {
  let rule = requestRules.get(options);
  if (rule === undefined) {
    rule = requestRule(options);
    requestRules.set(options, rule);
  }
  const r = validateOptions(rule, req, { name: 'request' });
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
  const t = r.timeout ?? options.timeout;
  const maxRetries = r.retry?.maxRetries ?? options.retry.maxRetries;
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
  };
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
