import { CHILD_ENV, CHILD_RUN_ENV, isContinueMessage, type CheckpointMessage } from './protocol.js';

let seq = 0;

/**
 * Marks a named point in code that runs in a child started by `runChild()`. The child reports
 * the point to its parent and waits for the go-ahead, so a parent told to "kill at
 * `after-charge`" kills the child exactly there: nothing after the checkpoint runs. Outside
 * `runChild()` (no IPC channel, `UNFAZED_CHILD` unset) it resolves at once, so production code
 * may keep its checkpoints.
 *
 * @example
 * await chargeCard(order);
 * await checkpoint('after-charge'); // a crash here loses the reply, not the charge
 * await markPaid(order);
 */
export function checkpoint(name: string): Promise<void> {
  if (process.env[CHILD_ENV] !== '1' || typeof process.send !== 'function' || !process.connected) {
    return Promise.resolve();
  }
  const send = process.send.bind(process);
  const mySeq = ++seq;
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('message', onMessage);
      process.off('disconnect', done);
      resolve();
    };
    const onMessage = (message: unknown): void => {
      if (isContinueMessage(message) && message.seq === mySeq) done();
    };
    // Listening refs the IPC channel while we wait; removing the listeners unrefs it again,
    // so the child still exits on its own when its work is done.
    process.on('message', onMessage);
    process.once('disconnect', done);
    const message: CheckpointMessage = { type: 'unfazed:checkpoint', name, seq: mySeq };
    send(message);
  });
}

/** In a child started by `runChild()`: its run number (1, then 2 after the first restart, …); else 0. */
export function childRun(): number {
  const run = Number(process.env[CHILD_RUN_ENV]);
  return Number.isInteger(run) && run > 0 ? run : 0;
}
