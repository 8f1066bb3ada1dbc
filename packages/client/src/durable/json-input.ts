import { InvalidOperationInputError } from './errors.js';

/** Default largest serialised input of an operation, bytes (1 MiB). */
export const DEFAULT_MAX_INPUT_BYTES = 1_048_576;

/** Deepest nesting of objects and arrays an operation input may have. */
export const MAX_INPUT_DEPTH = 100;

/**
 * Serialises an operation input, refusing anything that would not read back exactly as given,
 * or a retry would send something else: `undefined`, functions, symbols, bigints, `NaN` and
 * `±Infinity`, sparse array holes, symbol-keyed, non-enumerable or accessor (getter/setter)
 * members, extra properties on arrays, instances of classes (`Date`, `Map`, `Buffer`, ...: their
 * `toJSON` is not applied, it would read back as something else), cycles; deeper than
 * {@link MAX_INPUT_DEPTH} levels, or more than `maxBytes` serialised (UTF-8). `-0` is the one
 * value JSON changes that is accepted: it is stored as `0` (they compare equal).
 *
 * Nothing is serialised before the whole input was checked, and the check gives up as soon as
 * the input is certainly too large: a 50 MB input fails fast, without a 50 MB string.
 * @throws {InvalidOperationInputError} naming the path (`input.items[3]`) and what is wrong.
 */
export function serialiseInput(type: string, input: unknown, maxBytes: number): string {
  new InputCheck(type, maxBytes).value(input, 'input', 0);
  const serialised = JSON.stringify(input);
  const bytes = Buffer.byteLength(serialised);
  if (bytes > maxBytes) {
    throw new InvalidOperationInputError(
      type,
      'input',
      `is ${bytes} bytes serialised, more than maxInputBytes (${maxBytes})`,
    );
  }
  return serialised;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** One walk over an input: at most MAX_INPUT_DEPTH deep, so the recursion is bounded. */
class InputCheck {
  /** A lower bound of the serialised size so far (UTF-8 bytes >= UTF-16 length). */
  #bytes = 0;
  readonly #seen = new Set<object>();

  constructor(
    readonly type: string,
    readonly maxBytes: number,
  ) {}

  value(value: unknown, path: string, depth: number): void {
    switch (typeof value) {
      case 'string':
        return this.#add(value.length + 2, path);
      case 'boolean':
        return this.#add(value ? 4 : 5, path);
      case 'number':
        if (!Number.isFinite(value)) this.#fail(path, `is ${String(value)}, not a finite number`);
        return this.#add(String(value).length, path);
      case 'object':
        if (value === null) return this.#add(4, path);
        return this.#object(value, path, depth + 1);
      default:
        // undefined, function, symbol, bigint
        this.#fail(
          path,
          `is ${value === undefined ? 'undefined' : article(typeof value)}, not JSON`,
        );
    }
  }

  #object(obj: object, path: string, depth: number): void {
    if (depth > MAX_INPUT_DEPTH)
      this.#fail(path, `nests deeper than ${MAX_INPUT_DEPTH} levels of objects and arrays`);
    if (this.#seen.has(obj)) this.#fail(path, 'is a circular reference');
    this.#seen.add(obj);
    const proto = Object.getPrototypeOf(obj) as unknown;
    const array = Array.isArray(obj);
    if (array ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: unknown } }).constructor?.name;
      this.#fail(
        path,
        `is ${typeof name === 'string' && name !== '' ? article(name) : 'a class instance'}, not a plain ${array ? 'array' : 'object'}`,
      );
    }
    if (Object.getOwnPropertySymbols(obj).length > 0) {
      const symbol = Object.getOwnPropertySymbols(obj)[0];
      this.#fail(path, `has a symbol-keyed member (${String(symbol)}), which JSON drops`);
    }
    const names = Object.getOwnPropertyNames(obj);
    this.#add(2, path);
    if (array) {
      const items = obj as unknown[];
      for (let i = 0; i < items.length; i++) {
        const at = `${path}[${i}]`;
        if (!Object.hasOwn(items, i))
          this.#fail(at, 'is a hole (a sparse array), which JSON turns into null');
        this.#member(items, String(i), at, depth);
      }
      // `length` and the indexes are the only members JSON keeps.
      const extra = names.find((n) => n !== 'length' && !isIndex(n, items.length));
      if (extra !== undefined)
        this.#fail(childPath(path, extra), 'is a member of an array, which JSON drops');
    } else {
      for (const name of names) this.#member(obj, name, childPath(path, name), depth);
    }
    this.#seen.delete(obj);
  }

  #member(obj: object, name: string, path: string, depth: number): void {
    const d = Object.getOwnPropertyDescriptor(obj, name);
    if (d === undefined) return;
    if (!d.enumerable) this.#fail(path, 'is not enumerable, and JSON drops it');
    if (!('value' in d)) this.#fail(path, 'is an accessor (get/set), not a data member');
    this.#add(name.length + 3, path);
    this.value(d.value, path, depth);
  }

  #add(bytes: number, path: string): void {
    this.#bytes += bytes;
    if (this.#bytes > this.maxBytes) {
      this.#fail(
        'input',
        `is more than maxInputBytes (${this.maxBytes}) serialised (over the limit at ${path})`,
      );
    }
  }

  #fail(path: string, reason: string): never {
    throw new InvalidOperationInputError(this.type, path, reason);
  }
}

function isIndex(name: string, length: number): boolean {
  const n = Number(name);
  return Number.isInteger(n) && n >= 0 && n < length && String(n) === name;
}

function childPath(path: string, name: string): string {
  return IDENTIFIER.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`;
}
