import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { formatIdempotencyKey, parseIdempotencyKey } from '@unfazed/contract';
import {
  checkedByRule,
  joinPath,
  prepareCall,
  quickCheck,
  type CheckedRequest,
  type RequestOptions,
} from './call.js';
import { resolveOptions, type ClientOptions } from './options.js';

function prepare(req: RequestOptions, options: ClientOptions = { baseUrl: 'http://h:1/v1/' }) {
  return prepareCall(req, resolveOptions(options), (url) => url.origin);
}

describe('prepareCall', () => {
  it('joins the base path, appends the query and keeps the origin for pool and breaker', () => {
    const call = prepare({ path: 'charges?x=1', query: { y: [1, 2], z: true } });
    expect(call.info.url).toBe('http://h:1/v1/charges?x=1&y=1&y=2&z=true');
    expect(call.origin).toBe('http://h:1');
    expect(call.path).toBe('/v1/charges?x=1&y=1&y=2&z=true');
    expect(call.breakerKey).toBe('http://h:1');
  });

  it('sends every path exactly as the URL parser would, with or without a base path', () => {
    const paths = [
      '',
      '/',
      'x',
      '/a/b/c',
      '/a//b',
      '//other.example/x',
      '/item?id=42&sort=-date',
      '/q?a=b?c&d=/e',
      '/x?',
      '/x#frag',
      '/a b',
      '/é',
      '/a/../b',
      '/a/./b',
      '/a/%2e%2E/b',
      '/..',
      '.',
      "/it's?q='1'",
      '/a%20b?x=%zz',
      '/a"b<c>{d}^`|',
      '/a\\b',
      '/~user/_x-y.z!$&()*+,;=:@',
    ];
    for (const base of ['http://h:1', 'http://H:80/', 'https://h/v1/', 'http://h:1/v1']) {
      const options = resolveOptions({ baseUrl: base });
      for (const path of paths) {
        const expected = joinPath(new URL(base), path);
        for (const keyOf of ['origin', (url: URL) => url.origin] as const) {
          const call = prepareCall({ path }, options, keyOf);
          expect({ base, path, url: call.info.url, sent: call.path, origin: call.origin }).toEqual({
            base,
            path,
            url: expected.href,
            sent: expected.pathname + expected.search,
            origin: expected.origin,
          });
          expect(call.breakerKey).toBe(expected.origin);
        }
      }
    }
  });

  it('sends a generated key in its sf-string form', () => {
    const call = prepare({ method: 'POST', path: '/' });
    expect(call.headers['idempotency-key']).toBe(
      formatIdempotencyKey(call.info.idempotencyKey as string),
    );
  });

  it('merges client and request headers, lower-cased, request winning', () => {
    const call = prepare(
      { path: '/', headers: { 'X-Trace': 'req', Accept: undefined } },
      { baseUrl: 'http://h:1', headers: { 'x-trace': 'client', Accept: 'text/plain' } },
    );
    expect(call.headers).toEqual({ 'x-trace': 'req', accept: 'text/plain' });
  });

  it('keys POST and PATCH by default, not GET/PUT, and marks what is safe to resend', () => {
    const post = prepare({ method: 'post', path: '/' });
    expect(post.method).toBe('POST');
    expect(post.info.idempotencyKey).toBeDefined();
    expect(post.safeToResend).toBe(true);
    const noKey = prepare({ method: 'PATCH', path: '/', idempotencyKey: false });
    expect(noKey.safeToResend).toBe(false);
    const off = prepareCall(
      { method: 'POST', path: '/' },
      resolveOptions({ baseUrl: 'http://h:1', idempotency: { autoKey: false } }),
      undefined,
    );
    expect(off.info.idempotencyKey).toBeUndefined();
    expect(prepare({ method: 'PUT', path: '/' }).info.idempotencyKey).toBeUndefined();
    expect(prepare({ method: 'PUT', path: '/' }).safeToResend).toBe(true);
  });

  it('takes the key from an Idempotency-Key header the caller set', () => {
    const call = prepare({ method: 'POST', path: '/', headers: { 'Idempotency-Key': '"abc"' } });
    expect(call.info.idempotencyKey).toBe('abc');
    expect(parseIdempotencyKey(call.headers['idempotency-key'])).toMatchObject({ key: 'abc' });
  });

  it('marks a stream body as one-shot and a factory as replayable', () => {
    expect(prepare({ method: 'PUT', path: '/', body: Readable.from(['x']) }).body.replayable).toBe(
      false,
    );
    expect(prepare({ method: 'PUT', path: '/', body: () => 'x' }).body.replayable).toBe(true);
  });

  it.each([
    [{ path: '/', url: 'http://h:1/' }, 'url', /cannot be combined with path/],
    [{}, 'path', /needs path or url/],
    [{ url: 'nope' }, 'url', /absolute http\(s\) URL/],
    [{ url: 'file:///etc/passwd' }, 'url', /http: or https:/],
    [{ path: '/', method: 'GE T' }, 'method', /HTTP method token/],
    [{ path: '/', json: {}, body: 'x' }, 'json', /cannot be combined with body/],
    [{ path: '/', body: 42 }, 'body', /must be a string, a Uint8Array/],
    [{ path: '/', idempotencyKey: '' }, 'idempotencyKey', /empty/],
    [{ path: '/', idempotencyKey: 1 }, 'idempotencyKey', /false or a string/],
    [
      { path: '/', headers: { 'idempotency-key': '"a' } },
      'headers.idempotency-key',
      /Idempotency-Key/,
    ],
    [{ path: '/', signal: {} }, 'signal', /AbortSignal/],
    [{ path: '/', json: { n: 1n } }, 'json', /cannot be serialised/],
    [{ path: '/', timeout: { attempt: 0 } }, 'timeout.attempt', /> 0/],
  ])('rejects %j naming %s', (req, option, rule) => {
    expect(() => prepare(req as RequestOptions)).toThrow(
      expect.objectContaining({ option, message: expect.stringMatching(rule) }),
    );
  });

  it.each([
    [{ path: '/', jsno: {} }, 'jsno', 'json'],
    [{ path: '/', idempotencykey: 'k' }, 'idempotencykey', 'idempotencyKey'],
    [{ path: '/', timeout: { totl: 5 } }, 'timeout.totl', 'total'],
    [{ path: '/', retry: { maxRetires: 1 } }, 'retry.maxRetires', 'maxRetries'],
  ])('rejects the unknown key of %j with a hint', (req, option, hint) => {
    expect(() => prepare(req as RequestOptions)).toThrow(
      expect.objectContaining({
        option,
        rule: `is not a known option; did you mean "${hint}"?`,
        message: expect.stringMatching(/^request: Invalid option/),
      }),
    );
  });

  it.each([
    [{ path: '/', retry: { maxRetries: -1 } }, 'retry.maxRetries', /integer from 0 to 100/],
    [{ path: '/', timeout: { total: Infinity } }, 'timeout.total', /finite number/],
    [{ path: 42 }, 'path', /must be a string/],
    [{ path: '/', headers: { a: 1 } }, 'headers.a', /a string or an array/],
    [null, 'options', /must be an object/],
  ])('rejects the wrong type or range in %j', (req, option, rule) => {
    expect(() => prepare(req as RequestOptions)).toThrow(
      expect.objectContaining({ option, rule: expect.stringMatching(rule) }),
    );
  });

  it('needs baseUrl for a path', () => {
    expect(() => prepare({ path: '/' }, {})).toThrow(/needs the client option baseUrl/);
  });
});

