import { currentJestTest, replayCommand } from './replay-command.js';
import { defaultSeed } from './seed.js';

/** jest-circus's state of the running test: its errors so far. */
interface CircusState {
  readonly currentlyRunningTest?: { readonly errors?: readonly unknown[] } | null;
}

/**
 * The errors of the running test, from jest-circus's per-file state. jest has no public API
 * for "did this test fail" in a setup file (only a custom test environment sees the events);
 * circus keeps its state on the test file's global under a symbol named `JEST_STATE_SYMBOL`
 * (jest 27 to 30, CommonJS and ESM alike). Undefined under any other runner.
 */
function runningTestErrors(): readonly unknown[] | undefined {
  const symbol = Object.getOwnPropertySymbols(globalThis).find(
    (s) => s.description === 'JEST_STATE_SYMBOL',
  );
  if (symbol === undefined) return undefined;
  const state = (globalThis as Record<symbol, CircusState | undefined>)[symbol];
  const errors = state?.currentlyRunningTest?.errors;
  return Array.isArray(errors) ? errors : undefined;
}

function mentionsReplay(error: unknown): boolean {
  const list = Array.isArray(error) ? error : [error];
  return list.some((e) => e instanceof Error && e.message.includes('replay with seed'));
}

/**
 * The `afterEach` hook of `@unfazed/testing/jest`: when the test just failed, it fails once more
 * with one line, `replay with seed=<n>: UNFAZED_SEED=<n> npx jest <file> -t '<name>'`, which jest
 * prints with the test's failure. `<n>` is the file's seed: what every plan, proxy and delay
 * created without a seed used. Nothing is added when the failure already says how to replay
 * (e.g. from `withReplayHint`), or for a `test.failing` test.
 * @internal
 */
export function replayHintOnFailure(): void {
  const errors = runningTestErrors();
  if (errors === undefined || errors.length === 0 || errors.some(mentionsReplay)) return;
  if ((currentJestTest() as { testFailing?: boolean } | undefined)?.testFailing === true) return;
  const seed = defaultSeed();
  const hint = new Error(`replay with seed=${seed}: ${replayCommand(seed)}`);
  hint.name = 'UnfazedReplayHint';
  // No frames: they would point here, not at the test.
  hint.stack = hint.message;
  throw hint;
}
