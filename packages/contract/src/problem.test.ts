import { describe, it, expect } from '@jest/globals';
import {
  PROBLEMS,
  PROBLEM_TYPE_BASE,
  PROBLEM_CONTENT_TYPE,
  problem,
  parseProblem,
  problemCodeOf,
  type ProblemCode,
} from './problem.js';
import { isInvalidOptionError } from './errors.js';

const TABLE: readonly [ProblemCode, number][] = [
  ['idempotency-key-missing', 400],
  ['idempotency-key-malformed', 400],
  ['idempotency-key-reused', 422],
  ['request-in-flight', 409],
  ['store-unavailable', 503],
  ['payload-too-large', 413],
  ['response-not-retained', 409],
];

describe('PROBLEMS', () => {
  it('covers exactly the documented cases, with their statuses', () => {
    expect(Object.keys(PROBLEMS).sort()).toEqual(TABLE.map(([code]) => code).sort());
    for (const [code, status] of TABLE) {
      expect(PROBLEMS[code]).toEqual({
        type: `urn:unfazed:problem:${code}`,
        status,
        title: expect.any(String),
      });
    }
  });

  it('has a distinct type URI and title for each case', () => {
    const defs = Object.values(PROBLEMS);
    expect(new Set(defs.map((d) => d.type)).size).toBe(defs.length);
    expect(new Set(defs.map((d) => d.title)).size).toBe(defs.length);
  });

  it('cannot be changed at run time', () => {
    expect(Object.isFrozen(PROBLEMS)).toBe(true);
    expect(Object.isFrozen(PROBLEMS['request-in-flight'])).toBe(true);
  });

  it('uses the RFC 9457 media type', () => {
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json');
  });
});

describe('problem', () => {
  it('builds the body of a case', () => {
    expect(problem('request-in-flight')).toEqual({
      type: 'urn:unfazed:problem:request-in-flight',
      title: 'A request with this Idempotency-Key is still being processed',
      status: 409,
      code: 'request-in-flight',
    });
  });

  it('keeps detail, instance and extension members', () => {
    const body = problem('idempotency-key-malformed', {
      detail: 'the Idempotency-Key is empty',
      instance: '/charges',
      reason: 'empty',
    });
    expect(body).toMatchObject({
      status: 400,
      code: 'idempotency-key-malformed',
      detail: 'the Idempotency-Key is empty',
      instance: '/charges',
      reason: 'empty',
    });
  });

  it('does not let extras override the stable members', () => {
    const extras = { type: 'about:blank', title: 'x', status: 200, code: 'other' };
    expect(problem('store-unavailable', extras)).toMatchObject({
      type: PROBLEMS['store-unavailable'].type,
      title: PROBLEMS['store-unavailable'].title,
      status: 503,
      code: 'store-unavailable',
    });
  });

  it.each(['nope', 'toString', 42])('rejects the unknown code %p', (code) => {
    let error: unknown;
    try {
      problem(code as ProblemCode);
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as Error).message).toMatch(/"code": must be one of idempotency-key-missing/);
  });

  it('round-trips through JSON and problemCodeOf for every case', () => {
    for (const [code] of TABLE) {
      const text = JSON.stringify(problem(code, { detail: 'd' }));
      expect(problemCodeOf(text)).toBe(code);
      expect(parseProblem(text)).toEqual(problem(code, { detail: 'd' }));
    }
  });
});

describe('parseProblem', () => {
  it('reads parsed JSON, JSON text and UTF-8 bytes', () => {
    const body = problem('payload-too-large');
    expect(parseProblem(body)).toEqual(body);
    expect(parseProblem(JSON.stringify(body))).toEqual(body);
    expect(parseProblem(Buffer.from(JSON.stringify(body)))).toEqual(body);
    expect(parseProblem(new TextEncoder().encode(JSON.stringify(body)))).toEqual(body);
  });

  it('fills a missing type with about:blank', () => {
    expect(parseProblem({ title: 'Not Found', status: 404 })).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
    });
  });

  it('ignores members of the wrong type, as RFC 9457 asks', () => {
    expect(
      parseProblem({
        type: 42,
        title: { en: 'x' },
        status: '409',
        detail: null,
        instance: 7,
        code: ['request-in-flight'],
        balance: 30,
      }),
    ).toEqual({ type: 'about:blank', balance: 30 });
    expect(parseProblem({ status: 409.5 })).toEqual({ type: 'about:blank' });
  });

  it('keeps a __proto__ member as data, not as the prototype', () => {
    const parsed = parseProblem('{"type":"x","__proto__":{"polluted":true}}');
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect((parsed as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(parsed ?? {}, '__proto__')).toBe(true);
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a number', 404],
    ['an array', [{ type: 'x' }]],
    ['JSON text of an array', '[1]'],
    ['JSON text of a string', '"x"'],
    ['text that is not JSON', '<html>502 Bad Gateway</html>'],
    ['empty text', ''],
    ['bytes that are not JSON', Buffer.from([0xff, 0xfe, 0x00])],
  ])('returns undefined for %s', (_label, body) => {
    expect(parseProblem(body)).toBeUndefined();
  });
});

describe('problemCodeOf', () => {
  it('reads the code from the type URI', () => {
    expect(problemCodeOf({ type: `${PROBLEM_TYPE_BASE}request-in-flight` })).toBe(
      'request-in-flight',
    );
  });

  it.each<[string, unknown]>([
    [
      "an application's own problem that reuses a contract code",
      { type: 'https://shop.example/out-of-stock', code: 'request-in-flight' },
    ],
    ['about:blank with a contract code', { code: 'idempotency-key-reused', status: 422 }],
    ['an unknown code under the contract base', { type: `${PROBLEM_TYPE_BASE}something-else` }],
    [
      'an inherited property name under the contract base',
      { type: `${PROBLEM_TYPE_BASE}constructor` },
    ],
    ['the contract base alone', { type: PROBLEM_TYPE_BASE }],
    ['a type that only contains the base', { type: `x${PROBLEM_TYPE_BASE}request-in-flight` }],
    ['a body that is not a problem', 'Service Unavailable'],
    ['nothing', undefined],
  ])('returns undefined for %s', (_label, body) => {
    expect(problemCodeOf(body)).toBeUndefined();
  });
});
