import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { InvalidIdempotencyKeyError, type IdempotencyKeyRejection } from './errors.js';
import { isOws, trimOws } from './ows.js';

/** Longest key accepted, in characters (Stripe's limit, kept by the contract). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Result of {@link parseIdempotencyKey}: the key, or the rule that rejected the header. */
export type IdempotencyKeyParseResult =
  | { ok: true; key: string; form: 'sf-string' | 'token' }
  | { ok: false; reason: IdempotencyKeyRejection; message: string };

const KEY_BYTES = 16;
const POOL_KEYS = 256;
const pool = new Uint8Array(KEY_BYTES * POOL_KEYS);
let offset = pool.length;
const state = { msecs: -Infinity, seq: 0 };

/**
 * A new key for one logical operation: a UUIDv7, sortable by creation time (uuid's layout and
 * per-process monotonic sequence). The random bytes come from a pool filled 4 KiB at a time:
 * asking `crypto.getRandomValues` for 16 bytes per key costs several µs on Node 20, as much as
 * the rest of the client's work on a POST.
 */
export function generateIdempotencyKey(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const random = pool.subarray(offset, offset + KEY_BYTES);
  offset += KEY_BYTES;
  // The sequence rules of uuid's own v7(): a fresh random sequence each millisecond, counting
  // up within one (and borrowing the next millisecond on overflow), so keys sort by creation.
  const now = Date.now();
  if (now > state.msecs) {
    state.seq =
      (((random[6] ?? 0) & 0x7f) << 24) |
      ((random[7] ?? 0) << 16) |
      ((random[8] ?? 0) << 8) |
      (random[9] ?? 0);
    state.msecs = now;
  } else {
    state.seq = (state.seq + 1) | 0;
    if (state.seq === 0) state.msecs++;
  }
  return uuidv7({ random, msecs: state.msecs, seq: state.seq });
}

/**
 * Parses an `Idempotency-Key` header value as the server receives it.
 *
 * Accepts an RFC 8941 sf-string (`"abc"`, with `\"` and `\\` escapes; parameters after it,
 * such as `"abc";v=1`, are checked and ignored) and, for interop, a bare token: visible ASCII
 * without `"`, `\`, `,` or `;` (any first character, so a plain UUID works). The decoded key
 * is 1..255 printable ASCII characters (0x20-0x7E). Several header lines (an array of more
 * than one value, or Node's `", "` join of them) are rejected with reason `multiple`.
 * Never throws: the result names the rule that failed.
 */
export function parseIdempotencyKey(
  header: string | readonly string[] | undefined | null,
): IdempotencyKeyParseResult {
  if (header == null) return reject('missing', 'the Idempotency-Key header is missing');
  if (Array.isArray(header)) {
    if (header.length === 0) return reject('missing', 'the Idempotency-Key header is missing');
    if (header.length > 1) {
      return reject(
        'multiple',
        `the Idempotency-Key header was sent ${header.length} times; send it once`,
      );
    }
    header = header[0] as unknown as string;
  }
  if (typeof header !== 'string') {
    return reject('not-a-string', `the Idempotency-Key header is a ${typeof header}, not text`);
  }
  const value = trimOws(header);
  if (value.length === 0) return reject('empty', 'the Idempotency-Key header is empty');
  return value.charCodeAt(0) === DQUOTE ? parseSfString(value) : parseToken(value);
}

/**
 * Checks a key chosen by a caller (the decoded value, not a header) and returns it: 1..255
 * printable ASCII characters (0x20-0x7E).
 * @throws {InvalidIdempotencyKeyError} naming the rule that failed (`reason`).
 */
export function validateIdempotencyKey(key: string): string {
  if (typeof key !== 'string') {
    throw new InvalidIdempotencyKeyError(
      'not-a-string',
      `an idempotency key must be a string, got ${key === null ? 'null' : typeof key}`,
    );
  }
  const problem = checkDecoded(key);
  if (problem) throw new InvalidIdempotencyKeyError(problem.reason, problem.message);
  return key;
}

/**
 * Serialises a key as an RFC 8941 sf-string, the form the client sends: `abc"d` becomes
 * `"abc\"d"`.
 * @throws {InvalidIdempotencyKeyError} when the key breaks a rule of {@link validateIdempotencyKey}.
 */
