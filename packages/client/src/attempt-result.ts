import { classifyStatus, problemCodeOf, type Classification } from '@unfazed/contract';
import type { ResponseHeaders } from './response.js';

/**
 * How one attempt made by `client.attempt()` ended, classified once by the contract
 * (`@unfazed/contract`'s `classifyStatus` / `classifyError`):
 * - `response`: the downstream answered (any status); `classification` says whether the answer
 *   is a success, transient (retry later), in-flight, a fingerprint mismatch or permanent;
 * - `error`: no answer (a network error, a timeout, a bad request); `classification.requestSent`
 *   says whether the request may have reached the downstream;
 * - `circuit-open`: the client's breaker refused to send it, until `nextProbeAt` (epoch ms);
 * - `retry-budget-exhausted`: a retry (`options.retry`) found the origin's retry budget empty and
 *   was not sent; a token should be back by `retryAt` (epoch ms);
 * - `aborted`: the caller's signal aborted it (it may have been sent).
 */
export type AttemptResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: ResponseHeaders;
      /** The whole body, as UTF-8 text. */
      readonly body: string;
      readonly classification: Classification;
    }
  | {
      readonly kind: 'error';
      readonly classification: Classification;
      /** The error's message, for logs and stored failures. */
      readonly message: string;
      /** True when the attempt (or the call's total) timeout ended it. */
      readonly timedOut: boolean;
    }
  | { readonly kind: 'circuit-open'; readonly nextProbeAt: number }
  | { readonly kind: 'retry-budget-exhausted'; readonly retryAt: number }
  | { readonly kind: 'aborted' };

/** Options of `client.attempt()`. */
export interface AttemptOptions {
  /** Aborts the attempt (then `aborted`). */
  readonly signal?: AbortSignal;
  /** Timeout of this attempt, ms. Default: the client's attempt timeout. */
  readonly timeout?: number;
  /**
   * This attempt retries an earlier one (the durable queue's later attempts, a redrive): it takes
   * a token from the origin's retry budget, or is not sent when there is none.
   */
  readonly retry?: boolean;
}

/**
 * The contract's verdict on an answer read whole: the status, with the problem code of a JSON
 * error body (which tells the in-flight `409` and the fingerprint `422` apart).
 */
export function classifyAnswer(
  status: number,
  headers: ResponseHeaders,
  body: string,
): Classification {
  const contentType = headers['content-type'];
  const type = Array.isArray(contentType) ? (contentType[0] ?? '') : (contentType ?? '');
  let code: string | undefined;
  if (type.includes('json') && status >= 400) {
    try {
      code = problemCodeOf(JSON.parse(body));
    } catch {
      // Not JSON after all: classify on the status alone.
    }
  }
  return classifyStatus(status, code);
}
