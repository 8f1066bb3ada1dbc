/**
 * @unfazed/client/durable — the durable retry queue: operations written ahead to a store (Redis
 * or in memory), answered `200` or `202`, and finished by workers with retries and hooks.
 * @packageDocumentation
 */
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
} from './durable.js';
export type { OperationDefinition, OperationContext } from './run.js';
export {
  SagaStepFailedError,
  type SagaDefinition,
  type SagaStep,
  type SagaLocalStep,
  type SagaRequestStep,
  type SagaSleepStep,
  type SagaStepRetry,
  type SagaCompensation,
  type SagaStepContext,
  type SagaCompensationContext,
} from './saga-definition.js';
export type { DurableWorker, WorkerOptions } from './worker.js';
export type { DurableBackoffOptions } from './backoff.js';
export type { DurableClient, DurableRequest, ClientPolicy } from './client-port.js';
export {
  DurableEvents,
  type DurableEventMap,
  type DurableEventName,
  type ScheduleReason,
} from './events.js';
export { memoryDurableStore, type MemoryDurableStoreOptions } from './memory-store.js';
export { redisDurableStore, type RedisDurableStoreOptions } from './redis-store.js';
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
  DeadLetterState,
  SagaProgress,
  StepRecord,
  StepState,
  StateCounts,
  QueueGauges,
} from './types.js';
export {
  DurableStoreUnavailableError,
  isDurableStoreUnavailableError,
  DurabilityNotConfirmedError,
  isDurabilityNotConfirmedError,
  DurableKeyConflictError,
  isDurableKeyConflictError,
  InvalidOperationInputError,
  isInvalidOperationInputError,
} from './errors.js';
