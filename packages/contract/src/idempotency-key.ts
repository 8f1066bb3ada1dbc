import { v7 as uuidv7 } from 'uuid';
import { InvalidIdempotencyKeyError, type IdempotencyKeyRejection } from './errors.js';

/** Longest key accepted, in characters (Stripe's limit, kept by the contract). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Result of {@link parseIdempotencyKey}: the key, or the rule that rejected the header. */
export type IdempotencyKeyParseResult =
  | { ok: true; key: string; form: 'sf-string' | 'token' }
  | { ok: false; reason: IdempotencyKeyRejection; message: string };

/** A new key for one logical operation: a UUIDv7, sortable by creation time. */
export function generateIdempotencyKey(): string {
  return uuidv7();
}

/**
 * Parses an `Idempotency-Key` header value as the server receives it.
 *
 * Accepts an RFC 8941 sf-string (`"abc"`, with `\"` and `\\` escapes, parameters ignored)
 * and, for interop, a bare token of visible ASCII without `"`, `\`, `,` or `;`. The key is
 * 1..255 printable ASCII characters. Several header lines (an array, or Node's `", "` join)
 * are rejected. Never throws.
 */
export function parseIdempotencyKey(
  header: string | readonly string[] | undefined | null,
): IdempotencyKeyParseResult {
  if (header == null) return reject('missing', 'the Idempotency-Key header is missing');
  if (typeof header !== 'string') {
    if (header.length === 0) return reject('missing', 'the Idempotency-Key header is missing');
    if (header.length > 1) {
      return reject('multiple', `the Idempotency-Key header was sent ${header.length} times`);
    }
    header = header[0] as string;
  }
  const value = trimOws(header);
  if (value.length === 0) return reject('empty', 'the Idempotency-Key header is empty');
  return value.charCodeAt(0) === 0x22 ? parseSfString(value) : parseToken(value);
}

/**
 * Checks a key chosen by a caller (the decoded value, not a header) and returns it.
 * @throws {InvalidIdempotencyKeyError} naming the rule that failed.
 */
export function validateIdempotencyKey(key: string): string {
  if (typeof key !== 'string') {
    throw new InvalidIdempotencyKeyError(
      'invalid-character',
      'an idempotency key must be a string',
    );
  }
  const problem = checkDecoded(key);
  if (problem) throw new InvalidIdempotencyKeyError(problem.reason, problem.message);
  return key;
}

/** Serialises a key as an RFC 8941 sf-string, the form the client sends. */
export function formatIdempotencyKey(key: string): string {
  validateIdempotencyKey(key);
  return `"${key.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function parseSfString(value: string): IdempotencyKeyParseResult {
  let key = '';
  let i = 1;
  for (; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x5c) {
      const next = value.charCodeAt(i + 1);
      if (next !== 0x22 && next !== 0x5c) {
        return reject(
          'invalid-escape',
          `the Idempotency-Key has an invalid escape at position ${i}: only \\" and \\\\ are allowed`,
        );
      }
      key += value[i + 1];
      i++;
    } else if (c === 0x22) {
      break;
    } else if (c < 0x20 || c > 0x7e) {
      return invalidCharacter(c, i);
    } else {
      key += value[i];
    }
  }
  if (i >= value.length) {
    return reject('unterminated-string', 'the Idempotency-Key has an unterminated quoted string');
  }
  const rest = value.slice(i + 1);
  if (rest.length > 0 && !PARAMETERS.test(rest)) {
    if (/^\s*,/.test(rest))
      return reject('multiple', 'the Idempotency-Key header has several values');
    return reject(
      'trailing-characters',
      'the Idempotency-Key has characters after its closing quote',
    );
  }
  const problem = checkDecoded(key);
  return problem ? reject(problem.reason, problem.message) : { ok: true, key, form: 'sf-string' };
}

function parseToken(value: string): IdempotencyKeyParseResult {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2c) return reject('multiple', 'the Idempotency-Key header has several values');
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x3b) {
      return invalidCharacter(c, i);
    }
  }
  const problem = checkDecoded(value);
  return problem
    ? reject(problem.reason, problem.message)
    : { ok: true, key: value, form: 'token' };
}

/** RFC 8941 parameters after an item: `;name` or `;name=value`, ignored by the contract. */
const PARAMETERS =
  /^(?:;[ ]*[a-z*][a-z0-9_.*-]*(?:=(?:"(?:[^"\\]|\\["\\])*"|[!#-'*+\-.0-9A-Z^_`a-z|~:/]+))?)+$/;

function checkDecoded(
  key: string,
): { reason: IdempotencyKeyRejection; message: string } | undefined {
  if (key.length === 0) return { reason: 'empty', message: 'the Idempotency-Key is empty' };
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return {
      reason: 'too-long',
      message: `the Idempotency-Key is ${key.length} characters long; the limit is ${MAX_IDEMPOTENCY_KEY_LENGTH}`,
    };
  }
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      const r = invalidCharacter(c, i);
      return { reason: 'invalid-character', message: r.ok ? '' : r.message };
    }
  }
  return undefined;
}

function invalidCharacter(code: number, position: number): IdempotencyKeyParseResult {
  const hex = code.toString(16).padStart(2, '0');
  return reject(
    'invalid-character',
    `the Idempotency-Key has a character not allowed there (0x${hex}) at position ${position}`,
  );
}

function reject(reason: IdempotencyKeyRejection, message: string): IdempotencyKeyParseResult {
  return { ok: false, reason, message };
}

function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
