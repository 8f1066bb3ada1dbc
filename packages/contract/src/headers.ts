/** Header names of the contract, lower-case as Node and undici report them. */
export const HEADERS = {
  /** Request header carrying the idempotency key (IETF httpapi draft). */
  idempotencyKey: 'idempotency-key',
  /** Response header set to `true` on a replayed stored response. */
  idempotentReplayed: 'idempotent-replayed',
  /** Response header hinting when to retry (RFC 9110 §10.2.3). */
  retryAfter: 'retry-after',
  /** Response header pointing at an operation-status resource on a 202. */
  location: 'location',
} as const;

/** Media type of RFC 9457 problem details. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Methods RFC 9110 defines as idempotent: retried without a key. */
export const IDEMPOTENT_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

/** Methods that need an `Idempotency-Key` to be retried, and that the middleware covers by default. */
export const KEYED_METHODS: readonly string[] = Object.freeze(['POST', 'PATCH']);

/** True when RFC 9110 makes `method` idempotent (case-insensitive). */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.includes(method.toUpperCase());
}
