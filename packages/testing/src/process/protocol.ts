/**
 * The messages a child started by `runChild()` and its parent exchange over the IPC channel.
 * Kept free of imports so that `checkpoint()` stays light in the child.
 */

/** Set to `1` in the environment of a child started by `runChild()`. */
export const CHILD_ENV = 'UNFAZED_CHILD';
/** The run number (1, 2, … after each restart) in the environment of such a child. */
export const CHILD_RUN_ENV = 'UNFAZED_CHILD_RUN';

/** Child → parent: "I reached checkpoint `name`; tell me when to go on". @internal */
export interface CheckpointMessage {
  type: 'unfazed:checkpoint';
  name: string;
  seq: number;
}

/** Parent → child: "go on past checkpoint number `seq`". @internal */
export interface ContinueMessage {
  type: 'unfazed:continue';
  seq: number;
}

/** @internal */
export function isCheckpointMessage(value: unknown): value is CheckpointMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'unfazed:checkpoint' &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { seq?: unknown }).seq === 'number'
  );
}

/** @internal */
export function isContinueMessage(value: unknown): value is ContinueMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'unfazed:continue' &&
    typeof (value as { seq?: unknown }).seq === 'number'
  );
}
