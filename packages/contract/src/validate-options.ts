/**
 * The one option validator of every Unfazed factory. A factory declares its options once as a
 * schema built from {@link option}; {@link validateOptions} checks a caller's value against it,
 * fills in the defaults and returns the resolved options (typed from the schema), or throws one
 * {@link InvalidOptionError} naming the option (a dotted path), the rule and the value. Unknown
 * keys are rejected with a "did you mean" hint. Validation runs once per factory call.
 */
import { InvalidOptionError } from './errors.js';

/** Node fires a longer timer after 1 ms (with a warning): no duration option may exceed this. */
export const MAX_TIMER_MS = 2_147_483_647;

/** The resolved value type of a rule or schema. */
export type OptionsOf<R> = R extends OptionRule<infer T> ? T : never;

/** Reports a broken rule from inside {@link OptionRule.refine}; `key` is relative to the value. */
export type FailOption = (key: string | undefined, rule: string, ...value: [] | [unknown]) => never;

/** Thrown by rules, turned into one InvalidOptionError by {@link validateOptions}. */
class OptionFailure {
  /**
   * Where, innermost segment first: the path is built while the failure unwinds, so a value
   * that passes costs no string work.
   */
  readonly at: string[];

  constructor(
    readonly rule: string,
    public value: unknown,
    /** Set when the value was of the right kind but broke a refined rule (unions report it). */
    readonly refined = false,
    at?: string,
  ) {
    this.at = at === undefined ? [] : [at];
  }

  /** The dotted path under `root`. */
  path(root: string): string {
    let path = root;
    for (let i = this.at.length - 1; i >= 0; i--) {
      const segment = this.at[i] as string;
      path = path === '' || segment.startsWith('[') ? path + segment : `${path}.${segment}`;
    }
    return path;
  }
}

/** Stands for "the value the refined rule checked" until the failure reaches its rule. */
const NOT_GIVEN: unique symbol = Symbol('not given');

/** The `fail` of every {@link OptionRule.refine}: one function, no closure per call. */
const fail: FailOption = (key, rule, ...given) => {
  throw new OptionFailure(rule, given.length > 0 ? given[0] : NOT_GIVEN, true, key);
};

/**
 * One option's rule: how to check it, how to describe it (`must be <description>`), and what it
 * resolves to. Rules are immutable: `optional()`, `default()` and `refine()` return new rules.
 */
export class OptionRule<T> {
  /** @internal */
  constructor(
    /** What a valid value is, in words, e.g. `an integer from 0 to 100`. */
    readonly description: string,
    /** @internal Checks a present (not `undefined`) value. */
    readonly check: (value: unknown) => T,
    /** @internal What an absent value gives. */
    readonly absent:
      | { readonly kind: 'required' | 'optional' }
      | { readonly kind: 'default'; readonly value: unknown } = { kind: 'required' },
  ) {}

  /** @internal */
  parse(value: unknown): T {
    if (value === undefined) {
      if (this.absent.kind === 'optional') return undefined as T;
      if (this.absent.kind === 'default') return this.check(this.absent.value);
      throw new OptionFailure(`must be ${this.description} (it is required)`, value);
    }
    return this.check(value);
  }

  /** The option may be left out (resolves to `undefined`). */
  optional(): OptionRule<T | undefined> {
    return new OptionRule<T | undefined>(this.description, this.check, { kind: 'optional' });
  }

  /**
   * The option may be left out; it then resolves as if `value` had been given (so
   * `object({...}).default({})` fills in the nested defaults).
   */
  default(value: unknown): OptionRule<T> {
    return new OptionRule<T>(this.description, this.check, { kind: 'default', value });
  }

  /**
   * Checks across fields or transforms the checked value (e.g. a string into a `URL`). `fail`
   * reports a broken rule on `key` of the value (or on the value itself when `key` is undefined).
   */
  refine<U>(fn: (value: T, fail: FailOption) => U): OptionRule<U> {
    return new OptionRule<U>(
      this.description,
      (value) => {
        const checked = this.check(value);
        try {
          return fn(checked, fail);
        } catch (error) {
          // `fail` without a value shows the checked one (the key's, when it names a key).
          if (error instanceof OptionFailure && error.value === NOT_GIVEN) {
            const key = error.at[0];
            error.value = key === undefined ? checked : (checked as Record<string, unknown>)[key];
          }
          throw error;
        }
      },
      this.absent,
    );
  }
}

