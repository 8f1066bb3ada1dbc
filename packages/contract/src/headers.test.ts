import { describe, it, expect } from '@jest/globals';
import {
  HEADERS,
  PROBLEM_CONTENT_TYPE,
  IDEMPOTENT_METHODS,
  KEYED_METHODS,
  isIdempotentMethod,
} from './headers.js';

describe('headers', () => {
  it('names the contract headers in lower case, as Node reports them', () => {
    expect(HEADERS).toEqual({
      idempotencyKey: 'idempotency-key',
      idempotentReplayed: 'idempotent-replayed',
      retryAfter: 'retry-after',
      location: 'location',
    });
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json');
  });

  it('keeps the method lists fixed and disjoint', () => {
    expect(Object.isFrozen(IDEMPOTENT_METHODS)).toBe(true);
    expect(Object.isFrozen(KEYED_METHODS)).toBe(true);
    expect(KEYED_METHODS).toEqual(['POST', 'PATCH']);
    expect(IDEMPOTENT_METHODS.filter((m) => KEYED_METHODS.includes(m))).toEqual([]);
  });

  it.each(['GET', 'head', 'Options', 'PUT', 'DELETE', 'TRACE'])('%s is idempotent', (method) => {
    expect(isIdempotentMethod(method)).toBe(true);
  });

  it.each(['POST', 'PATCH', 'patch', 'CONNECT', 'QUERY', ''])('%p is not', (method) => {
    expect(isIdempotentMethod(method)).toBe(false);
  });
});