export function formatIdempotencyKey(key: string): string {
  validateIdempotencyKey(key);
  return `"${key.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;

type Rejection = Extract<IdempotencyKeyParseResult, { ok: false }>;

function parseSfString(value: string): IdempotencyKeyParseResult {
  // The key is the runs between escapes, sliced (not built a character at a time).
  let key = '';
  let run = 1;
  let i = 1;
  for (;;) {
    if (i >= value.length) {
      return reject(
        'unterminated-string',
        'the Idempotency-Key header opens a quoted string but never closes it',
      );
    }
    const c = value.charCodeAt(i);
    if (c === DQUOTE) {
      key += value.slice(run, i);
      break;
    }
    if (c === BACKSLASH) {
      if (i + 1 >= value.length) {
        return reject(
          'unterminated-string',
          'the Idempotency-Key header ends inside an escape of its quoted string',
        );
      }
      const next = value.charCodeAt(i + 1);
      if (next !== DQUOTE && next !== BACKSLASH) {
        return reject(
          'invalid-escape',
          `the Idempotency-Key header has an invalid escape at index ${i}: only \\" and \\\\ are allowed in a quoted string`,
        );
      }
      key += value.slice(run, i) + value[i + 1];
      i += 2;
      run = i;
      continue;
    }
    if (c < 0x20 || c > 0x7e) return invalidCharacter(c, i);
    i++;
  }
  const afterParameters = skipParameters(value, i + 1);
  if (afterParameters < value.length) {
    if (startsWithListSeparator(value, afterParameters)) return severalValues();
    return reject(
      'trailing-characters',
      `the Idempotency-Key header has unexpected characters after its quoted string at index ${afterParameters}`,
    );
  }
  const problem = checkDecoded(key);
  return problem ? problem : { ok: true, key, form: 'sf-string' };
}

function parseToken(value: string): IdempotencyKeyParseResult {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === COMMA) return severalValues();
    if (c === SEMICOLON) {
      return reject(
        'invalid-character',
        `the Idempotency-Key header has ";" at index ${i}: parameters are allowed only after a quoted key`,
      );
    }
    if (c < 0x21 || c > 0x7e || c === DQUOTE || c === BACKSLASH) return invalidCharacter(c, i);
  }
  const problem = checkDecoded(value);
  return problem ? problem : { ok: true, key: value, form: 'token' };
}

// RFC 8941 §3.1.2 parameters: `;` *SP key [ "=" bare-item ]. The bare item is an integer,
// decimal, sf-string, token, byte sequence or boolean.
const PARAMETER =
  /;[ ]*[a-z*][a-z0-9_.*-]*(?:=(?:-?\d{1,15}(?:\.\d{1,3})?|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"|[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*|:[A-Za-z0-9+/]*={0,2}:|\?[01]))?/y;

/** Index of the first character after the parameters that start at `from`. */
function skipParameters(value: string, from: number): number {
  let at = from;
  for (;;) {
    PARAMETER.lastIndex = at;
    if (!PARAMETER.test(value)) return at;
    at = PARAMETER.lastIndex;
  }
}

function startsWithListSeparator(value: string, from: number): boolean {
  let i = from;
  while (i < value.length && isOws(value.charCodeAt(i))) i++;
  return value.charCodeAt(i) === COMMA;
}

function severalValues(): Rejection {
  return reject(
    'multiple',
    'the Idempotency-Key header has several comma-separated values (several header lines?); send exactly one key',
  );
}

function checkDecoded(key: string): Rejection | undefined {
  if (key.length === 0) return reject('empty', 'the Idempotency-Key is empty');
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return invalidCharacter(c, i);
  }
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return reject(
      'too-long',
      `the Idempotency-Key is ${key.length} characters long; the limit is ${MAX_IDEMPOTENCY_KEY_LENGTH}`,
    );
  }
  return undefined;
}

function invalidCharacter(code: number, index: number): Rejection {
  const hex = code.toString(16).toUpperCase().padStart(2, '0');
  if (code >= 0x20 && code <= 0x7e) {
    // Printable, so only the bare-token form can refuse it: say how to send it instead.
    return reject(
      'invalid-character',
      `the Idempotency-Key header has ${JSON.stringify(String.fromCharCode(code))} (0x${hex}) at index ${index}, which a bare key cannot contain; send the key as a quoted string`,
    );
  }
  const what = code < 0x20 || code === 0x7f ? 'a control character' : 'a non-ASCII character';
  return reject(
    'invalid-character',
    `the Idempotency-Key has ${what} (0x${hex}) at index ${index}; only printable ASCII is allowed`,
  );
}

function reject(reason: IdempotencyKeyRejection, message: string): Rejection {
  return { ok: false, reason, message };
}