type Shape = Record<string, OptionRule<unknown>>;

type OptionalKeys<S extends Shape> = {
  [K in keyof S]: undefined extends OptionsOf<S[K]> ? K : never;
}[keyof S];

/**
 * The resolved type of an object schema. A key whose rule may give `undefined` (`optional()`)
 * is left out when absent, so it is an optional property (as under `exactOptionalPropertyTypes`).
 */
export type ResolvedShape<S extends Shape> = {
  -readonly [K in Exclude<keyof S, OptionalKeys<S>>]: OptionsOf<S[K]>;
} & { -readonly [K in OptionalKeys<S>]?: Exclude<OptionsOf<S[K]>, undefined> } extends infer R
  ? { [K in keyof R]: R[K] }
  : never;

/** Checks every key of an interface has a rule, and no rule names an unknown key. */
export type ShapeFor<I> = { [K in keyof Required<I>]: OptionRule<unknown> };

/** Options of {@link option.number}. */
export interface NumberRuleOptions {
  /** Whole numbers only (safe integers). */
  integer?: boolean;
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Values must be greater than this (exclusive lower bound). */
  above?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
}

/** Options of {@link option.string}. */
export interface StringRuleOptions {
  /** Rejects `''`. */
  nonEmpty?: boolean;
  /** Longest allowed string. */
  maxLength?: number;
  /** A test the string must pass, with the rule in words (`must be <rule>`). */
  test?: { readonly check: RegExp | ((value: string) => boolean); readonly rule: string };
}

/** Options of {@link option.object}. */
export interface ObjectRuleOptions {
  /** Hints for keys people are known to write instead: `{ ttl: 'retentionMs' }`. */
  aliases?: Readonly<Record<string, string>>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberDescription(o: NumberRuleOptions): string {
  const kind = o.integer ? 'an integer' : 'a finite number';
  const low = o.min !== undefined ? o.min : undefined;
  if (low !== undefined && o.max !== undefined) return `${kind} from ${low} to ${o.max}`;
  const parts: string[] = [];
  if (low !== undefined) parts.push(`>= ${low}`);
  if (o.above !== undefined) parts.push(`> ${o.above}`);
  if (o.max !== undefined) parts.push(`<= ${o.max}`);
  return parts.length === 0 ? kind : `${kind} ${parts.join(' and ')}`;
}

function number(o: NumberRuleOptions = {}): OptionRule<number> {
  const description = numberDescription(o);
  return new OptionRule<number>(description, (value) => {
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (o.integer === true && !Number.isSafeInteger(value)) ||
      (o.min !== undefined && value < o.min) ||
      (o.above !== undefined && value <= o.above) ||
      (o.max !== undefined && value > o.max)
    ) {
      throw new OptionFailure(`must be ${description}`, value);
    }
    return value;
  });
}

/** A duration in milliseconds that a Node timer can wait: > 0 (or >= 0) and <= MAX_TIMER_MS. */
function duration(o: { zero?: boolean; integer?: boolean } = {}): OptionRule<number> {
  const low = o.zero === true ? '>= 0' : '> 0';
  const description = `${o.integer === true ? 'an integer' : 'a finite'} number of milliseconds ${low} and <= ${MAX_TIMER_MS} (the longest Node timer)`;
  return new OptionRule<number>(description, (value) => {
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (o.integer === true && !Number.isSafeInteger(value)) ||
      (o.zero === true ? value < 0 : value <= 0) ||
      value > MAX_TIMER_MS
    ) {
      throw new OptionFailure(`must be ${description}`, value);
    }
    return value;
  });
}

function boolean(): OptionRule<boolean> {
  return new OptionRule<boolean>('true or false', (value) => {
    if (typeof value !== 'boolean') throw new OptionFailure('must be true or false', value);
    return value;
  });
}

