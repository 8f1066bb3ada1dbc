/**
 * Error base class shared by every Unfazed package.
 *
 * Every error carries a stable `code` (never reused, listed in each package README) and an
 * optional `cause`. `instanceof` and the `isXError` guards recognise errors by a global
 * symbol brand plus the code, so they keep working when two copies of a package are installed.
 */

const kUnfazedError = Symbol.for('unfazed.error');

/** Options accepted by every Unfazed error constructor. */
export interface UnfazedErrorOptions {
  /** The underlying error, kept on `error.cause` (left unset when `undefined`). */
  cause?: unknown;
}

/** Base class of every error thrown by Unfazed packages. */
export class UnfazedError extends Error {
  /** Stable machine-readable code, e.g. `UNFAZED_ERR_INVALID_OPTION`. */
  readonly code: string;
  declare readonly [kUnfazedError]: true;

  constructor(code: string, message: string, options: UnfazedErrorOptions = {}) {
    // An undefined cause counts as none, so `super(code, msg, { cause })` with no cause does
    // not leave `[cause]: undefined` in every log line.
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, kUnfazedError, { value: true });
  }

  /**
   * `instanceof` that also works across two installed copies of a package: an object is an
   * instance of a subclass when it carries the brand and the subclass's static `code`.
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, instance)) return true;
    if (!isUnfazedError(instance)) return false;
    if (this === UnfazedError) return true;
    // Only a class's own static code counts: a subclass without one would otherwise inherit
    // its parent's code and claim every instance of the parent from another copy.
    const code = Object.hasOwn(this, 'code') ? (this as { code?: unknown }).code : undefined;
    return typeof code === 'string' && instance.code === code;
  }
}

/** True for any error thrown by any copy of any Unfazed package. */
export function isUnfazedError(value: unknown): value is UnfazedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[kUnfazedError] === true &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

/**
 * Builds an `isXError` guard for an error class with a static `code`. The guard checks the
 * brand and the code, never the prototype chain.
 */
export function errorGuard<T extends UnfazedError>(code: string): (value: unknown) => value is T {
  return (value: unknown): value is T => isUnfazedError(value) && value.code === code;
}

/** A configuration value broke a rule. The message names the option and the rule. */
export class InvalidOptionError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_INVALID_OPTION';
  /** Dotted path of the offending option, e.g. `breaker.halfOpenProbes`. */
  readonly option: string;
  /** The rule the value broke, in words. */
  readonly rule: string;
  /** The value that was given. */
  readonly value: unknown;
  /** The factory or function whose option it is (`createClient`), when known. */
  readonly factory: string | undefined;

  constructor(option: string, rule: string, value: unknown, context: { factory?: string } = {}) {
    const where = context.factory === undefined ? '' : `${context.factory}: `;
    super(
      InvalidOptionError.code,
      `${where}Invalid option "${option}": ${rule} (got ${describe(value)})`,
    );
    this.option = option;
    this.rule = rule;
    this.value = value;
    this.factory = context.factory;
  }
}

/** Guard for {@link InvalidOptionError}. */
export const isInvalidOptionError = errorGuard<InvalidOptionError>(InvalidOptionError.code);

/** Why an `Idempotency-Key` value was rejected. */
export type IdempotencyKeyRejection =
  | 'missing'
  | 'not-a-string'
  | 'multiple'
  | 'empty'
  | 'too-long'
  | 'invalid-character'
  | 'unterminated-string'
  | 'invalid-escape'
  | 'trailing-characters';

/** An `Idempotency-Key` value broke the syntax rules; `reason` says which one. */
export class InvalidIdempotencyKeyError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_INVALID_IDEMPOTENCY_KEY';
  /** The rule that failed. */
  readonly reason: IdempotencyKeyRejection;

  constructor(reason: IdempotencyKeyRejection, message: string) {
    super(InvalidIdempotencyKeyError.code, message);
    this.reason = reason;
  }
}

/** Guard for {@link InvalidIdempotencyKeyError}. */
export const isInvalidIdempotencyKeyError = errorGuard<InvalidIdempotencyKeyError>(
  InvalidIdempotencyKeyError.code,
);

const MAX_DESCRIBED_LENGTH = 80;

function describe(value: unknown): string {
  let text: string;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    text = String(value);
  } else if (typeof value === 'bigint') {
    text = `${value}n`;
  } else if (typeof value === 'function') {
    text = 'a function';
  } else if (typeof value === 'symbol') {
    text = value.toString();
  } else {
    try {
      text = JSON.stringify(value) ?? typeof value;
    } catch {
      // Cycles and BigInt members make JSON.stringify throw; the type is still worth showing.
      text = Array.isArray(value) ? 'an array' : 'an object';
    }
  }
  // Options can hold large values (a whole config object): keep the message readable.
  return text.length > MAX_DESCRIBED_LENGTH
    ? `${text.slice(0, MAX_DESCRIBED_LENGTH - 3)}...`
    : text;
}
