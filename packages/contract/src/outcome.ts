import type { ProblemCode } from './problem.js';

/**
 * How an attempt ended, as the contract sees it:
 * - `success`: a 1xx-3xx answer; nothing to retry;
 * - `transient`: may work if tried again later (network errors, 408, 425, 429, 500, 502-504);
 * - `in-flight`: the server is still running the same key (its 409); retry after `Retry-After`;
 * - `fingerprint-mismatch`: the key was used with another request (its 422); never retry;
 * - `permanent`: any other answer or error; retrying will not help.
 */
export type OutcomeKind =
  'success' | 'transient' | 'permanent' | 'in-flight' | 'fingerprint-mismatch';

/** Whether the request may have reached the server before the failure. */
export type RequestSent = 'no' | 'maybe' | 'yes';

/** The verdict on one attempt. */
export interface Classification {
  readonly kind: OutcomeKind;
  /** True for `transient` and `in-flight`. */
  readonly retryable: boolean;
  /** Short reason, e.g. `status 503` or `ECONNRESET`. */
  readonly reason: string;
  /**
   * `no` when the request certainly never reached the server (connection refused, DNS failure,
   * connect timeout): then even a request without a key can be retried safely.
   */
  readonly requestSent: RequestSent;
}

/** Statuses the contract treats as transient. 501 and 505 are permanent: retrying cannot help. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Network error codes (Node and undici) that mean "try again later". */
export const TRANSIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Error codes after which the request certainly was not sent. */
export const NOT_SENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const ABORT_CODES: ReadonlySet<string> = new Set(['ABORT_ERR', 'UND_ERR_ABORTED']);

const success = (reason: string): Classification =>
  Object.freeze({ kind: 'success', retryable: false, reason, requestSent: 'yes' });

/**
 * Classifies an HTTP answer. `problemCode` is the contract code of the body, if the server
 * answered with Unfazed problem details: it tells the in-flight 409 and the fingerprint 422
 * apart from an application's own 409 or 422.
 */
export function classifyStatus(status: number, problemCode?: ProblemCode | string): Classification {
  const reason = `status ${status}`;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    return {
      kind: 'permanent',
      retryable: false,
      reason: `invalid status ${status}`,
      requestSent: 'yes',
    };
  }
  if (status < 400) return success(reason);
  if (status === 409 && problemCode === 'request-in-flight') {
    return {
      kind: 'in-flight',
      retryable: true,
      reason: `${reason} request-in-flight`,
      requestSent: 'yes',
    };
  }
  if (status === 422 && problemCode === 'idempotency-key-reused') {
    return {
      kind: 'fingerprint-mismatch',
      retryable: false,
      reason: `${reason} idempotency-key-reused`,
      requestSent: 'yes',
    };
  }
  if (status === 503 && problemCode === 'store-unavailable') {
    return {
      kind: 'transient',
      retryable: true,
      reason: `${reason} store-unavailable`,
      requestSent: 'yes',
    };
  }
  if (TRANSIENT_STATUSES.has(status)) {
    return { kind: 'transient', retryable: true, reason, requestSent: 'yes' };
  }
  return { kind: 'permanent', retryable: false, reason, requestSent: 'yes' };
}

/**
 * Classifies an error thrown while sending a request or reading its answer. Looks for a
 * known `code` on the error, its `cause` chain and the members of an `AggregateError`
 * (Node reports happy-eyeballs connect failures that way). Aborts are permanent: the
 * caller asked to stop. Unknown errors are permanent: retrying a bug does not fix it.
 */
export function classifyError(error: unknown): Classification {
  if (isAbort(error)) {
    return { kind: 'permanent', retryable: false, reason: 'aborted', requestSent: 'maybe' };
  }
  const code = networkErrorCodeOf(error);
  if (code !== undefined) {
    return {
      kind: 'transient',
      retryable: true,
      reason: code,
      requestSent: NOT_SENT_ERROR_CODES.has(code) ? 'no' : 'maybe',
    };
  }
  const name = errorCodeOf(error) ?? (error instanceof Error ? error.name : typeof error);
  return { kind: 'permanent', retryable: false, reason: name, requestSent: 'maybe' };
}

/** The first `code` found on an error, its cause chain or aggregated errors. */
export function errorCodeOf(error: unknown): string | undefined {
  let found: string | undefined;
  visit(error, (code) => {
    found ??= code;
  });
  return found;
}

/** The first transient network error code found on an error, its causes or aggregated errors. */
export function networkErrorCodeOf(error: unknown): string | undefined {
  let found: string | undefined;
  visit(error, (code) => {
    if (found === undefined && TRANSIENT_ERROR_CODES.has(code)) found = code;
  });
  return found;
}

function isAbort(error: unknown): boolean {
  let abort = false;
  visit(error, (code, node) => {
    if (ABORT_CODES.has(code) || (node as { name?: unknown }).name === 'AbortError') abort = true;
  });
  if (!abort && typeof error === 'object' && error !== null) {
    abort = (error as { name?: unknown }).name === 'AbortError';
  }
  return abort;
}

function visit(error: unknown, onCode: (code: string, node: object) => void, depth = 0): void {
  if (depth > 8 || typeof error !== 'object' || error === null) return;
  const node = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof node.code === 'string') onCode(node.code, node);
  else if ((node as { name?: unknown }).name === 'AbortError') onCode('ABORT_ERR', node);
  if (Array.isArray(node.errors)) for (const inner of node.errors) visit(inner, onCode, depth + 1);
  if (node.cause !== undefined && node.cause !== error) visit(node.cause, onCode, depth + 1);
}
