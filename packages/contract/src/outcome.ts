import { PROBLEMS, type ProblemCode } from './problem.js';

/**
 * How an attempt ended, as the contract sees it:
 * - `success`: a 1xx-3xx answer; nothing to retry;
 * - `transient`: may work if tried again later (network errors, 408, 425, 429, 500, 502-504);
 *   501 and 505 are permanent: the server will never support the method or HTTP version;
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

/**
 * Error codes after which the request certainly was not sent: they can only happen while
 * resolving the name or opening the connection.
 */
export const NOT_SENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
]);

// Node names the failing system call: errors of these happen before a byte is written.
// (EHOSTUNREACH and friends can also end an established connection, so the code alone
// does not tell.)
const NOT_SENT_SYSCALLS: ReadonlySet<string> = new Set(['connect', 'getaddrinfo']);

const ABORT_CODES: ReadonlySet<string> = new Set(['ABORT_ERR', 'UND_ERR_ABORTED']);

const MAX_DEPTH = 8;

function verdict(kind: OutcomeKind, reason: string, requestSent: RequestSent): Classification {
  return { kind, retryable: kind === 'transient' || kind === 'in-flight', reason, requestSent };
}

/**
 * Classifies an HTTP answer. `problemCode` is the contract code of the body (from
 * {@link problemCodeOf}), if the server answered with Unfazed problem details: it tells the
 * in-flight 409 and the fingerprint 422 apart from an application's own 409 or 422, which
 * stay permanent.
 */
export function classifyStatus(status: number, problemCode?: ProblemCode | string): Classification {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    return verdict('permanent', `invalid status ${String(status)}`, 'yes');
  }
  const known = problemCode !== undefined && Object.hasOwn(PROBLEMS, problemCode);
  const reason = known ? `status ${status} ${problemCode}` : `status ${status}`;
  if (status < 400) return verdict('success', reason, 'yes');
  if (status === 409 && problemCode === 'request-in-flight') {
    return verdict('in-flight', reason, 'yes');
  }
  if (status === 422 && problemCode === 'idempotency-key-reused') {
    return verdict('fingerprint-mismatch', reason, 'yes');
  }
  return verdict(TRANSIENT_STATUSES.has(status) ? 'transient' : 'permanent', reason, 'yes');
}

/**
 * Classifies an error thrown while sending a request or reading its answer. Walks the error,
 * its `cause` chain and the members of an `AggregateError` (Node reports happy-eyeballs
 * connect failures that way), outermost first, and the first error that decides wins:
 * - an abort (`AbortError`, `ABORT_ERR`, `UND_ERR_ABORTED`) is permanent: the caller asked to stop;
 * - a `TimeoutError` (from `AbortSignal.timeout()`) is transient;
 * - a code of {@link TRANSIENT_ERROR_CODES} is transient.
 * Anything else is permanent: retrying a bug does not fix it. `requestSent` is `no` only when
 * the failure certainly happened before the request was written (see {@link NOT_SENT_ERROR_CODES}).
 */
export function classifyError(error: unknown): Classification {
  const seen = new Set<object>();
  const decide = (value: unknown, depth: number): Classification | undefined => {
    if (depth > MAX_DEPTH || typeof value !== 'object' || value === null || seen.has(value)) {
      return undefined;
    }
    seen.add(value);
    const node = value as { code?: unknown; name?: unknown; errors?: unknown; cause?: unknown };
    const code = typeof node.code === 'string' ? node.code : undefined;
    if (node.name === 'AbortError' || (code !== undefined && ABORT_CODES.has(code))) {
      return verdict('permanent', 'aborted', 'maybe');
    }
    if (node.name === 'TimeoutError') return verdict('transient', 'TimeoutError', 'maybe');
    if (code !== undefined && TRANSIENT_ERROR_CODES.has(code)) {
      return verdict('transient', code, notSent(node) ? 'no' : 'maybe');
    }
    if (Array.isArray(node.errors)) {
      for (const inner of node.errors) {
        const found = decide(inner, depth + 1);
        if (found) return found;
      }
    }
    return decide(node.cause, depth + 1);
  };
  const found = decide(error, 0);
  if (found) return found;
  const name = errorCodeOf(error) ?? (error instanceof Error ? error.name : typeof error);
  return verdict('permanent', name, 'maybe');
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

/** Not sent when the code or the system call says so, or when every aggregated error does. */
function notSent(node: { code?: unknown; errors?: unknown }, depth = 0): boolean {
  const { code, syscall } = node as { code?: unknown; syscall?: unknown };
  if (typeof code === 'string' && NOT_SENT_ERROR_CODES.has(code)) return true;
  if (typeof syscall === 'string' && NOT_SENT_SYSCALLS.has(syscall)) return true;
  const errors = node.errors;
  return (
    depth < MAX_DEPTH &&
    Array.isArray(errors) &&
    errors.length > 0 &&
    errors.every((e) => typeof e === 'object' && e !== null && notSent(e as object, depth + 1))
  );
}

function visit(error: unknown, onCode: (code: string) => void): void {
  const seen = new Set<object>();
  const walk = (value: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || typeof value !== 'object' || value === null || seen.has(value)) {
      return;
    }
    seen.add(value);
    const node = value as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof node.code === 'string') onCode(node.code);
    if (Array.isArray(node.errors)) for (const inner of node.errors) walk(inner, depth + 1);
    walk(node.cause, depth + 1);
  };
  walk(error, 0);
}
