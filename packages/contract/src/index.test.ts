import { describe, it, expect } from '@jest/globals';
import * as contract from './index.js';

describe('public API', () => {
  it('exports exactly the documented runtime names', () => {
    expect(Object.keys(contract).sort()).toEqual(
      [
        'UnfazedError',
        'isUnfazedError',
        'errorGuard',
        'InvalidOptionError',
        'isInvalidOptionError',
        'InvalidIdempotencyKeyError',
        'isInvalidIdempotencyKeyError',
        'HEADERS',
        'PROBLEM_CONTENT_TYPE',
        'IDEMPOTENT_METHODS',
        'KEYED_METHODS',
        'isIdempotentMethod',
        'MAX_IDEMPOTENCY_KEY_LENGTH',
        'generateIdempotencyKey',
        'parseIdempotencyKey',
        'validateIdempotencyKey',
        'formatIdempotencyKey',
        'classifyStatus',
        'classifyError',
        'errorCodeOf',
        'networkErrorCodeOf',
        'TRANSIENT_STATUSES',
        'TRANSIENT_ERROR_CODES',
        'NOT_SENT_ERROR_CODES',
        'DEFAULT_MAX_RETRY_AFTER_MS',
        'MAX_RETRY_AFTER_SECONDS',
        'parseRetryAfter',
        'formatRetryAfter',
        'PROBLEMS',
        'PROBLEM_TYPE_BASE',
        'problem',
        'parseProblem',
        'problemCodeOf',
        'OPERATION_STATES',
        'TERMINAL_OPERATION_STATES',
        'isTerminalOperationState',
        'isOperationStatus',
        'MAX_TIMER_MS',
        'OptionRule',
        'option',
        'validateOptions',
      ].sort(),
    );
  });
});
