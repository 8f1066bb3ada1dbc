/** What a redacted value reads as in every response and in the audit log. */
export const REDACTED = '[redacted]';

/**
 * @internal Masks the values at `paths` in a JSON value: dotted paths (`card.number`), `*` for
 * every member or array item (`items.*.card`). Returns a copy; the value given is not changed.
 */
export class Redactor {
  readonly #paths: readonly (readonly string[])[];

  constructor(paths: readonly string[]) {
    this.#paths = paths.map((p) => p.split('.'));
  }

  get active(): boolean {
    return this.#paths.length > 0;
  }

  redact(value: unknown): unknown {
    if (this.#paths.length === 0 || value === null || typeof value !== 'object') return value;
    const copy = structuredClone(value) as unknown;
    for (const path of this.#paths) mask(copy, path, 0);
    return copy;
  }

  /** The serialised JSON text `json` redacted, parsed; text that is not JSON stays text. */
  redactJson(json: string): unknown {
    let value: unknown;
    try {
      value = JSON.parse(json) as unknown;
    } catch {
      return json;
    }
    return this.redact(value);
  }
}

function mask(node: unknown, path: readonly string[], i: number): void {
  if (node === null || typeof node !== 'object') return;
  const segment = path[i] as string;
  const last = i === path.length - 1;
  const obj = node as Record<string, unknown>;
  const names = segment === '*' ? Object.keys(obj) : Object.hasOwn(obj, segment) ? [segment] : [];
  for (const name of names) {
    if (last) obj[name] = REDACTED;
    else mask(obj[name], path, i + 1);
  }
}
