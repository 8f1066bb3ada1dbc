import { createHash } from 'node:crypto';

/** Hex SHA-256 of length-prefixed parts, so that no two part lists hash alike. */
export function digest(parts: readonly (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  // The same bytes as one update per part, in fewer native calls: runs of strings are joined.
  let text = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      text += `${Buffer.byteLength(part, 'utf8')}:${part}`;
      continue;
    }
    hash.update(`${text}${part.length}:`, 'utf8');
    hash.update(part);
    text = '';
  }
  if (text.length > 0) hash.update(text, 'utf8');
  return hash.digest('hex');
}

/** The store key of a request: scope and key hashed, so no header text reaches the store. */
export function recordKey(scope: string, key: string): string {
  return digest(['record', scope, key]);
}

/**
 * The default fingerprint: method, target, scope and the raw body bytes. With `excludeFields`
 * and a JSON body, the named fields (dot paths) are removed and the rest hashed in a canonical
 * form; a body that is not JSON is hashed as raw bytes.
 */
export function requestFingerprint(input: {
  method: string;
  target: string;
  scope: string;
  body: Uint8Array;
  excludeFields: readonly string[];
}): string {
  let body: string | Uint8Array = input.body;
  if (input.excludeFields.length > 0 && input.body.length > 0) {
    const stripped = stripFields(input.body, input.excludeFields);
    if (stripped !== undefined) body = stripped;
  }
  return digest(['fingerprint', input.method.toUpperCase(), input.target, input.scope, body]);
}

function stripFields(body: Uint8Array, fields: readonly string[]): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return undefined;
  }
  for (const path of fields) deletePath(value, path.split('.'));
  return 'json:' + canonicalJson(value);
}

function deletePath(value: unknown, path: string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || typeof value !== 'object' || value === null) return;
  const record = value as Record<string, unknown>;
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the field names are the user's option
  if (rest.length === 0) delete record[head];
  else deletePath(record[head], rest);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
