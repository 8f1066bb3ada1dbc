import { describe, it, expect } from '@jest/globals';
import { createServer, type AddressInfo } from 'node:net';
import {
  classifyStatus,
  classifyError,
  errorCodeOf,
  networkErrorCodeOf,
  TRANSIENT_STATUSES,
  TRANSIENT_ERROR_CODES,
  NOT_SENT_ERROR_CODES,
} from './outcome.js';
import { problem, problemCodeOf } from './problem.js';

/** An error shaped like Node's system errors. */
function sysError(code: string, syscall?: string, cause?: unknown): Error {
  const error = new Error(`${syscall ?? 'op'} ${code}`, cause === undefined ? {} : { cause });
  return Object.assign(error, { code, ...(syscall ? { syscall } : {}) });
}

describe('classifyStatus', () => {
  it.each([100, 200, 201, 202, 204, 301, 304, 399])('%i is success', (status) => {
    expect(classifyStatus(status)).toEqual({
      kind: 'success',
      retryable: false,
      reason: `status ${status}`,
      requestSent: 'yes',
    });
  });

  it.each([408, 425, 429, 500, 502, 503, 504])('%i is transient', (status) => {
    expect(classifyStatus(status)).toEqual({
      kind: 'transient',
      retryable: true,
      reason: `status ${status}`,
      requestSent: 'yes',
    });
  });

  it.each([
    400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 428, 431, 451, 499, 501, 505, 507, 511,
    599,
  ])('%i is permanent', (status) => {
    expect(classifyStatus(status)).toEqual({
      kind: 'permanent',
      retryable: false,
      reason: `status ${status}`,
      requestSent: 'yes',
    });
  });

  it('lists exactly the transient statuses of the contract', () => {
    expect([...TRANSIENT_STATUSES].sort()).toEqual([408, 425, 429, 500, 502, 503, 504]);
  });

  it("tells the contract's in-flight 409 from an application's own 409", () => {
    const inFlight = problemCodeOf(JSON.stringify(problem('request-in-flight')));
    expect(classifyStatus(409, inFlight)).toEqual({
      kind: 'in-flight',
      retryable: true,
      reason: 'status 409 request-in-flight',
      requestSent: 'yes',
    });
    const appConflict = problemCodeOf({
      type: 'https://shop.example/conflict',
      code: 'request-in-flight',
    });
    expect(classifyStatus(409, appConflict)).toMatchObject({ kind: 'permanent', retryable: false });
    expect(classifyStatus(409)).toMatchObject({ kind: 'permanent' });
    expect(classifyStatus(409, 'response-not-retained')).toEqual({
      kind: 'permanent',
      retryable: false,
      reason: 'status 409 response-not-retained',
      requestSent: 'yes',
    });
  });

  it("tells the contract's fingerprint 422 from an application's own 422", () => {
    expect(classifyStatus(422, 'idempotency-key-reused')).toEqual({
      kind: 'fingerprint-mismatch',
      retryable: false,
      reason: 'status 422 idempotency-key-reused',
      requestSent: 'yes',
    });
    expect(classifyStatus(422)).toMatchObject({ kind: 'permanent', reason: 'status 422' });
    expect(classifyStatus(422, 'validation-failed')).toMatchObject({
      kind: 'permanent',
      reason: 'status 422',
    });
  });

  it('a contract code does not change the meaning of another status', () => {
    expect(classifyStatus(500, 'request-in-flight')).toMatchObject({
      kind: 'transient',
      reason: 'status 500 request-in-flight',
    });
    expect(classifyStatus(200, 'idempotency-key-reused')).toMatchObject({ kind: 'success' });
  });

  it('the store-unavailable 503 and the malformed-key 400 keep their status meaning', () => {
    expect(classifyStatus(503, 'store-unavailable')).toMatchObject({
      kind: 'transient',
      reason: 'status 503 store-unavailable',
    });
    expect(classifyStatus(400, 'idempotency-key-malformed')).toMatchObject({ kind: 'permanent' });
    expect(classifyStatus(413, 'payload-too-large')).toMatchObject({ kind: 'permanent' });
  });

  it.each([0, 99, 600, 200.5, Number.NaN, -1])('%p is an invalid status, permanent', (status) => {
    expect(classifyStatus(status)).toEqual({
      kind: 'permanent',
      retryable: false,
      reason: `invalid status ${status}`,
      requestSent: 'yes',
    });
  });
});

