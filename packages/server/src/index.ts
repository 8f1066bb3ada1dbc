/**
 * @unfazed/server — the receiving side of the Unfazed contract: Idempotency-Key stores and the
 * framework-free core. The middleware lives in `@unfazed/server/express` and
 * `@unfazed/server/fastify`.
 * @packageDocumentation
 */
export { redisIdempotencyStore, type RedisIdempotencyStoreOptions } from './stores/redis-store.js';
export {
  memoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
} from './stores/memory-store.js';
export type {
  IdempotencyStore,
  ClaimInput,
  ClaimResult,
  CompleteInput,
  OwnerInput,
  ReplayableResponse,
} from './core/store.js';
export { defaultShouldStore, type IdempotencyMiddlewareOptions } from './core/options.js';
export type {
  IdempotencyEvent,
  IdempotencyEventName,
  IdempotencyListeners,
} from './core/events.js';
export { DEFAULT_STORED_HEADERS, NEVER_STORED_HEADERS } from './core/stored-headers.js';
export {
  IdempotencyStoreTimeoutError,
  isIdempotencyStoreTimeoutError,
  IdempotencyStoreFullError,
  isIdempotencyStoreFullError,
} from './errors.js';
export {
  outcomeReply,
  operationStatusReply,
  type DurableOutcome,
  type HttpReply,
  type OutcomeReplyOptions,
  type OperationStatusSource,
  type OperationStatusOptions,
} from './accepted.js';
