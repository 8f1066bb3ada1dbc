import { classifyError, classifyStatus, parseRetryAfter, problemCodeOf } from '@unfazed/contract';
import {
  isAttemptTimeoutError,
  isCircuitOpenError,
  isRetriesExhaustedError,
  isRetryAfterBeyondDeadlineError,
  isTotalTimeoutError,
} from '../errors.js';
import { headerMap, storeResponse, type DurableRequest } from './client-port.js';
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
 * bounded by the attempt timeout, the deadline and `syncUntil`, aborted by `signal`.
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
  const total = Math.max(1, limit);
  try {
    const res = await env.client.request({
      ...request,
      idempotencyKey: rec.id,
      signal,
      timeout: { total },
      retry: { maxRetries: 0 },
    });
    return answered(env, rec, await storeResponse(res, env.maxResponseBytes));
  } catch (error) {
    if (signal.aborted) return { kind: 'aborted' };
    if (isCircuitOpenError(error)) return { kind: 'circuit-open', nextProbeAt: error.nextProbeAt };
    if (isRetryAfterBeyondDeadlineError(error)) {
      return {
        kind: 'transient',
        code: `status ${error.status}`,
        status: error.status,
        retryAfter: error.retryAfterMs,
      };
    }
    if (isRetriesExhaustedError(error) && error.lastResponse !== undefined) {
      // The client throws, rather than returns, a transient answer it may not retry.
      const last = error.lastResponse;
      return answered(env, rec, {
        status: last.status,
        headers: headerMap(last.headers),
        body: last.body.slice(0, env.maxResponseBytes),
      });
    }
    // With `maxRetries: 0` the client reports a transient failure (a timeout included) as
    // RetriesExhaustedError: classify what the attempt met, not the wrapper.
    const met = isRetriesExhaustedError(error) ? (error.cause ?? error) : error;
    if (isAttemptTimeoutError(met) || isTotalTimeoutError(met)) {
      return { kind: 'transient', code: 'timeout' };
    }
    const c = classifyError(met);
    if (c.retryable)
      return {
        kind: 'transient',
        code: c.reason,
        ...(c.requestSent === 'no' ? { notSent: true } : {}),
      };
    return {
      kind: 'permanent',
      failure: { code: c.reason, message: error instanceof Error ? error.message : String(error) },
    };
  }
}

function answered(env: RunEnv, rec: OperationRecord, response: OperationResponse): Attempt {
  const status = response.status;
  const contentType = response.headers['content-type'] ?? '';
  let code: string | undefined;
  if (contentType.includes('json') && status >= 400) {
    try {
      code = problemCodeOf(JSON.parse(response.body));
    } catch {
      // Not JSON after all: classify on the status alone.
    }
  }
  const c = classifyStatus(status, code);
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
