/**
 * @unfazed/client — resilient HTTP calls (undici + cockatiel) that speak the Unfazed contract.
 * @packageDocumentation
 */
export { createClient, type Client, type ClientDescription } from './client.js';
export type { AttemptResult, AttemptOptions } from './attempt-result.js';
export type { RequestOptions, QueryValue } from './call.js';
export {
  DEFAULTS,
  type ClientOptions,
  type TimeoutOptions,
  type RetryOptions,
  type BackoffOptions,
  type BreakerOptions,
  type AutoKeyOptions,
} from './options.js';
export { UnfazedResponse, type NotRetried, type ResponseHeaders } from './response.js';
export type { RequestBody, ReplayableBody, OneShotBody } from './request-body.js';
export type { CircuitStatus } from './circuit-breaker.js';
export type { ClientEvents, ClientEventName, ClientListener, CircuitStateName } from './events.js';
export {
  CircuitOpenError,
  isCircuitOpenError,
  AttemptTimeoutError,
  isAttemptTimeoutError,
  TotalTimeoutError,
  isTotalTimeoutError,
  RetriesExhaustedError,
  isRetriesExhaustedError,
  AbortedError,
  isAbortedError,
  RetryAfterBeyondDeadlineError,
  isRetryAfterBeyondDeadlineError,
  ClientClosedError,
  isClientClosedError,
  type AttemptRecord,
  type CallInfo,
  type DelayReason,
  type LastResponse,
  type StopReason,
} from './errors.js';
export {
  createDurable,
  publicStatus,
  type Durable,
  type DurableOptions,
  type DurableOperation,
  type StartOptions,
  type StartOutcome,
  type DeadLetters,
  type OperationDetails,
} from './durable/durable.js';
export type { OperationDefinition, OperationContext } from './durable/run.js';
export type { DurableWorker, WorkerOptions } from './durable/worker.js';
export type { DurableBackoffOptions } from './durable/backoff.js';
export type {
  DurableClient,
  DurableRequest,
  DurableClientResponse,
  ClientPolicy,
} from './durable/client-port.js';
export {
  DurableEvents,
  type DurableEventMap,
  type DurableEventName,
  type ScheduleReason,
} from './durable/events.js';
export { memoryDurableStore, type MemoryDurableStoreOptions } from './durable/memory-store.js';
export { redisDurableStore, type RedisDurableStoreOptions } from './durable/redis-store.js';
export type {
  DurableStore,
  DurableClock,
  OperationRecord,
  OperationPhase,
  OperationFailure,
  GiveUpFailure,
  FailureOutcome,
  OperationResponse,
  HistoryEntry,
  NewOperation,
  Settlement,
  DeadLetterQuery,
  DeadLetterPage,
  StateCounts,
  QueueGauges,
} from './durable/types.js';
export {
  DurableStoreUnavailableError,
  isDurableStoreUnavailableError,
  DurabilityNotConfirmedError,
  isDurabilityNotConfirmedError,
  DurableKeyConflictError,
  isDurableKeyConflictError,
  InvalidOperationInputError,
  isInvalidOperationInputError,
} from './durable/errors.js';
