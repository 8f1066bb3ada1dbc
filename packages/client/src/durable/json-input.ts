import { InvalidOperationInputError } from './errors.js';

/**
 * Serialises an operation input, refusing anything JSON would silently change (undefined,
 * functions, symbols, bigints, non-finite numbers, class instances such as Date or Map, cycles).
 * Persisted inputs must read back exactly as given, or a retry would send something else.
 */
export function serialiseInput(type: string, input: unknown): string {
  check(type, input, '$', new Set());
  return JSON.stringify(input);
}

function check(type: string, value: unknown, path: string, seen: Set<object>): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(type, `${path} is ${String(value)}, not a finite number`);
    return;
  }
  if (typeof value !== 'object') fail(type, `${path} is a ${typeof value}, not JSON`);
  const obj = value as object;
  if (seen.has(obj)) fail(type, `${path} is a circular reference`);
  seen.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => check(type, item, `${path}[${i}]`, seen));
  } else {
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      fail(type, `${path} is a ${obj.constructor?.name ?? 'class instance'}, not a plain object`);
    }
    for (const [k, v] of Object.entries(obj)) check(type, v, `${path}.${k}`, seen);
  }
  seen.delete(obj);
}

function fail(type: string, reason: string): never {
  throw new InvalidOperationInputError(type, reason);
}
