import {
  InvalidOptionError,
  formatRetryAfter,
  option,
  validateOptions,
  type ShapeFor,
} from '@unfazed/contract';

/**
 * Where a fault sits relative to the work done behind the call — the axis on which
 * idempotency bugs live:
 * - `beforeSend`: the handler (the server's application code) never ran; no side effect;
 * - `afterSend`: the handler ran (its side effect happened) but the caller did not get its
 *   answer: the lost response;
 * - `midBody`: the handler ran and the answer started, then broke or crawled inside the body.
 */
export type FaultLabel = 'beforeSend' | 'afterSend' | 'midBody';

/** Body of a scripted answer: text, bytes, or a value sent as JSON. */
export type FaultBody = string | Uint8Array | object;

/** Answer with a status (default label `beforeSend`: instead of running the handler). */
export interface StatusFault {
  readonly kind: 'status';
  readonly label: 'beforeSend' | 'afterSend';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: FaultBody | undefined;
}

/** Hold the call for `ms` before the handler runs (`beforeSend`) or before the headers go out (`afterSend`). */
export interface DelayFault {
  readonly kind: 'delay';
  readonly label: 'beforeSend' | 'afterSend';
  readonly ms: number;
}

/** Send the handler's answer `chunkSize` bytes every `intervalMs`. */
export interface SlowBodyFault {
  readonly kind: 'slowBody';
  readonly label: 'midBody';
  readonly chunkSize: number;
  readonly intervalMs: number;
}

/** Never answer: the caller waits until it gives up. `afterSend`: the handler ran first. */
export interface HangFault {
  readonly kind: 'hang';
  readonly label: 'beforeSend' | 'afterSend';
}

/** Reset the connection before the request is read; the handler never runs. */
export interface ResetFault {
  readonly kind: 'reset';
  readonly label: 'beforeSend';
}

/** Run the handler, then reset the connection instead of sending its answer. */
export interface LostResponseFault {
  readonly kind: 'lostResponse';
  readonly label: 'afterSend';
}

/** Run the handler, send the headers and `afterBytes` of the body (default half), then close. */
export interface CloseMidBodyFault {
  readonly kind: 'closeMidBody';
  readonly label: 'midBody';
  readonly afterBytes: number | undefined;
}

/** One fault that a plan can inject into a call. */
export type Fault =
  | StatusFault
  | DelayFault
  | SlowBodyFault
  | HangFault
  | ResetFault
  | LostResponseFault
  | CloseMidBodyFault;

/** Every fault kind. */
export type FaultKind = Fault['kind'];

/** Options of {@link faults.status}. */
export interface StatusFaultOptions {
  /** Response headers, e.g. `{ 'retry-after': '1' }`. */
  headers?: Record<string, string>;
  /** Response body; objects are sent as JSON. Default: the status text. */
  body?: FaultBody;
  /**
   * Shorthand for a `Retry-After` header, in ms. The header counts whole seconds, so the value is
   * rounded to the nearest second (half up): `0` and anything below 500 send `Retry-After: 0`
   * ("retry now"), `1500` sends `2`. Pass `headers: { 'retry-after': … }` for any other value.
   */
  retryAfterMs?: number;
  /** `afterSend`: run the handler first and replace its answer (a gateway timing out late). */
  label?: 'beforeSend' | 'afterSend';
}

function nonNegative(option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, 'must be a finite number >= 0', value);
  }
  return value;
}

function positiveInt(option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, 'must be an integer >= 1', value);
  }
  return value;
}

function label<T extends string>(
  option: string,
  value: T | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new InvalidOptionError(option, `must be one of ${allowed.join(', ')}`, value);
  }
  return value;
}

// Shapes only (unknown keys, types); each value's own rule is checked below.
const labelRule = option.string().optional();
const statusOptions = option.object({
  headers: option.record(option.string(), 'an object of header values (strings)').optional(),
  body: option.instance<FaultBody>('text, bytes or a JSON value', () => true).optional(),
  retryAfterMs: option.number().optional(),
  label: labelRule,
} satisfies ShapeFor<StatusFaultOptions>);
const labelOnly = option.object({ label: labelRule });
const slowBodyOptions = option.object({
  chunkSize: option.number().optional(),
  intervalMs: option.number().optional(),
});
const closeMidBodyOptions = option.object({ afterBytes: option.number().optional() });

/** Checks the option object of `faults.<name>()`. */
function shape(rule: Parameters<typeof validateOptions>[0], options: unknown, name: string): void {
  validateOptions(rule, options, { name: `faults.${name}` });
}

/**
 * Constructors of the faults a plan can inject. Each fault carries its {@link FaultLabel}.
 *
 * @example
 * faults.status(503, { retryAfterMs: 1000 }) // beforeSend
 * faults.lostResponse()                       // afterSend: handler ran, answer lost
 * faults.closeMidBody({ afterBytes: 10 })     // midBody
 */
