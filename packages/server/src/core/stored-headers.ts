/** Which response headers are kept for replay. */

/** Headers kept by default. */
export const DEFAULT_STORED_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-language',
  'location',
  'etag',
  'last-modified',
  'link',
  'cache-control',
  // A 202's poll hint (the 202 helpers set it); replayed as it was, a hint and never a promise.
  'retry-after',
  // The body is kept as sent: its variants (e.g. by Accept-Encoding) go with it.
  'vary',
]);

/**
 * Never kept, even when a user adds them: cookies and dates belong to one response, and
 * hop-by-hop or framing headers are recomputed for the replay. `content-encoding` is kept with
 * the body by the middleware itself, as it was when the body was captured (not user-selectable).
 */
export const NEVER_STORED_HEADERS: readonly string[] = Object.freeze([
  'set-cookie',
  'date',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-encoding',
  'idempotent-replayed',
]);

/**
 * Keeps the allow-listed headers, looked up one by one with `get` (case-insensitive, as
 * `res.getHeader`), arrays joined with `, `. Cheaper than copying every header first.
 */
export function pickStoredHeadersBy(
  get: (name: string) => unknown,
  allow: ReadonlySet<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of allow) {
    const value = get(name);
    if (value === undefined || value === null) continue;
    out[name] = Array.isArray(value) ? value.map(String).join(', ') : String(value);
  }
  return out;
}

/** Keeps the allow-listed headers of `headers`, lower-cased, arrays joined with `, `. */
export function pickStoredHeaders(
  headers: Record<string, unknown>,
  allow: ReadonlySet<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!allow.has(lower) || value === undefined || value === null) continue;
    out[lower] = Array.isArray(value) ? value.map(String).join(', ') : String(value);
  }
  return out;
}
