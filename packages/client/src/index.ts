/**
 * @unfazed/client — resilient HTTP calls (undici + cockatiel) that speak the Unfazed contract.
 * The durable retry queue is the `@unfazed/client/durable` subpath, so a service that only makes
 * calls does not load it.
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
  type RetryBudgetOptions,
} from './options.js';
export { sharedCircuit, type SharedCircuit, type SharedCircuitOptions } from './shared-circuit.js';
export {
  sharedRetryBudget,
  type SharedRetryBudget,
  type SharedRetryBudgetOptions,
} from './shared-budget.js';
export type { FleetRedis } from './fleet-redis.js';
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
  RetryBudgetExhaustedError,
  isRetryBudgetExhaustedError,
  type AttemptRecord,
  type CallInfo,
  type DelayReason,
  type LastResponse,
  type StopReason,
} from './errors.js';
