/**
 * @unfazed/server — the receiving side of the Unfazed contract: Idempotency-Key stores and the
 * framework-free core. The middleware lives in `@unfazed/server/express` and
 * `@unfazed/server/fastify`.
 * @packageDocumentation
 */
export { redisStore, type RedisStoreOptions } from './stores/redis-store.js';
export { memoryStore, type MemoryStoreOptions } from './stores/memory-store.js';
export type {
  IdempotencyStore,
  ClaimInput,
  ClaimResult,
  CompleteInput,
  OwnerInput,
  StoredResponse,
} from './core/store.js';
export { defaultShouldStore, type IdempotencyOptions } from './core/options.js';
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
  BodyAlreadyConsumedError,
  isBodyAlreadyConsumedError,
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