export const faults = {
  /** Answer `status` (with optional headers and body) instead of running the handler. */
  status(status: number, options: StatusFaultOptions = {}): StatusFault {
    shape(statusOptions, options, 'status');
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      throw new InvalidOptionError(
        'status',
        'must be an integer HTTP status from 100 to 599',
        status,
      );
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      headers[name.toLowerCase()] = value;
    }
    if (options.retryAfterMs !== undefined) {
      const ms = nonNegative('retryAfterMs', options.retryAfterMs);
      // What the test asked for, to the nearest second: no 1 s floor (that is a server's policy,
      // not a test's), so a retry loop under test does not sleep a second per attempt.
      headers['retry-after'] = formatRetryAfter(Math.round(ms / 1000) * 1000, 0);
    }
    return Object.freeze({
      kind: 'status',
      label: label('label', options.label, ['beforeSend', 'afterSend'], 'beforeSend'),
      status,
      headers: Object.freeze(headers),
      body: options.body,
    });
  },
  /**
   * Delay the answer by `ms`. Default `afterSend`: the handler runs at once and the headers
   * wait, so a caller that times out has lost a handled response. `beforeSend`: wait first;
   * if the caller leaves meanwhile, the handler never runs.
   */
  delay(ms: number, options: { label?: 'beforeSend' | 'afterSend' } = {}): DelayFault {
    shape(labelOnly, options, 'delay');
    return Object.freeze({
      kind: 'delay',
      label: label('label', options.label, ['beforeSend', 'afterSend'], 'afterSend'),
      ms: nonNegative('ms', ms),
    });
  },
  /** Send the handler's answer slowly: `chunkSize` bytes (default 1) every `intervalMs` (default 20). */
  slowBody(options: { chunkSize?: number; intervalMs?: number } = {}): SlowBodyFault {
    shape(slowBodyOptions, options, 'slowBody');
    return Object.freeze({
      kind: 'slowBody',
      label: 'midBody',
      chunkSize: positiveInt('chunkSize', options.chunkSize ?? 1),
      intervalMs: nonNegative('intervalMs', options.intervalMs ?? 20),
    });
  },
  /** Never answer. Default `beforeSend` (handler not run); `afterSend` runs it, then hangs. */
  hang(options: { label?: 'beforeSend' | 'afterSend' } = {}): HangFault {
    shape(labelOnly, options, 'hang');
    return Object.freeze({
      kind: 'hang',
      label: label('label', options.label, ['beforeSend', 'afterSend'], 'beforeSend'),
    });
  },
  /** Reset the connection before reading the request: the handler never runs. */
  reset(): ResetFault {
    return Object.freeze({ kind: 'reset', label: 'beforeSend' });
  },
  /** The lost response: run the handler, then reset the connection instead of answering. */
  lostResponse(): LostResponseFault {
    return Object.freeze({ kind: 'lostResponse', label: 'afterSend' });
  },
  /** Run the handler, send headers and `afterBytes` of its body (default: half), then close. */
  closeMidBody(options: { afterBytes?: number } = {}): CloseMidBodyFault {
    shape(closeMidBodyOptions, options, 'closeMidBody');
    return Object.freeze({
      kind: 'closeMidBody',
      label: 'midBody',
      afterBytes:
        options.afterBytes === undefined
          ? undefined
          : nonNegative('afterBytes', options.afterBytes),
    });
  },
} as const;

/** Short human description of a fault, e.g. `status 503 (beforeSend)`. */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'status':
      return `status ${fault.status} (${fault.label})`;
    case 'delay':
      return `delay ${fault.ms}ms (${fault.label})`;
    case 'slowBody':
      return `slowBody ${fault.chunkSize}B/${fault.intervalMs}ms (${fault.label})`;
    case 'closeMidBody':
      return `closeMidBody${fault.afterBytes === undefined ? '' : ` after ${fault.afterBytes}B`} (${fault.label})`;
    default:
      return `${fault.kind} (${fault.label})`;
  }
}

/** Encodes a status fault's body: objects become JSON, a missing body the status text. */
export function encodeFaultBody(
  body: FaultBody | undefined,
  fallback: string,
): { bytes: Buffer; contentType: string } {
  if (body === undefined)
    return { bytes: Buffer.from(fallback), contentType: 'text/plain; charset=utf-8' };
  if (typeof body === 'string')
    return { bytes: Buffer.from(body), contentType: 'text/plain; charset=utf-8' };
  if (body instanceof Uint8Array) {
    return { bytes: Buffer.from(body), contentType: 'application/octet-stream' };
  }
  return { bytes: Buffer.from(JSON.stringify(body)), contentType: 'application/json' };
}

/** True when `value` is a fault built by {@link faults}. */
export function isFault(value: unknown): value is Fault {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    typeof (value as { label?: unknown }).label === 'string'
  );
}
