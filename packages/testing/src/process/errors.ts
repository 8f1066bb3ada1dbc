import { UnfazedError, errorGuard } from '@unfazed/contract';

/**
 * A wait on a child started by `runChild()` failed: it exited, or the time ran out, before it
 * reached the checkpoint or printed the output waited for. The message carries the checkpoints
 * it did reach and the tail of its output.
 */
export class ChildWaitError extends UnfazedError {
  static readonly code = 'UNFAZED_ERR_TESTING_CHILD_WAIT';
  /** Why the wait ended. */
  readonly reason: 'exited' | 'timeout';

  constructor(reason: 'exited' | 'timeout', message: string) {
    super(ChildWaitError.code, message);
    this.reason = reason;
  }
}

/** Guard for {@link ChildWaitError}. */
export const isChildWaitError = errorGuard<ChildWaitError>(ChildWaitError.code);