function string(o: StringRuleOptions = {}): OptionRule<string> {
  const description = o.test?.rule ?? (o.nonEmpty === true ? 'a non-empty string' : 'a string');
  const test = o.test?.check;
  const passes =
    test === undefined
      ? () => true
      : typeof test === 'function'
        ? test
        : (s: string) => {
            test.lastIndex = 0;
            return test.test(s);
          };
  return new OptionRule<string>(description, (value) => {
    if (typeof value !== 'string') throw new OptionFailure(`must be ${description}`, value);
    if (o.nonEmpty === true && value === '') {
      throw new OptionFailure('must be a non-empty string', value);
    }
    if (o.maxLength !== undefined && value.length > o.maxLength) {
      throw new OptionFailure(`must be at most ${o.maxLength} characters long`, value);
    }
    if (!passes(value)) throw new OptionFailure(`must be ${description}`, value);
    return value;
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFunction = (...args: any[]) => unknown;

function fn<F extends AnyFunction>(description = 'a function'): OptionRule<F> {
  return new OptionRule<F>(description, (value) => {
    if (typeof value !== 'function') throw new OptionFailure(`must be ${description}`, value);
    return value as F;
  });
}

function oneOf<const L extends readonly (string | number | boolean)[]>(
  literals: L,
): OptionRule<L[number]> {
  const shown = literals.map((l) => JSON.stringify(l));
  const description = shown.length === 1 ? `${shown[0]}` : `one of ${shown.join(', ')}`;
  return new OptionRule<L[number]>(description, (value) => {
    if (!literals.includes(value as L[number])) {
      throw new OptionFailure(`must be ${description}`, value);
    }
    return value as L[number];
  });
}

function array<T>(
  item: OptionRule<T>,
  o: { minLength?: number; description?: string } = {},
): OptionRule<T[]> {
  const description = o.description ?? `an array of ${item.description}`;
  return new OptionRule<T[]>(description, (value) => {
    if (!Array.isArray(value)) throw new OptionFailure(`must be ${description}`, value);
    if (o.minLength !== undefined && value.length < o.minLength) {
      throw new OptionFailure(`must hold at least ${o.minLength} item(s)`, value);
    }
    const out: T[] = [];
    let i = 0;
    try {
      for (; i < value.length; i++) out.push(item.parse(value[i]));
    } catch (error) {
      if (error instanceof OptionFailure) error.at.push(`[${i}]`);
      throw error;
    }
    return out;
  });
}

function record<T>(item: OptionRule<T>, description?: string): OptionRule<Record<string, T>> {
  const text = description ?? `an object of ${item.description}`;
  return new OptionRule<Record<string, T>>(text, (value) => {
    if (!isPlainObject(value)) throw new OptionFailure(`must be ${text}`, value);
    let key = '';
    try {
      for (key of Object.keys(value)) item.parse(value[key]);
    } catch (error) {
      if (error instanceof OptionFailure) error.at.push(key);
      throw error;
    }
    return value as Record<string, T>;
  });
}

function object<S extends Shape>(
  shape: S,
  o: ObjectRuleOptions = {},
): OptionRule<ResolvedShape<S>> {
  const keys = Object.keys(shape);
  const rules = keys.map((key) => shape[key] as OptionRule<unknown>);
  const known = new Set(keys);
  return new OptionRule<ResolvedShape<S>>('an object', (value) => {
    if (!isPlainObject(value)) throw new OptionFailure('must be an object', value);
    for (const key of Object.keys(value)) {
      if (!known.has(key)) {
        const hint = suggest(key, keys, o.aliases);
        throw new OptionFailure(
          hint === undefined
            ? `is not a known option (known: ${keys.join(', ')})`
            : `is not a known option; did you mean "${hint}"?`,
          value[key],
          false,
          key,
        );
      }
    }
    const out: Record<string, unknown> = {};
    let i = 0;
    try {
      for (; i < keys.length; i++) {
        const resolved = (rules[i] as OptionRule<unknown>).parse(value[keys[i] as string]);
        // An absent optional key stays absent (it reads as undefined all the same).
        if (resolved !== undefined) out[keys[i] as string] = resolved;
      }
    } catch (error) {
      if (error instanceof OptionFailure) error.at.push(keys[i] as string);
      throw error;
    }
    return out as ResolvedShape<S>;
  });
}

/** Any value (checked, if at all, by a {@link OptionRule.refine}); e.g. a JSON body. */
function anything(description = 'any value'): OptionRule<unknown> {
  return new OptionRule<unknown>(description, (value) => value);
}

/** A plain object passed through unchecked (e.g. undici `Pool.Options`). */
function passthrough<T extends object>(description = 'an object'): OptionRule<T> {
  return new OptionRule<T>(description, (value) => {
    if (!isPlainObject(value)) throw new OptionFailure(`must be ${description}`, value);
    return value as T;
  });
}

/**
 * An object of a kind recognised by its methods (e.g. a store with `claim` and `complete`) or by
 * a predicate; `description` names what to pass, e.g. `an ioredis Redis or Cluster client`.
 */
function instance<T>(
  description: string,
  test: readonly string[] | ((value: unknown) => boolean),
): OptionRule<T> {
  const passes =
    typeof test === 'function'
      ? test
      : (value: unknown) =>
          ((typeof value === 'object' && value !== null) || typeof value === 'function') &&
          test.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  return new OptionRule<T>(description, (value) => {
    if (!passes(value)) throw new OptionFailure(`must be ${description}`, value);
    return value as T;
  });
}

/**
 * The first rule that accepts the value. A rule that recognised the value's kind but failed
 * deeper inside (e.g. `breaker.windowMs` of an object) or in its `refine` reports that failure.
 */
function union<R extends readonly OptionRule<unknown>[]>(
  ...rules: R
): OptionRule<OptionsOf<R[number]>> {
  const description = rules.map((r) => r.description).join(' or ');
  return new OptionRule<OptionsOf<R[number]>>(description, (value) => {
    for (const rule of rules) {
      try {
        return rule.check(value) as OptionsOf<R[number]>;
      } catch (error) {
        if (!(error instanceof OptionFailure) || error.at.length > 0 || error.refined) throw error;
      }
    }
    throw new OptionFailure(`must be ${description}`, value);
  });
}

/** Rule builders for {@link validateOptions} schemas. */
export const option = Object.freeze({
  /** A finite number (NaN and ±Infinity are always rejected), optionally an integer in a range. */
  number,
  /** A number of milliseconds a timer can wait: > 0 (or `>= 0` with `zero`), at most MAX_TIMER_MS. */
  duration,
  /** `true` or `false`. */
  boolean,
  /** A string, optionally non-empty, bounded, or passing a test. */
  string,
  /** A function; the type parameter gives its signature. */
  function: fn,
  /** One of the given literals. */
  oneOf,
  /** An array whose every item passes `item` (paths `name[0]`). */
  array,
  /** An object whose every value passes `item` (e.g. headers). */
  record,
  /** An object with exactly these keys; unknown keys are rejected with a "did you mean" hint. */
  object,
  /** A plain object not checked further. */
  passthrough,
  /** Any value; pair it with `refine` to check or convert it. */
  unknown: anything,
  /** An object recognised by its methods or a predicate. */
  instance,
  /** The first of several rules that accepts the value. */
  union,
});

/** Where {@link validateOptions} reports from. */
export interface ValidateOptionsContext {
  /** The factory, named in the message: `createClient`. */
  name: string;
  /** Dotted path of the value (default: none, so top-level keys are named as they are). */
  path?: string;
}

/**
 * Checks `value` against `rule`, returning the resolved value (defaults applied).
 * @throws {InvalidOptionError} on the first broken rule; `option` is the dotted path (`options`
 * for the value itself), the message starts with the factory's name.
 */
export function validateOptions<T>(
  rule: OptionRule<T>,
  value: unknown,
  context: ValidateOptionsContext,
): T {
  try {
    return rule.parse(value);
  } catch (error) {
    if (!(error instanceof OptionFailure)) throw error;
    const path = error.path(context.path ?? '');
    throw new InvalidOptionError(path === '' ? 'options' : path, error.rule, error.value, {
      factory: context.name,
    });
  }
}

/**
 * The known key a mistyped one most likely meant: a listed alias, a case-insensitive match, or
 * the closest by Damerau–Levenshtein distance (at most 1 for short keys, about a third of the
 * length for longer ones, so `storeTimout` finds `storeTimeoutMs`).
 */
export function suggest(
  given: string,
  known: readonly string[],
  aliases?: Readonly<Record<string, string>>,
): string | undefined {
  const alias = aliases !== undefined && Object.hasOwn(aliases, given) ? aliases[given] : undefined;
  if (alias !== undefined) return alias;
  const lower = given.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    if (c === lower) return candidate;
    const limit = Math.min(given.length, c.length) <= 4 ? 1 : Math.max(2, Math.floor(c.length / 3));
    const d = distance(lower, c, limit);
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal-string-alignment distance (Damerau–Levenshtein with adjacent transpositions). */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      }
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] ?? 0;
}