/** A checked request with its body source replaced by what it sends, for comparisons. */
function comparable(r: CheckedRequest): unknown {
  const { body, ...rest } = r;
  return body === undefined ? rest : { ...rest, body: [body.replayable, body.forAttempt()] };
}

describe('the request check fast path', () => {
  const options = resolveOptions({ baseUrl: 'http://h:1/v1', headers: { 'X-Client': 'c' } });
  const headers = fc.dictionary(
    fc.constantFrom('Content-Type', 'idempotency-key', 'Idempotency-Key', 'x-a', 'X-Client'),
    fc.oneof(
      fc.constant(undefined),
      fc.constant(1),
      fc.constantFrom('v', '"key-1"', 'tok', '"bad', ''),
      fc.constant(['v']),
      fc.constant(['a', 'b']),
      fc.constant(['a', 2]),
    ),
  );
  const value = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.constant(false),
    fc.constant(true),
    fc.integer(),
    fc.string(),
    fc.constantFrom('GET', 'post', 'Patch', 'GE T', '', '/x', 'http://h:1/', 'k', '"k"', '"a'),
    fc.constant(new Uint8Array([1, 2])),
    fc.constant(new AbortController().signal),
    fc.constant({}),
    fc.constant({ n: 1 }),
    fc.constant({ n: 1n }),
    fc.constant([]),
    fc.constant(['a']),
    fc.constant(() => 'x'),
    headers,
  );
  // Each field mostly plausible, sometimes anything: most requests reach the fast path, and
  // the others probe where it must give up.
  const field = <T>(plausible: fc.Arbitrary<T>) =>
    fc.oneof({ arbitrary: plausible, weight: 4 }, { arbitrary: value, weight: 1 });
  const base = fc.record(
    {
      method: field(fc.constantFrom('GET', 'post', 'Patch', 'PUT', 'GE T', 'délete')),
      path: field(fc.constantFrom('/', '/charges', 'x?y=1', '/a b', '')),
      headers: field(headers),
      idempotencyKey: field(fc.constantFrom(false, 'k-1', '', 'a"b', 'é')),
      signal: field(fc.constant(new AbortController().signal)),
    },
    { requiredKeys: ['path'] },
  );
  const payload = fc.oneof(
    fc.record({ json: field(fc.oneof(fc.jsonValue(), fc.constant(undefined))) }),
    fc.record({
      body: field(fc.oneof(fc.string(), fc.constant(new Uint8Array([1])), fc.constant(undefined))),
    }),
    fc.record({ json: value, body: value }),
    fc.constant({}),
  );
  const extra = fc.oneof(
    { arbitrary: fc.constant({}), weight: 6 },
    { arbitrary: fc.record({ url: value }), weight: 1 },
    { arbitrary: fc.record({ jsno: value }), weight: 1 },
  );
  const request = fc
    .tuple(base, payload, extra)
    .map(([b, p, e]) => ({ ...b, ...p, ...e }) as Record<string, unknown>);

  it('accepts only what the request rule accepts, with the same result', () => {
    let quick = 0;
    fc.assert(
      fc.property(request, (req) => {
        const fast = quickCheck(req as RequestOptions, options);
        if (fast === undefined) return;
        quick++;
        expect(comparable(fast)).toEqual(comparable(checkedByRule(req as RequestOptions, options)));
      }),
      { numRuns: 5000 },
    );
    // The generator reaches the fast path often enough for the comparison to mean something.
    expect(quick).toBeGreaterThan(100);
  });

  it('takes the shape of an ordinary call', () => {
    const req = {
      method: 'post',
      path: '/charges',
      headers: { 'Content-Type': 'application/json', 'x-a': undefined },
      body: '{"amount":42}',
    };
    const fast = quickCheck(req, options);
    expect(fast).toBeDefined();
    expect(comparable(fast as CheckedRequest)).toEqual(comparable(checkedByRule(req, options)));
    expect(quickCheck({ path: '/', json: { a: 1 }, idempotencyKey: 'k' }, options)).toBeDefined();
  });

  it('leaves streams, url, query, timeouts, retries and errors to the rule', () => {
    for (const req of [
      { path: '/', body: Readable.from(['x']) },
      { url: 'http://h:1/' },
      { path: '/', query: { a: 1 } },
      { path: '/', timeout: { total: 5 } },
      { path: '/', retry: { maxRetries: 1 } },
      { path: '/', headers: { 'idempotency-key': '"a' } },
      { path: '/', json: { n: 1n } },
      { path: '/', jsno: {} },
    ]) {
      expect(quickCheck(req as RequestOptions, options)).toBeUndefined();
    }
    expect(quickCheck({ path: '/' }, resolveOptions({}))).toBeUndefined();
  });
});