describe('classifyError', () => {
  it.each([...TRANSIENT_ERROR_CODES])('%s is transient', (code) => {
    const c = classifyError(sysError(code));
    expect(c).toMatchObject({ kind: 'transient', retryable: true, reason: code });
    expect(c.requestSent).toBe(NOT_SENT_ERROR_CODES.has(code) ? 'no' : 'maybe');
  });

  it.each<[string, string | undefined, 'no' | 'maybe']>([
    ['ECONNRESET', 'read', 'maybe'],
    ['EPIPE', 'write', 'maybe'],
    ['ETIMEDOUT', 'connect', 'no'],
    ['ETIMEDOUT', 'read', 'maybe'],
    ['EHOSTUNREACH', 'connect', 'no'],
    ['EHOSTUNREACH', undefined, 'maybe'],
    ['ENOTFOUND', 'getaddrinfo', 'no'],
    ['ECONNREFUSED', undefined, 'no'],
  ])('%s from %p: request sent %p', (code, syscall, sent) => {
    expect(classifyError(sysError(code, syscall)).requestSent).toBe(sent);
  });

  it('finds the code through a cause chain (fetch wraps it in a TypeError)', () => {
    const error = new TypeError('fetch failed', { cause: sysError('ECONNRESET', 'read') });
    expect(classifyError(error)).toEqual({
      kind: 'transient',
      retryable: true,
      reason: 'ECONNRESET',
      requestSent: 'maybe',
    });
  });

  it('finds the code in the members of an AggregateError', () => {
    const error = new AggregateError(
      [new Error('not a network error'), sysError('ECONNREFUSED', 'connect')],
      'connect failed',
    );
    expect(classifyError(new TypeError('fetch failed', { cause: error }))).toMatchObject({
      kind: 'transient',
      reason: 'ECONNREFUSED',
      requestSent: 'no',
    });
  });

  it('an AggregateError of connect failures was not sent; one with a read failure maybe was', () => {
    const connects = Object.assign(
      new AggregateError([sysError('ETIMEDOUT', 'connect'), sysError('ENETUNREACH', 'connect')]),
      { code: 'ETIMEDOUT' },
    );
    expect(classifyError(connects)).toMatchObject({ reason: 'ETIMEDOUT', requestSent: 'no' });
    const mixed = Object.assign(
      new AggregateError([sysError('ETIMEDOUT', 'connect'), sysError('ETIMEDOUT', 'read')]),
      { code: 'ETIMEDOUT' },
    );
    expect(classifyError(mixed)).toMatchObject({ reason: 'ETIMEDOUT', requestSent: 'maybe' });
    const empty = Object.assign(new AggregateError([]), { code: 'ETIMEDOUT' });
    expect(classifyError(empty)).toMatchObject({ requestSent: 'maybe' });
  });

  it('the outermost deciding error wins', () => {
    const error = sysError('UND_ERR_SOCKET', undefined, sysError('ECONNREFUSED', 'connect'));
    expect(classifyError(error)).toMatchObject({ reason: 'UND_ERR_SOCKET', requestSent: 'maybe' });
  });

  it.each<[string, unknown]>([
    ['a DOMException AbortError', new DOMException('This operation was aborted', 'AbortError')],
    [
      'an AbortSignal reason',
      (() => {
        const c = new AbortController();
        c.abort();
        return c.signal.reason as unknown;
      })(),
    ],
    ['ABORT_ERR', sysError('ABORT_ERR')],
    ["undici's UND_ERR_ABORTED", sysError('UND_ERR_ABORTED')],
    [
      'an abort that wraps a reset',
      Object.assign(new Error('aborted', { cause: sysError('ECONNRESET') }), {
        name: 'AbortError',
      }),
    ],
    [
      'a wrapper of an abort',
      new Error('request failed', { cause: new DOMException('x', 'AbortError') }),
    ],
  ])('%s is permanent: the caller asked to stop', (_label, error) => {
    expect(classifyError(error)).toEqual({
      kind: 'permanent',
      retryable: false,
      reason: 'aborted',
      requestSent: 'maybe',
    });
  });

  it('a TimeoutError from AbortSignal.timeout() is transient', async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    expect(classifyError(signal.reason)).toEqual({
      kind: 'transient',
      retryable: true,
      reason: 'TimeoutError',
      requestSent: 'maybe',
    });
  });

  it.each<[string, unknown, string]>([
    ['a plain Error', new Error('bug'), 'Error'],
    ['a TypeError', new TypeError('x is not a function'), 'TypeError'],
    ['an error with an unknown code', sysError('ERR_INVALID_ARG_TYPE'), 'ERR_INVALID_ARG_TYPE'],
    ['an unknown code deep in the chain', new Error('x', { cause: sysError('EACCES') }), 'EACCES'],
    ['a string', 'boom', 'string'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'object'],
    ['a plain object', { message: 'x' }, 'object'],
  ])('%s is permanent', (_label, error, reason) => {
    expect(classifyError(error)).toEqual({
      kind: 'permanent',
      retryable: false,
      reason,
      requestSent: 'maybe',
    });
  });

  it('survives cyclic and very deep cause chains', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classifyError(a)).toMatchObject({ kind: 'permanent' });
    let deep: unknown = sysError('ECONNRESET');
    for (let i = 0; i < 20; i++) deep = new Error(`level ${i}`, { cause: deep });
    expect(classifyError(deep)).toMatchObject({ kind: 'permanent', reason: 'Error' });
    let shallow: unknown = sysError('ECONNRESET');
    for (let i = 0; i < 8; i++) shallow = new Error(`level ${i}`, { cause: shallow });
    expect(classifyError(shallow)).toMatchObject({ kind: 'transient', reason: 'ECONNRESET' });
  });

  it('classifies real socket failures: refused connect and reset after the request', async () => {
    const refused = createServer();
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', resolve));
    const { port } = refused.address() as AddressInfo;
    await new Promise((resolve) => refused.close(resolve));
    const connectError = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(classifyError(connectError)).toMatchObject({
      kind: 'transient',
      reason: 'ECONNREFUSED',
      requestSent: 'no',
    });

    const resetting = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    try {
      const { port: resetPort } = resetting.address() as AddressInfo;
      const resetError = await fetch(`http://127.0.0.1:${resetPort}/`, {
        method: 'POST',
        body: 'x',
      }).catch((e: unknown) => e);
      expect(classifyError(resetError)).toMatchObject({
        kind: 'transient',
        reason: 'ECONNRESET',
        requestSent: 'maybe',
      });
    } finally {
      await new Promise((resolve) => resetting.close(resolve));
    }
  });
});

describe('errorCodeOf and networkErrorCodeOf', () => {
  it('return the first code, and the first transient network code', () => {
    const error = sysError(
      'ERR_X',
      undefined,
      new AggregateError([sysError('EACCES'), sysError('EPIPE')]),
    );
    expect(errorCodeOf(error)).toBe('ERR_X');
    expect(networkErrorCodeOf(error)).toBe('EPIPE');
  });

  it('return undefined when there is none', () => {
    expect(errorCodeOf(new Error('x'))).toBeUndefined();
    expect(networkErrorCodeOf(sysError('EACCES'))).toBeUndefined();
    expect(errorCodeOf('ECONNRESET')).toBeUndefined();
    expect(networkErrorCodeOf(null)).toBeUndefined();
  });

  it('ignore non-string codes such as DOMException numbers', () => {
    expect(errorCodeOf(new DOMException('x', 'AbortError'))).toBeUndefined();
  });

  it('survive cycles', () => {
    const a = sysError('EACCES') as Error & { cause?: unknown };
    a.cause = a;
    expect(errorCodeOf(a)).toBe('EACCES');
    expect(networkErrorCodeOf(a)).toBeUndefined();
  });
});
