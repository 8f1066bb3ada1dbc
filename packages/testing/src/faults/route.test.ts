import { describe, expect, it } from '@jest/globals';
import { compileRoute, defaultAttemptKey } from './route.js';

const req = (method: string, path: string, headers: Record<string, string> = {}) => ({
  method,
  path,
  headers,
});

describe('compileRoute', () => {
  it('matches method and exact path, case-insensitive method', () => {
    const route = compileRoute('POST /charges');
    expect(route(req('post', '/charges'))).toBe(true);
    expect(route(req('GET', '/charges'))).toBe(false);
    expect(route(req('POST', '/charges/1'))).toBe(false);
  });

  it('"/path" matches any method; :param one segment; trailing * the rest', () => {
    expect(compileRoute('/a')(req('DELETE', '/a'))).toBe(true);
    const param = compileRoute('GET /items/:id');
    expect(param(req('GET', '/items/7'))).toBe(true);
    expect(param(req('GET', '/items/7/x'))).toBe(false);
    const rest = compileRoute('* /files/*');
    expect(rest(req('PUT', '/files/a/b.txt'))).toBe(true);
    expect(rest(req('PUT', '/filesx'))).toBe(false);
    expect(compileRoute('GET /a.b')(req('GET', '/aXb'))).toBe(false);
  });

  it('accepts predicates and rejects malformed patterns', () => {
    expect(compileRoute((r) => r.path.startsWith('/x'))(req('GET', '/xy'))).toBe(true);
    expect(() => compileRoute('POST charges')).toThrow(/Invalid option "route"/);
    expect(() => compileRoute('A B C')).toThrow(/Invalid option/);
    expect(() => compileRoute(42 as never)).toThrow(/Invalid option/);
  });
});

describe('defaultAttemptKey', () => {
  it('uses the Idempotency-Key (unquoted sf-string or token), else METHOD /path', () => {
    expect(defaultAttemptKey(req('POST', '/c', { 'idempotency-key': '"abc-1"' }))).toBe('abc-1');
    expect(defaultAttemptKey(req('POST', '/c', { 'idempotency-key': 'tok' }))).toBe('tok');
    expect(defaultAttemptKey(req('post', '/c'))).toBe('POST /c');
  });
});
