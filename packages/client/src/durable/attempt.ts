import { parseRetryAfter } from '@unfazed/contract';
import {
  attemptWith,
  storedResponse,
  type AttemptResult,
  type DurableRequest,
} from './client-port.js';
import type { ResolvedType, RunEnv } from './run.js';
import type { OperationFailure, OperationRecord, OperationResponse } from './types.js';

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
    }
  | { kind: 'permanent'; failure: OperationFailure }
  | { kind: 'circuit-open'; nextProbeAt: number }
  | { kind: 'aborted' };

/**
 * @internal Makes one attempt of `rec` (the operation id as idempotency key, no client retries),
 * bounded by the attempt timeout, the deadline and `syncUntil`, aborted by `signal`; the
 * client classifies its outcome, this turns the classification into what the run does next.
 */
export async function callOnce(
  env: RunEnv,
  t: ResolvedType,
  rec: OperationRecord,
  request: DurableRequest,
  signal: AbortSignal,
  syncUntil: number | undefined,
): Promise<Attempt> {
  const now = env.now();
  const limit = Math.min(t.attemptTimeout, rec.deadline - now, (syncUntil ?? Infinity) - now);
  const result = await attemptWith(
    env.client,
    { ...request, idempotencyKey: rec.id },
    { signal, timeout: Math.max(1, limit) },
  );
  switch (result.kind) {
    case 'aborted':
    case 'circuit-open':
      return result;
    case 'response':
      return answered(env, rec, result);
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
  rec: OperationRecord,
  result: Extract<AttemptResult, { kind: 'response' }>,
): Attempt {
  const { status, classification: c } = result;
  const response = storedResponse(status, result.headers, result.body, env.maxResponseBytes);
  if (c.kind === 'success') return { kind: 'success', response, status };
  if (c.retryable) {
    const retryAfter = parseRetryAfter(response.headers['retry-after'], {
      now: env.now(),
      maxMs: Math.max(0, rec.deadline - env.now()),
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
