import { parseRetryAfter } from '@unfazed/contract';
import {
  attemptWith,
  storedResponse,
  type AttemptResult,
  type DurableRequest,
} from './client-port.js';
import type { RunEnv } from './run.js';
import type { OperationFailure, OperationResponse } from './types.js';

/** The longest `Retry-After` honoured when no deadline bounds it (a compensation): one day. */
const MAX_RETRY_AFTER_MS = 86_400_000;

/** @internal How one attempt ended, as the run acts on it. */
export type Attempt =
  | { kind: 'success'; response: OperationResponse; status: number }
  | {
      kind: 'transient';
      code: string;
      status?: number;
      retryAfter?: number;
      response?: OperationResponse;
      /** The request certainly never reached the downstream (connection refused, DNS). */
      notSent?: boolean;
      /** Detail for the failure's message (default: the status or the code). */
      message?: string;
    }
  | { kind: 'permanent'; failure: OperationFailure }
  | { kind: 'circuit-open'; nextProbeAt: number }
  /** A retry the client's retry budget refused (not sent): try again from `retryAt`. */
  | { kind: 'retry-budget'; retryAt: number }
  | { kind: 'aborted' };

/** @internal What one call is sent with and bounded by. */
export interface CallLimits {
  /** Its `Idempotency-Key`: the operation id, a saga step's key, or a compensation's. */
  readonly key: string;
  readonly attemptTimeout: number;
  /** The deadline it must end by (Infinity for a compensation). */
  readonly deadline: number;
  /** It retries an earlier attempt: it takes a token from the client's retry budget. */
  readonly retry?: boolean;
}

/**
 * @internal Makes one attempt (no client retries) with `call.key` as idempotency key, bounded by
 * the attempt timeout, the deadline and `syncUntil`, aborted by `signal`; the client classifies
 * its outcome, this turns the classification into what the run does next.
 */
export async function callOnce(
  env: RunEnv,
  call: CallLimits,
  request: DurableRequest,
  signal: AbortSignal,
  syncUntil: number | undefined,
): Promise<Attempt> {
  const now = env.now();
  const limit = Math.min(call.attemptTimeout, call.deadline - now, (syncUntil ?? Infinity) - now);
  const result = await attemptWith(
    env.client,
    { ...request, idempotencyKey: call.key },
    { signal, timeout: Math.max(1, limit), ...(call.retry === true ? { retry: true } : {}) },
  );
  switch (result.kind) {
    case 'aborted':
    case 'circuit-open':
      return result;
    case 'retry-budget-exhausted':
      return { kind: 'retry-budget', retryAt: result.retryAt };
    case 'response':
      return answered(env, call.deadline, result);
    case 'error': {
      const c = result.classification;
      if (result.timedOut) return { kind: 'transient', code: 'timeout' };
      if (c.retryable) {
        return {
          kind: 'transient',
          code: c.reason,
          ...(c.requestSent === 'no' ? { notSent: true } : {}),
        };
      }
      return { kind: 'permanent', failure: { code: c.reason, message: result.message } };
    }
  }
}

function answered(
  env: RunEnv,
  deadline: number,
  result: Extract<AttemptResult, { kind: 'response' }>,
): Attempt {
  const { status, classification: c } = result;
  const response = storedResponse(status, result.headers, result.body, env.maxResponseBytes);
  if (c.kind === 'success') return { kind: 'success', response, status };
  if (c.retryable) {
    const retryAfter = parseRetryAfter(response.headers['retry-after'], {
      now: env.now(),
      maxMs: Math.max(0, Math.min(deadline, env.now() + MAX_RETRY_AFTER_MS) - env.now()),
    });
    return {
      kind: 'transient',
      code: c.reason,
      status,
      response,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    };
  }
  return {
    kind: 'permanent',
    failure: { code: c.reason, message: `downstream answered ${status}`, status, response },
  };
}
