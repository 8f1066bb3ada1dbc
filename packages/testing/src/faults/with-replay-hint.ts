/** Anything that can explain its injected faults: a plan, `faultyServer`, `faultInterceptor`, `faultProxy`. */
export interface FaultExplainer {
  formatEvents(): string;
  replayHint(): string;
}

/**
 * Runs `fn` (a test body or a block of assertions); if it throws, appends the injected-fault
 * log and the `replay with seed=...` line of each source to the error message and rethrows,
 * so a failing chaos test says how to replay it. It returns a promise: `await` it;
 * without, the test does not wait for the assertions and their failure escapes it.
 *
 * @example
 * await withReplayHint(server, async () => {
 *   expect(await callTwentyTimes()).toEqual(expected);
 * });
 */
export async function withReplayHint<T>(
  sources: FaultExplainer | readonly FaultExplainer[],
  fn: () => T | Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const list = Array.isArray(sources) ? sources : [sources as FaultExplainer];
    const note = list.map((s) => `${s.formatEvents()}\n${s.replayHint()}`).join('\n');
    if (error instanceof Error) {
      // Read the stack before touching the message: V8 renders it lazily, from the message of
      // the moment. The note goes once, after the original message, before the frames.
      const stack = error.stack;
      error.message = `${error.message}\n\n${note}`;
      if (typeof stack === 'string') {
        const frames = stack.search(/\n\s+at /);
        error.stack =
          frames === -1
            ? `${stack}\n\n${note}`
            : `${stack.slice(0, frames)}\n\n${note}${stack.slice(frames)}`;
      }
      throw error;
    }
    throw new Error(`${String(error)}\n\n${note}`, { cause: error });
  }
}
