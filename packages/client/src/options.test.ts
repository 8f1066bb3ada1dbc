import { describe, expect, it } from '@jest/globals';
import { isInvalidOptionError, type InvalidOptionError } from '@unfazed/contract';
import { DEFAULTS, resolveOptions, type ClientOptions } from './options.js';
import { createClient } from './client.js';

function rejection(options: unknown): InvalidOptionError {
  try {
    resolveOptions(options as ClientOptions);
  } catch (error) {
    if (isInvalidOptionError(error)) return error;
    throw error;
  }
  throw new Error('expected the options to be rejected');
}

describe('client options', () => {
  it('fills in the documented defaults', () => {
    const resolved = resolveOptions({});
    expect(resolved.timeout).toEqual({ total: 30_000, attempt: 10_000 });
    expect(resolved.retry).toEqual({
      maxRetries: 3,
      backoff: { initialMs: 500, maxMs: 30_000, exponent: 2 },
      budget: { maxTokens: 100, tokenRatio: 0.1, refillPerSecond: 1 },
    });
    expect(resolved.breaker).toMatchObject({
      failureRatio: 0.5,
      windowMs: 30_000,
      minimumCalls: 20,
      openMs: 5_000,
      openGrowth: 2,
      maxOpenMs: 60_000,
      halfOpenProbes: 3,
    });
    expect(resolved.idempotency).toEqual({ autoKey: true });
    expect(DEFAULTS.breaker.windowMs).toBe(30_000);
  });

  it.each([
    [
      { timeout: { attempt: 5000, total: 1000 } },
      'timeout.attempt',
      /at most timeout.total \(1000 ms\)/,
    ],
    [{ timeout: { total: Number.NaN } }, 'timeout.total', /finite number of milliseconds > 0/],
    [{ timeout: { attempt: -1 } }, 'timeout.attempt', /> 0/],
    [{ retry: { maxRetries: 1.5 } }, 'retry.maxRetries', /integer from 0 to 100/],
    [{ retry: { maxRetries: -1 } }, 'retry.maxRetries', /integer from 0 to 100/],
    [{ retry: { backoff: { initialMs: 0 } } }, 'retry.backoff.initialMs', /> 0/],
    [
      { retry: { backoff: { initialMs: 100, maxMs: 50 } } },
      'retry.backoff.maxMs',
      /at least retry.backoff.initialMs/,
    ],
    [{ retry: { backoff: { exponent: 0.5 } } }, 'retry.backoff.exponent', />= 1/],
    [
      { breaker: { windowMs: 15_000 } },
      'breaker.windowMs',
      /at least 2 × timeout.attempt \(20000 ms\)/,
    ],
    [{ breaker: { failureRatio: 0 } }, 'breaker.failureRatio', /a finite number > 0 and <= 1/],
    [{ breaker: { failureRatio: 1.5 } }, 'breaker.failureRatio', /a finite number > 0 and <= 1/],
    [{ breaker: { minimumCalls: 0 } }, 'breaker.minimumCalls', /integer >= 1/],
    [{ breaker: { halfOpenProbes: 0 } }, 'breaker.halfOpenProbes', /integer >= 1/],
    [
      { breaker: { openMs: 10_000, maxOpenMs: 5000 } },
      'breaker.maxOpenMs',
      /at least breaker.openMs/,
    ],
    [{ breaker: { openGrowth: 0 } }, 'breaker.openGrowth', />= 1/],
    [{ breaker: { key: 'origin' } }, 'breaker.key', /must be a function/],
    [{ baseUrl: 'payments.internal' }, 'baseUrl', /absolute http\(s\) URL/],
    [{ baseUrl: 'ftp://x' }, 'baseUrl', /http: or https:/],
    [{ baseUrl: 'http://x/?a=1' }, 'baseUrl', /query or a fragment/],
    [{ idempotency: { autoKey: 'yes' } }, 'idempotency.autoKey', /true or false/],
    [{ dispatcher: {} }, 'dispatcher', /undici Dispatcher/],
    [{ timeout: { total: 1e10 } }, 'timeout.total', /<= 2147483647 \(the longest Node timer\)/],
    [{ retries: 3 }, 'retries', /not a known option/],
    [
      { timeout: { deadline: 3 } },
      'timeout.deadline',
      /not a known option \(known: total, attempt\)/,
    ],
    [{ breaker: null }, 'breaker', /must be false or an object/],
  ])('rejects %j naming %s and the rule', (options, option, rule) => {
    const error = rejection(options);
    expect(error.code).toBe('UNFAZED_ERR_INVALID_OPTION');
    expect(error.option).toBe(option);
    expect(error.message).toContain(`Invalid option "${option}"`);
    expect(error.message).toMatch(rule);
  });

  it.each([
    [{ timout: {} }, 'timout', 'timeout'],
    [{ breaker: { halfOpenProbs: 2 } }, 'breaker.halfOpenProbs', 'halfOpenProbes'],
    [{ retry: { backoff: { initialDelay: 5 } } }, 'retry.backoff.initialDelay', 'initialMs'],
    [{ retry: { backoff: { factor: 3 } } }, 'retry.backoff.factor', 'exponent'],
    [{ baseURL: 'http://x' }, 'baseURL', 'baseUrl'],
    [{ maxRetries: 2 }, 'maxRetries', 'retry.maxRetries'],
  ])('rejects the unknown key of %j with a hint', (options, option, hint) => {
    const error = rejection(options);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^createClient: Invalid option/);
    expect(error.rule).toBe(`is not a known option; did you mean "${hint}"?`);
  });

  it.each([
    [{ headers: { 'x-a': 1 } }, 'headers.x-a', /a string or an array of a string/],
    [{ pool: 'big' }, 'pool', /must be an object/],
    [{ retry: { maxRetries: 101 } }, 'retry.maxRetries', /integer from 0 to 100/],
    [{ breaker: { minimumCalls: Number.NaN } }, 'breaker.minimumCalls', /integer >= 1/],
  ])('rejects the wrong type or range in %j', (options, option, rule) => {
    const error = rejection(options);
    expect(error.option).toBe(option);
    expect(error.rule).toMatch(rule);
  });

  it.each([null, 'http://x', [], 42])('rejects %p as the options object', (options) => {
    expect(rejection(options).option).toBe('options');
  });

  it('checks the breaker window against the attempt timeout actually used', () => {
    expect(() =>
      resolveOptions({ timeout: { attempt: 1000 }, breaker: { windowMs: 2000 } }),
    ).not.toThrow();
    expect(() => resolveOptions({ timeout: { attempt: 1000 }, breaker: false })).not.toThrow();
  });

  it('validates at construction', () => {
    expect(() => createClient({ timeout: { attempt: 0 } })).toThrow(
      'createClient: Invalid option "timeout.attempt": must be a finite number of milliseconds > 0',
    );
  });
});

describe('describe()', () => {
  it('reports the effective policy, worst-case attempts and latency', () => {
    const client = createClient({
      baseUrl: 'http://127.0.0.1:1',
      timeout: { total: 5000, attempt: 1000 },
      retry: { maxRetries: 2, backoff: { initialMs: 100, maxMs: 400 } },
      breaker: { windowMs: 2000 },
    });
    const d = client.describe();
    expect(d.policyOrder).toEqual([
      'total-timeout',
      'retry',
      'circuit-breaker',
      'attempt-timeout',
      'undici',
    ]);
    expect(d.worstCase).toEqual({
      attempts: 3,
      latencyMs: 5000,
      latencyWithoutRetryAfterMs: 3 * 1000 + 2 * 400,
    });
    expect(d.breaker).toMatchObject({ windowMs: 2000, key: 'origin', halfOpenProbes: 3 });
    expect(d.dispatcher).toBe('pool-per-origin');
    expect(d.retry.retriedStatuses).toContain(503);
    expect(d.retry.retriedStatuses).not.toContain(501);
    expect(createClient({ breaker: false }).describe().breaker).toBe(false);
  });
});
