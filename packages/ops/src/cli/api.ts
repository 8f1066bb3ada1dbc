import { UsageError } from './args.js';

/** A problem document (`application/problem+json`) the console answered, or one made up here. */
export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail: string;
  readonly code: string;
  readonly instance?: string;
}

/** The API answered an error status, or could not be reached or read. */
export class ApiError extends Error {
  constructor(
    /** The HTTP status; 0 when there was no answer. */
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail);
    this.name = 'ApiError';
  }
}

/** Where the console is and how to call it. */
export interface ApiOptions {
  /** The console's base URL (`http://host:port/ops`), without a trailing slash. */
  readonly base: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** The console's base URL from `--url` or `UNFAZED_OPS_URL`, checked. */
export function baseUrl(given: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = given ?? env['UNFAZED_OPS_URL'];
  const from = given !== undefined ? '--url' : 'UNFAZED_OPS_URL';
  if (raw === undefined || raw === '')
    throw new UsageError(
      '--url is needed (or set UNFAZED_OPS_URL), e.g. --url http://127.0.0.1:8080/ops',
    );
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      `${from} must be an http(s) URL such as http://127.0.0.1:8080/ops (got ${JSON.stringify(raw)})`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${from} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  if (url.search !== '' || url.hash !== '')
    throw new UsageError(`${from} must have no query or fragment (got ${JSON.stringify(raw)})`);
  return url.href.replace(/\/+$/, '');
}

/** `--header 'Name: value'` flags (and `UNFAZED_OPS_AUTHORIZATION`) as a header object. */
export function requestHeaders(
  given: readonly string[],
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const auth = env['UNFAZED_OPS_AUTHORIZATION'];
  if (auth !== undefined && auth !== '') headers['authorization'] = auth;
  for (const h of given) {
    const colon = h.indexOf(':');
    const name = colon > 0 ? h.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw new UsageError(`--header must be 'Name: value' (got ${JSON.stringify(h)})`);
    headers[name.toLowerCase()] = h.slice(colon + 1).trim();
  }
  return headers;
}

/** Calls the console's API: JSON in, JSON out, every error as an {@link ApiError}. */
export class Api {
  constructor(private readonly o: ApiOptions) {}

  get base(): string {
    return this.o.base;
  }

  get(path: string, query?: URLSearchParams): Promise<unknown> {
    const q = query && [...query.keys()].length > 0 ? `?${query.toString()}` : '';
    return this.#call('GET', `${path}${q}`);
  }

  /** A POST: always with `X-Unfazed-Ops: 1` (the console refuses a POST without it). */
  post(path: string, body: Record<string, unknown>): Promise<unknown> {
    return this.#call('POST', path, body);
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = `${this.o.base}/api${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept: 'application/json, application/problem+json',
          ...this.o.headers,
          ...(method === 'POST'
            ? { 'x-unfazed-ops': '1', 'content-type': 'application/json' }
            : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `no answer within ${this.o.timeoutMs} ms (--timeout)`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new ApiError(0, {
        code: 'unreachable',
        detail: `cannot reach ${method} ${url}: ${why}`,
      });
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      parsed = undefined;
    }
    if (res.ok && parsed !== undefined) return parsed;
    const p = parsed as Partial<Problem> | undefined;
    if (p && typeof p === 'object' && typeof p.detail === 'string' && typeof p.code === 'string')
      throw new ApiError(res.status, p as Problem);
    throw new ApiError(res.status, {
      code: res.ok ? 'not-json' : `http-${res.status}`,
      status: res.status,
      // Not the console's answer (an HTML error page, a proxy): its first line only; the caller
      // adds the --url hint.
      detail: `${method} ${url} answered ${res.status} ${res.statusText}${res.ok ? ' without a JSON body' : ''}: ${JSON.stringify(firstLine(text))}`,
    });
  }
}

/** The first non-empty line of a body, at most 120 characters. */
function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}
