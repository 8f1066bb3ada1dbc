import type { Readable } from 'node:stream';
import { PROBLEM_CONTENT_TYPE, type Classification } from '@unfazed/contract';
import type { LastResponse, StopReason } from './errors.js';
import { readBounded } from './read-bounded.js';
import type { ResponseHeaders } from './response.js';

/** Statuses whose problem+json body tells the contract's cases apart. */
export const PROBLEM_STATUSES: ReadonlySet<number> = new Set([409, 422, 503]);

/** Most bytes of a body read to classify it or to quote it in an error. */
export const MAX_PROBLEM_BYTES = 64 * 1024;

/** How one attempt ended, with what the breaker needs to judge it. */
export type Outcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: ResponseHeaders;
      readonly body: Readable | Buffer;
      readonly cls: Classification;
      readonly retryAfterMs: number | undefined;
      readonly breakerFailure: boolean;
      readonly forceOpenMs: number | undefined;
    }
  | {
      readonly kind: 'error';
      readonly error: unknown;
      readonly cls: Classification;
      readonly breakerFailure: boolean;
      readonly forceOpenMs: undefined;
    }
  | {
      readonly kind: 'aborted';
      readonly error: unknown;
      readonly breakerFailure: boolean;
      readonly forceOpenMs: undefined;
    };

/** What one pass of the retry loop decided. */
export interface Step {
  readonly outcome: Outcome;
  /** Read by cockatiel's retry filter. */
  readonly retry: boolean;
  readonly stop: StopReason | undefined;
}

/** True for a problem+json (or plain JSON) content type. */
export function isProblem(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  if (value === undefined) return false;
  const type = value.split(';')[0]?.trim().toLowerCase();
  return type === PROBLEM_CONTENT_TYPE || type === 'application/json';
}

/** The status, headers and start of the body of a transient answer the call ends on. */
export async function lastResponse(
  outcome: Extract<Outcome, { kind: 'response' }>,
  deadline: number,
): Promise<LastResponse> {
  let text = '';
  if (Buffer.isBuffer(outcome.body)) {
    text = outcome.body.toString('utf8');
  } else {
    const body = outcome.body;
    const timer = setTimeout(() => body.destroy(), Math.max(0, deadline - performance.now()));
    try {
      const read = await readBounded(body, MAX_PROBLEM_BYTES);
      text = read.head.subarray(0, MAX_PROBLEM_BYTES).toString('utf8');
      if (read.overflow) read.overflow.destroy();
    } catch {
      // The body is only a diagnostic: a broken one must not hide the real error.
    } finally {
      clearTimeout(timer);
    }
  }
  return { status: outcome.status, headers: outcome.headers, body: text };
}
