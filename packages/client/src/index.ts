/**
 * @unfazed/client — resilient HTTP calls (undici + cockatiel) that speak the Unfazed contract.
 * @packageDocumentation
 */
export {
  createClient,
  type Client,
  type ClientDescription,
  type RequestOptions,
  type QueryValue,
} from './client.js';
export {
  DEFAULTS,
  type ClientOptions,
  type TimeoutOptions,
  type RetryOptions,
  type BackoffOptions,
  type BreakerOptions,
  type IdempotencyOptions,
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
