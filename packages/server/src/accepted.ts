import {
  PROBLEM_CONTENT_TYPE,
  formatRetryAfter,
  isTerminalOperationState,
  option,
  validateOptions,
  type OperationStatus,
  type OptionRule,
  type ShapeFor,
} from '@unfazed/contract';

/**
 * What `op.start()` of the durable queue answers, as far as the 202 helpers need it. Matches the
 * `StartOutcome` of `@unfazed/client` without depending on it.
 */
export type DurableOutcome =
  | {
      readonly status: 'completed';
      readonly id: string;
      readonly response: {
        readonly status: number;
        readonly headers: Readonly<Record<string, string>>;
        readonly body: string;
      };
    }
  | {
      readonly status: 'failed';
      readonly id: string;
      /** `compensated`: a saga that gave up and undid its completed steps. */
      readonly state: 'failed' | 'dead' | 'compensated';
      readonly failure: {
        readonly code: string;
        readonly message: string;
        readonly status?: number;
      };
    }
  | {
      readonly status: 'accepted';
      readonly id: string;
      /** `compensating`: a saga that gave up and is undoing its steps. */
      readonly state: 'pending' | 'running' | 'compensating';
      readonly nextAttemptAt?: number;
    };

/** A framework-free HTTP answer. */
export interface HttpReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Options of {@link outcomeReply}. */
export interface OutcomeReplyOptions {
  /** URL of the operation's status resource, e.g. `(id) => \`/operations/${id}\``. */
  readonly location: (id: string) => string;
  /** Smallest `Retry-After` advertised on a 202, ms. Default 1 000. */
  readonly minRetryAfter?: number;
  /** The answer for a completed operation. Default: 200 with the downstream's body and content type. */
  readonly completed?: (
    response: Extract<DurableOutcome, { status: 'completed' }>['response'],
    id: string,
  ) => {
    status?: number;
    body: unknown;
  };
  /**
   * The answer for a failed or dead operation. Default: 422 problem+json naming the failure
   * (the downstream refused it, or it could not be done in time, and compensation ran).
   */
  readonly failed?: (outcome: Extract<DurableOutcome, { status: 'failed' }>) => {
    status: number;
    body: unknown;
  };
  /** Clock, ms. Default `Date.now`. */
  readonly now?: () => number;
}

const outcomeReplyRule = option.object({
  location: option.function<OutcomeReplyOptions['location']>('a function (id) => URL string'),
  minRetryAfter: option.duration({ zero: true }).optional(),
  completed: option.function<NonNullable<OutcomeReplyOptions['completed']>>().optional(),
  failed: option.function<NonNullable<OutcomeReplyOptions['failed']>>().optional(),
  now: option.function<() => number>().optional(),
} satisfies ShapeFor<OutcomeReplyOptions>);

/** The shape of {@link OperationStatusOptions}, for the adapters to extend. */
export const operationStatusShape = {
  source: option.instance<OperationStatusSource>(
    'a source of operation states with status(id) (the durable instance)',
    ['status'],
  ),
  pollAfter: option.duration({ zero: true }).optional(),
  now: option.function<() => number>().optional(),
} satisfies ShapeFor<OperationStatusOptions>;

const operationStatusRule = option.object(operationStatusShape);

/**
 * Option objects already checked, per rule: helpers called per request get the same object
 * every time, so it is checked once (and again if the same object is given to another helper).
 */
const checked = new WeakMap<OptionRule<unknown>, WeakSet<object>>();

/** @internal Validates `options` against `rule` unless that object passed that rule before. */
export function checkOnce(rule: OptionRule<unknown>, options: unknown, name: string): void {
  let passed = checked.get(rule);
  if (typeof options === 'object' && options !== null && passed?.has(options)) return;
  validateOptions(rule, options, { name });
  if (!passed) checked.set(rule, (passed = new WeakSet()));
  passed.add(options as object);
}

/**
 * Turns a durable outcome into the caller's answer: `200` with the result when the call
 * completed in time, `202 Accepted` with `Location` (the status resource) and `Retry-After`
 * when it will finish later, a problem when it failed.
 */
export function outcomeReply(outcome: DurableOutcome, options: OutcomeReplyOptions): HttpReply {
  checkOnce(outcomeReplyRule, options, 'outcomeReply');
  if (outcome.status === 'completed') {
    if (options.completed) {
      const mapped = options.completed(outcome.response, outcome.id);
      return json(mapped.status ?? 200, mapped.body);
    }
    const contentType = outcome.response.headers['content-type'];
    return {
      status: 200,
      headers: contentType ? { 'content-type': contentType } : {},
      body: outcome.response.body,
    };
  }
  if (outcome.status === 'failed') {
    if (options.failed) {
      const mapped = options.failed(outcome);
      return json(mapped.status, mapped.body);
    }
    return {
      status: 422,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
      body: JSON.stringify({
        type: 'about:blank',
        title:
          outcome.state === 'dead'
            ? 'Operation gave up'
            : outcome.state === 'compensated'
              ? 'Operation gave up and was compensated'
              : 'Operation failed',
        status: 422,
        detail: outcome.failure.message,
        operationId: outcome.id,
        state: outcome.state,
        errorCode: outcome.failure.code,
        location: options.location(outcome.id),
      }),
    };
  }
  const now = (options.now ?? Date.now)();
  const min = options.minRetryAfter ?? 1_000;
  const wait = Math.max(min, (outcome.nextAttemptAt ?? now) - now);
  const location = options.location(outcome.id);
  return {
    status: 202,
    headers: {
      'content-type': 'application/json',
      location,
      'retry-after': formatRetryAfter(wait),
    },
    body: JSON.stringify({ id: outcome.id, state: outcome.state, location }),
  };
}

/** Anything that can look up an operation's public state: `durable` from `createDurable()` fits. */
export interface OperationStatusSource {
  status(id: string): Promise<OperationStatus | undefined>;
}

/** Options of the status routes. */
export interface OperationStatusOptions {
  /** Where operation states come from (the durable instance). */
  readonly source: OperationStatusSource;
  /** `Retry-After` suggested to pollers while the operation is not finished, ms. Default 1 000. */
  readonly pollAfter?: number;
  /** Clock, ms. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The status resource's answer: `200` with the {@link OperationStatus} (plus `Retry-After`
 * while it is still pending or running), or `404` problem+json for an unknown id.
 */
export async function operationStatusReply(
  id: string,
  options: OperationStatusOptions,
): Promise<HttpReply> {
  checkOnce(operationStatusRule, options, 'operationStatusReply');
  const status = await options.source.status(id);
  if (!status) {
    return {
      status: 404,
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
      body: JSON.stringify({
        type: 'about:blank',
        title: 'Operation not found',
        status: 404,
        detail: `No operation ${JSON.stringify(id)} is known (it may have expired after completing).`,
      }),
    };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  };
  if (!isTerminalOperationState(status.state)) {
    const now = (options.now ?? Date.now)();
    const next = status.nextAttemptAt ? Date.parse(status.nextAttemptAt) - now : 0;
    headers['retry-after'] = formatRetryAfter(Math.max(options.pollAfter ?? 1_000, next));
  }
  return { status: 200, headers, body: JSON.stringify(status) };
}

function json(status: number, body: unknown): HttpReply {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
