import { InvalidOptionError, parseIdempotencyKey } from '@unfazed/contract';

/** What a route predicate sees of a request. */
export interface RouteRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * A route: `"METHOD /path"`, `"/path"` (any method) or a predicate. In paths, `:name` matches
 * one segment and a trailing `*` matches any rest, e.g. `"POST /charges/:id/*"`.
 */
export type RouteMatch = string | ((request: RouteRequest) => boolean);

/** Compiles a {@link RouteMatch} to a predicate, validating the pattern. */
export function compileRoute(
  match: RouteMatch,
  option = 'route',
): (request: RouteRequest) => boolean {
  if (typeof match === 'function') return match;
  if (typeof match !== 'string') {
    throw new InvalidOptionError(option, 'must be "METHOD /path", "/path" or a predicate', match);
  }
  const parts = match.trim().split(/\s+/);
  const [method, path] = parts.length === 1 ? ['*', parts[0]] : parts;
  if (parts.length > 2 || path === undefined || !path.startsWith('/') || method === undefined) {
    throw new InvalidOptionError(option, 'must be "METHOD /path", "/path" or a predicate', match);
  }
  const wanted = method.toUpperCase();
  const source = path
    .split('/')
    .map((segment, i, all) => {
      if (segment === '*' && i === all.length - 1) return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  const pattern = new RegExp(`^${source}$`);
  return (request) =>
    (wanted === '*' || request.method.toUpperCase() === wanted) && pattern.test(request.path);
}

/**
 * Default attempt key: the `Idempotency-Key` header when present (unquoted when it is a valid
 * sf-string, as the client sends it; else the raw value), else `METHOD /path`.
 */
export function defaultAttemptKey(request: RouteRequest): string {
  const header = request.headers['idempotency-key'];
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw === '') return `${request.method.toUpperCase()} ${request.path}`;
  const parsed = parseIdempotencyKey(raw);
  return parsed.ok ? parsed.key : raw;
}
