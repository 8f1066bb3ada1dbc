/** Anything that can explain its injected faults: a plan, `faultyServer`, `faultInterceptor`, `faultProxy`. */
export interface FaultExplainer {
  formatEvents(): string;
  replayHint(): string;
}

/**
 * Runs `fn` (a test body or a block of assertions); if it throws, appends the injected-fault
 * log and the `replay with seed=...` line of each source to the error message and rethrows,
 * so a failing chaos test says how to replay it.
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
      error.message = `${error.message}\n\n${note}`;
      if (typeof error.stack === 'string')
        error.stack = `${error.message}\n${error.stack.split('\n').slice(1).join('\n')}`;
      throw error;
    }
    throw new Error(`${String(error)}\n\n${note}`, { cause: error });
  }
}
