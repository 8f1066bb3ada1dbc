import type { IBackoff } from 'cockatiel';
import type { Dispatcher } from 'undici';
import {
  HEADERS,
  InvalidOptionError,
  KEYED_METHODS,
  formatIdempotencyKey,
  generateIdempotencyKey,
  IDEMPOTENT_METHODS,
  parseIdempotencyKey,
  validateIdempotencyKey,
} from '@unfazed/contract';
import type { AttemptRecord, CallInfo } from './errors.js';
import {
  resolveMaxRetries,
  resolveTimeouts,
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
  if (typeof req !== 'object' || req === null) {
    throw new InvalidOptionError('request', 'must be an object', req);
  }
  const method = (req.method ?? 'GET').toUpperCase();
  if (
    typeof req.method !== 'undefined' &&
    (typeof req.method !== 'string' || !METHOD.test(method))
  ) {
    throw new InvalidOptionError('method', 'must be an HTTP method token', req.method);
  }
  const target = targetOf(req, options.baseUrl);
  const headers: Record<string, string | string[]> = { ...lowerCased(options.headers) };
  if (req.headers !== undefined) {
    if (typeof req.headers !== 'object' || req.headers === null) {
      throw new InvalidOptionError('headers', 'must be an object', req.headers);
    }
    for (const name in req.headers) {
      if (!Object.hasOwn(req.headers, name)) continue;
      const value = req.headers[name];
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
  }
  if (req.json !== undefined && req.body !== undefined) {
    throw new InvalidOptionError('json', 'cannot be combined with body', req.json);
  }
  let body: BodySource;
  if (req.json !== undefined) {
    let text: string;
    try {
      text = JSON.stringify(req.json);
    } catch (error) {
      throw new InvalidOptionError(
        'json',
        `cannot be serialised: ${(error as Error).message}`,
        req.json,
      );
    }
    body = bodySource(text);
    headers['content-type'] ??= 'application/json';
  } else {
    try {
      body = bodySource(req.body);
    } catch (error) {
      throw new InvalidOptionError('body', (error as Error).message, req.body);
    }
  }

  const idempotencyKey = keyOf(req, options.idempotency.autoKey, method, headers);
  const t =
    req.timeout === undefined
      ? options.timeout
      : resolveTimeouts('timeout', req.timeout, options.timeout);
  const maxRetries =
    req.retry?.maxRetries === undefined
      ? options.retry.maxRetries
      : resolveMaxRetries('retry.maxRetries', req.retry.maxRetries);
  const signal = req.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError('signal', 'must be an AbortSignal', signal);
  }
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

function targetOf(req: RequestOptions, baseUrl: URL | undefined): Target {
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

function urlOf(req: RequestOptions, baseUrl: URL | undefined): URL {
  if (req.url !== undefined && req.path !== undefined) {
    throw new InvalidOptionError('url', 'cannot be combined with path', req.url);
  }
  let url: URL;
  if (req.url !== undefined) {
    try {
      url = new URL(req.url);
    } catch {
      throw new InvalidOptionError('url', 'must be an absolute http(s) URL', req.url);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidOptionError('url', 'must use http: or https:', req.url);
    }
  } else if (req.path !== undefined) {
    if (typeof req.path !== 'string')
      throw new InvalidOptionError('path', 'must be a string', req.path);
    if (!baseUrl) {
      throw new InvalidOptionError(
        'path',
        'needs the client option baseUrl (or pass url)',
        req.path,
      );
    }
    url = joinPath(baseUrl, req.path);
  } else {
    throw new InvalidOptionError('path', 'a request needs path or url', undefined);
  }
  if (req.query !== undefined) {
    for (const [name, value] of Object.entries(req.query)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value])
        url.searchParams.append(name, String(v));
    }
  }
  return url;
}

function keyOf(
  req: RequestOptions,
  autoKey: boolean,
  method: string,
  headers: Record<string, string | string[]>,
): string | undefined {
  const given = req.idempotencyKey;
  if (given === false) return undefined;
  if (typeof given === 'string') {
    try {
      headers[HEADERS.idempotencyKey] = formatIdempotencyKey(validateIdempotencyKey(given));
    } catch (error) {
      throw new InvalidOptionError('idempotencyKey', (error as Error).message, given);
    }
    return given;
  }
  if (given !== undefined) {
    throw new InvalidOptionError('idempotencyKey', 'must be a string or false', given);
  }
  const header = headers[HEADERS.idempotencyKey];
  if (header !== undefined) {
    const parsed = parseIdempotencyKey(header);
    if (!parsed.ok) throw new InvalidOptionError('headers.idempotency-key', parsed.message, header);
    return parsed.key;
  }
  if (!autoKey || !KEYED_METHODS.includes(method)) return undefined;
  const key = generateIdempotencyKey();
  // A UUID needs neither the checks nor the escaping of formatIdempotencyKey: quoting it is
  // its sf-string form.
  headers[HEADERS.idempotencyKey] = `"${key}"`;
  return key;
}

/** Appends `path` to the base URL's path (a leading `/` on `path` does not drop the base path). */
export function joinPath(base: URL, path: string): URL {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  return new URL(`${base.origin}${prefix}${path.startsWith('/') ? path : `/${path}`}`);
}
