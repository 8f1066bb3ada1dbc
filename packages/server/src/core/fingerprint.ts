import { createHash, hash } from 'node:crypto';

/**
 * Hex SHA-256 of length-prefixed parts, so that no two part lists hash alike. One one-shot
 * `crypto.hash` call over the parts laid out as `<byte length>:<part>` each: no Hash object
 * per digest (the same digest as feeding the parts to `createHash` one by one).
 */
export function digest(parts: readonly (string | Uint8Array)[]): string {
  let text = '';
  let bytes: Uint8Array | undefined;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string | Uint8Array;
    if (typeof part === 'string') {
      text += `${Buffer.byteLength(part, 'utf8')}:${part}`;
      continue;
    }
    // Bytes anywhere but last (not a list the middleware builds): a streamed hash.
    if (i !== parts.length - 1) return streamedDigest(parts);
    text += `${part.length}:`;
    bytes = part;
  }
  if (bytes === undefined) return hash('sha256', text, 'hex');
  // One buffer of the text then the bytes: one native call instead of a Hash and its updates.
  const head = Buffer.byteLength(text, 'utf8');
  const buf = Buffer.allocUnsafe(head + bytes.length);
  buf.write(text, 0, head, 'utf8');
  buf.set(bytes, head);
  return hash('sha256', buf, 'hex');
}

function streamedDigest(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const part of parts) {
    if (typeof part === 'string') h.update(`${Buffer.byteLength(part, 'utf8')}:${part}`, 'utf8');
    else h.update(`${part.length}:`, 'utf8').update(part);
  }
  return h.digest('hex');
}

/** The store key of a request: scope and key hashed, so no header text reaches the store. */
export function recordKey(scope: string, key: string): string {
  return digest(['record', scope, key]);
}

/**
 * A request body some parser already read (Express: `req.body`), for when the raw bytes are
 * gone. Fingerprinted in a canonical form: see {@link requestFingerprint}.
 */
export class ParsedBody {
  constructor(
    readonly value: unknown,
    /** The request's `Content-Type`: an object parsed from a form differs from the same JSON. */
    readonly contentType?: string,
  ) {}
}

/**
 * Field names left out of the fingerprint, as a tree: `true` leaves the field out, a nested
 * tree names fields inside it. Built once from the `excludeFields` option.
 */
export type FieldExclusions = ReadonlyMap<string, FieldExclusions | true>;

/** Builds the tree of {@link FieldExclusions} from dotted paths; `undefined` when there are none. */
export function compileExclusions(fields: readonly string[]): FieldExclusions | undefined {
  if (fields.length === 0) return undefined;
  const root = new Map<string, Map<string, unknown> | true>();
  for (const field of fields) {
    let node = root;
    const parts = field.split('.');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const existing = node.get(part);
      if (existing === true) break;
      if (i === parts.length - 1) {
        node.set(part, true);
        break;
      }
      let child = existing as Map<string, Map<string, unknown> | true> | undefined;
      if (!child) {
        child = new Map();
        node.set(part, child);
      }
      node = child;
    }
  }
  return root as FieldExclusions;
}

/**
 * The default fingerprint: method, target, scope and the body.
 * - Raw bytes (the usual case) are hashed as they are: `{"a":1,"b":2}` and `{"b":2,"a":1}` differ.
 * - A parsed body (a parser ran first and no raw bytes were kept) is hashed in a canonical form:
 *   a string (text parser) or bytes (raw parser) as its bytes, which matches the raw-bytes
 *   fingerprint; an object (JSON or urlencoded parser) as JSON with sorted keys, so the same
 *   JSON in any key order gives the same fingerprint, prefixed by its media type (a form and
 *   the same fields as JSON differ); `undefined`/`null` as an empty body.
 * - With `exclusions` a JSON body (raw, text or object) is hashed in the canonical JSON form
 *   without the excluded fields; a raw body that is not JSON is hashed as raw bytes.
 */
export function requestFingerprint(input: {
  method: string;
  target: string;
  scope: string;
  body: Uint8Array | ParsedBody;
  exclusions: FieldExclusions | undefined;
}): string {
  return digest([
    'fingerprint',
    input.method.toUpperCase(),
    input.target,
    input.scope,
    canonicalBody(input.body, input.exclusions),
  ]);
}

/**
 * The body part of the fingerprint. Strings hash like their UTF-8 bytes (see {@link digest}),
 * so a text body parsed to a string fingerprints like its raw bytes.
 */
export function canonicalBody(
  body: Uint8Array | ParsedBody,
  exclusions: FieldExclusions | undefined,
): string | Uint8Array {
  if (!(body instanceof ParsedBody)) {
    if (exclusions === undefined || body.length === 0) return body;
    return (
      stripFields(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8')) ?? body
    );
  }
  const value = body.value;
  if (value === undefined || value === null) return EMPTY;
  if (typeof value === 'string') {
    if (exclusions === undefined || value.length === 0) return value;
    return stripFields(value) ?? value;
  }
  if (value instanceof Uint8Array) return canonicalBody(value, exclusions);
  return objectPrefix(body.contentType) + canonicalJson(value, exclusions);

  function stripFields(text: string): string | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    return 'json:' + canonicalJson(parsed, exclusions);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * What an object body was parsed from: JSON (`json:`, as raw JSON is canonicalised) or another
 * media type (e.g. a urlencoded form), so `{"a":"1"}` and `a=1` never fingerprint alike.
 */
function objectPrefix(contentType: string | undefined): string {
  const media = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return media === '' || media.endsWith('/json') || media.endsWith('+json') ? 'json:' : `${media}:`;
}

/** JSON with object keys sorted, leaving out the excluded fields; the value is not changed. */
function canonicalJson(value: unknown, exclusions: FieldExclusions | undefined): string {
  if (typeof value !== 'object' || value === null) {
    // JSON.stringify gives undefined for undefined, functions and symbols: null, as in arrays.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalJson(value[i], undefined);
    }
    return out + ']';
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const field = record[key];
    // As JSON.stringify: a field whose value is undefined (or a function) is left out.
    if (field === undefined || typeof field === 'function' || typeof field === 'symbol') continue;
    const excluded = exclusions?.get(key);
    if (excluded === true) continue;
    if (!first) out += ',';
    first = false;
    out += JSON.stringify(key) + ':' + canonicalJson(field, excluded);
  }
  return out + '}';
}
