import { UnfazedError, errorGuard } from '@unfazed/contract';

/**
 * Codes of the problems the console answers with (`urn:unfazed:ops:problem:<code>`), each with
 * its HTTP status. Never reused.
 */
export const OPS_PROBLEMS = Object.freeze({
  'invalid-request': { status: 400, title: 'The request is invalid' },
  'reason-required': { status: 400, title: 'Every action requires a non-empty reason' },
  unauthenticated: { status: 401, title: 'Not authenticated' },
  forbidden: { status: 403, title: 'Not allowed' },
  'cross-site-refused': {
    status: 403,
    title: 'A state-changing request must come from the same site',
  },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed on this route' },
  conflict: { status: 409, title: 'The target is not in a state that allows this action' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'The request body must be JSON' },
  'invalid-input': { status: 422, title: 'The edited input is not a valid operation input' },
  internal: { status: 500, title: 'The console failed to answer' },
} as const);

/** A problem code of {@link OPS_PROBLEMS}. */
export type OpsProblemCode = keyof typeof OPS_PROBLEMS;

/** The `type` URI base of the console's problems. */
export const OPS_PROBLEM_TYPE_BASE = 'urn:unfazed:ops:problem:';

/** A refused or failed console request, answered as `application/problem+json`. */
export class OpsProblemError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_OPS_PROBLEM';
  readonly problem: OpsProblemCode;
  readonly status: number;

  constructor(problem: OpsProblemCode, detail: string, cause?: unknown) {
    super(OpsProblemError.code, detail, { cause });
    this.name = 'OpsProblemError';
    this.problem = problem;
    this.status = OPS_PROBLEMS[problem].status;
  }
}

/** True for an {@link OpsProblemError}, from any copy of the package. */
export const isOpsProblemError = errorGuard<OpsProblemError>(OpsProblemError.code);
