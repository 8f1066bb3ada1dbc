import { InvalidOptionError } from './errors.js';
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

/** Extra members of a problem: `detail`, `instance` and any extension member. */
export interface ProblemExtras {
  /** Human-readable explanation of this occurrence. */
  detail?: string;
  /** URI reference of this occurrence. */
  instance?: string;
  /** Extension members, e.g. `reason` or `maxBodyBytes`. */
  [extension: string]: unknown;
}

/**
 * Builds the problem details body for one of the contract's cases: `type`, `title`, `status`
 * and `code` come from {@link PROBLEMS} and cannot be overridden by `extras`.
 * @throws {InvalidOptionError} when `code` is not one of the contract's problem codes.
 */
export function problem(code: ProblemCode, extras: ProblemExtras = {}): ProblemDetails {
  if (typeof code !== 'string' || !Object.hasOwn(PROBLEMS, code)) {
    throw new InvalidOptionError(
      'code',
      `must be one of ${Object.keys(PROBLEMS).join(', ')}`,
      code,
    );
  }
  const def = PROBLEMS[code];
  return { ...extras, type: def.type, title: def.title, status: def.status, code };
}

/** The `Content-Type` of a problem body. */
export { PROBLEM_CONTENT_TYPE };

/**
 * Problem details as read from a response: RFC 9457 members of the wrong type are dropped,
 * so only `type` is sure to be there.
 */
export interface ParsedProblem {
  /** The problem type URI; `about:blank` when the body had none. */
  type: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  code?: string;
  [extension: string]: unknown;
}

const STRING_MEMBERS = ['title', 'detail', 'instance', 'code'] as const;

/**
 * Reads a response body (parsed JSON, JSON text or its UTF-8 bytes) as problem details.
 * Returns `undefined` when it is not a JSON object. As RFC 9457 §3.1 asks, a member of the
 * wrong type is ignored as if absent (a non-string `type` becomes `about:blank`). Never throws.
 */
export function parseProblem(body: unknown): ParsedProblem | undefined {
  if (body instanceof Uint8Array) body = new TextDecoder().decode(body);
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const members = body as Record<string, unknown>;
  const parsed: ParsedProblem = { type: 'about:blank' };
  for (const [name, value] of Object.entries(members)) {
    if (name === 'status') {
      if (typeof value === 'number' && Number.isInteger(value)) parsed.status = value;
    } else if (name === 'type' || (STRING_MEMBERS as readonly string[]).includes(name)) {
      if (typeof value === 'string') parsed[name] = value;
    } else {
      // defineProperty, so a `__proto__` member from JSON stays data and never a prototype.
      Object.defineProperty(parsed, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return parsed;
}

/**
 * The contract code of a problem body, or `undefined` when the body is not one of the
 * contract's problems. Only the `type` URI decides: an application's own problem that happens
 * to carry `"code": "request-in-flight"` is not mistaken for the contract's in-flight 409.
 */
export function problemCodeOf(body: unknown): ProblemCode | undefined {
  const details = parseProblem(body);
  if (!details?.type.startsWith(PROBLEM_TYPE_BASE)) return undefined;
  const code = details.type.slice(PROBLEM_TYPE_BASE.length);
  return Object.hasOwn(PROBLEMS, code) ? (code as ProblemCode) : undefined;
}
