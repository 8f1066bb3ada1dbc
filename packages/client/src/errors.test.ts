import { describe, expect, it } from '@jest/globals';
import { UnfazedError, isUnfazedError } from '@unfazed/contract';
import {
  AbortedError,
  AttemptTimeoutError,
  CircuitOpenError,
  ClientClosedError,
  RetriesExhaustedError,
  RetryAfterBeyondDeadlineError,
  TotalTimeoutError,
  isAbortedError,
  isAttemptTimeoutError,
  isCircuitOpenError,
  isClientClosedError,
  isRetriesExhaustedError,
  isRetryAfterBeyondDeadlineError,
  isTotalTimeoutError,
} from './errors.js';

const call = { method: 'POST', url: 'http://pay.internal/charges', idempotencyKey: 'k1' };
const attempts = [{ attempt: 1, status: 503, outcome: 'status 503', durationMs: 3 }];

const cases = [
  [
    new CircuitOpenError(call, 'http://pay.internal', Date.now() + 1000, 'open', []),
    isCircuitOpenError,
    'UNFAZED_ERR_CIRCUIT_OPEN',
  ],
  [new AttemptTimeoutError(call, 100, 2), isAttemptTimeoutError, 'UNFAZED_ERR_ATTEMPT_TIMEOUT'],
  [
    new TotalTimeoutError(call, 1000, 'elapsed', attempts),
    isTotalTimeoutError,
    'UNFAZED_ERR_TOTAL_TIMEOUT',
  ],
  [
    new RetriesExhaustedError(call, 'max-retries', attempts, undefined, new Error('x')),
    isRetriesExhaustedError,
    'UNFAZED_ERR_RETRIES_EXHAUSTED',
  ],
  [new AbortedError(call, attempts, 'bye'), isAbortedError, 'UNFAZED_ERR_ABORTED'],
  [
    new RetryAfterBeyondDeadlineError(call, 429, 60_000, 1000, attempts),
    isRetryAfterBeyondDeadlineError,
    'UNFAZED_ERR_RETRY_AFTER_BEYOND_DEADLINE',
  ],
  [new ClientClosedError(), isClientClosedError, 'UNFAZED_ERR_CLIENT_CLOSED'],
] as const;

describe('client errors', () => {
  it.each(cases)('%s has its code, guard and brand', (error, guard, code) => {
    expect(error.code).toBe(code);
    expect(guard(error)).toBe(true);
    expect(isUnfazedError(error)).toBe(true);
    expect(error).toBeInstanceOf(UnfazedError);
    expect(error).toBeInstanceOf(Error);
    for (const [other, otherGuard] of cases) {
      if (other !== error) expect(otherGuard(error)).toBe(false);
    }
    expect(guard(new Error(code))).toBe(false);
    expect(guard({ code })).toBe(false);
  });

  it('uses every code once', () => {
    const codes = cases.map(([, , code]) => code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('recognises an error from another copy of the package by brand and code', () => {
    const foreign = Object.defineProperty(
      Object.assign(new Error('x'), { code: 'UNFAZED_ERR_CIRCUIT_OPEN' }),
      Symbol.for('unfazed.error'),
      { value: true },
    );
    expect(isCircuitOpenError(foreign)).toBe(true);
    expect(foreign instanceof CircuitOpenError).toBe(true);
  });

  it('names the call and keeps causes and hints', () => {
    const exhausted = new RetriesExhaustedError(call, 'one-shot-body', attempts, undefined, 'boom');
    expect(exhausted.message).toContain('POST http://pay.internal/charges');
    expect(exhausted.message).toContain('one-shot stream');
    expect(exhausted.cause).toBe('boom');
    const beyond = new RetryAfterBeyondDeadlineError(call, 503, 60_000, 1500, attempts);
    expect(beyond.retryAfterMs).toBe(60_000);
    expect(beyond.retryAt).toBeGreaterThan(Date.now() + 59_000);
    expect(beyond.message).toMatch(/retry in 60000 ms, beyond the 1500 ms left/);
    const open = new CircuitOpenError(call, 'k', 1234, 'open', []);
    expect(open.nextProbeAt).toBe(1234);
  });
});
