/**
 * @unfazed/contract — what the client and the server of Unfazed agree on.
 * @packageDocumentation
 */
export {
  UnfazedError,
  isUnfazedError,
  errorGuard,
  InvalidOptionError,
  isInvalidOptionError,
  InvalidIdempotencyKeyError,
  isInvalidIdempotencyKeyError,
  type UnfazedErrorOptions,
  type IdempotencyKeyRejection,
} from './errors.js';
export {
  HEADERS,
  PROBLEM_CONTENT_TYPE,
  IDEMPOTENT_METHODS,
  KEYED_METHODS,
  isIdempotentMethod,
} from './headers.js';
export {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  generateIdempotencyKey,
  parseIdempotencyKey,
  validateIdempotencyKey,
  formatIdempotencyKey,
  type IdempotencyKeyParseResult,
} from './idempotency-key.js';
export {
  classifyStatus,
  classifyError,
  errorCodeOf,
  networkErrorCodeOf,
  TRANSIENT_STATUSES,
  TRANSIENT_ERROR_CODES,
  NOT_SENT_ERROR_CODES,
  type OutcomeKind,
  type RequestSent,
  type Classification,
} from './outcome.js';
export {
  DEFAULT_MAX_RETRY_AFTER_MS,
  MAX_RETRY_AFTER_SECONDS,
  parseRetryAfter,
  formatRetryAfter,
  type ParseRetryAfterOptions,
} from './retry-after.js';
export {
  PROBLEMS,
  PROBLEM_TYPE_BASE,
  problem,
  parseProblem,
  problemCodeOf,
  type ProblemCode,
  type ProblemDefinition,
  type ProblemDetails,
  type ProblemExtras,
  type ParsedProblem,
} from './problem.js';
export {
  OPERATION_STATES,
  TERMINAL_OPERATION_STATES,
  isTerminalOperationState,
  isOperationStatus,
  type OperationState,
  type OperationError,
  type OperationStepStatus,
  type OperationStatus,
} from './operation-status.js';
export {
  MAX_TIMER_MS,
  OptionRule,
  option,
  validateOptions,
  type OptionsOf,
  type FailOption,
  type ResolvedShape,
  type ShapeFor,
  type NumberRuleOptions,
  type StringRuleOptions,
  type ObjectRuleOptions,
  type ValidateOptionsContext,
} from './validate-options.js';
