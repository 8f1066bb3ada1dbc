import { PROBLEM_CONTENT_TYPE } from './headers.js';

/** Codes of the problems the server side of the contract answers with. Never reused. */
export type ProblemCode =
  | 'idempotency-key-missing'
  | 'idempotency-key-malformed'
  | 'idempotency-key-reused'
  | 'request-in-flight'
  | 'store-unavailable'
  | 'payload-too-large'
  | 'response-not-retained';

/** Static description of one problem type. */
export interface ProblemDefinition {
  /** Stable `type` URI (RFC 9457 §3.1.1). */
  readonly type: string;
  /** HTTP status the server answers with. */
  readonly status: number;
  /** Short, human-readable summary that does not change between occurrences. */
  readonly title: string;
}

/** An RFC 9457 problem details object, with the contract's `code` extension member. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** The contract's stable code, present on every problem Unfazed produces. */
  code?: string;
  [extension: string]: unknown;
}

/** Base of the problem type URIs. A URN: stable, and needs no domain to resolve. */
export const PROBLEM_TYPE_BASE = 'urn:unfazed:problem:';

const define = (code: ProblemCode, status: number, title: string): ProblemDefinition =>
  Object.freeze({ type: `${PROBLEM_TYPE_BASE}${code}`, status, title });

/** Every problem of the contract, by code. */
export const PROBLEMS: Readonly<Record<ProblemCode, ProblemDefinition>> = Object.freeze({
  'idempotency-key-missing': define(
    'idempotency-key-missing',
    400,
    'This operation requires an Idempotency-Key header',
  ),
  'idempotency-key-malformed': define(
    'idempotency-key-malformed',
    400,
    'The Idempotency-Key header is malformed',
  ),
  'idempotency-key-reused': define(
    'idempotency-key-reused',
    422,
    'The Idempotency-Key was already used with a different request',
  ),
  'request-in-flight': define(
    'request-in-flight',
    409,
    'A request with this Idempotency-Key is still being processed',
  ),
  'store-unavailable': define(
    'store-unavailable',
    503,
    'The idempotency store is unavailable; retry later',
  ),
  'payload-too-large': define(
    'payload-too-large',
    413,
    'The request body is too large to fingerprint',
  ),
  'response-not-retained': define(
    'response-not-retained',
    409,
    'The request completed, but its response was too large to keep for replay',
  ),
});

/** Extra members of a problem: `detail`, `instance` and any extension. */
export type ProblemExtras = Omit<Partial<ProblemDetails>, 'type' | 'title' | 'status' | 'code'>;

/** Builds the problem details body for one of the contract's cases. */
export function problem(code: ProblemCode, extras: ProblemExtras = {}): ProblemDetails {
  const def = PROBLEMS[code];
  return { ...extras, type: def.type, title: def.title, status: def.status, code };
}

/** The `Content-Type` of a problem body. */
export { PROBLEM_CONTENT_TYPE };

/**
 * Reads a response body (already parsed JSON, or text) as problem details. Returns
 * `undefined` when it is not an object with a string `type` (RFC 9457 defaults it to
 * `about:blank`, so a missing `type` is filled in).
 */
export function parseProblem(body: unknown): ProblemDetails | undefined {
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const candidate = body as Record<string, unknown>;
  const type = candidate.type ?? 'about:blank';
  if (typeof type !== 'string') return undefined;
  if (candidate.status !== undefined && typeof candidate.status !== 'number') return undefined;
  return {
    ...candidate,
    type,
    title: String(candidate.title ?? ''),
    status: Number(candidate.status ?? 0),
  };
}

/** The contract code of a problem, from its `code` member or its `type` URI. */
export function problemCodeOf(body: unknown): ProblemCode | undefined {
  const details = parseProblem(body);
  if (!details) return undefined;
  const fromCode = typeof details.code === 'string' ? details.code : undefined;
  const fromType = details.type.startsWith(PROBLEM_TYPE_BASE)
    ? details.type.slice(PROBLEM_TYPE_BASE.length)
    : undefined;
  const code = fromCode ?? fromType;
  return code !== undefined && Object.hasOwn(PROBLEMS, code) ? (code as ProblemCode) : undefined;
}
