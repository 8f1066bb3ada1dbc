import { relative } from 'node:path';

/** What jest's `expect.getState()` tells about the running test (the fields used here). */
interface JestTestState {
  readonly testPath?: string;
  readonly currentTestName?: string;
}

/** The running jest test, read from jest's global `expect`; undefined outside jest. @internal */
export function currentJestTest(): JestTestState | undefined {
  const expect = (globalThis as { expect?: { getState?: () => JestTestState } }).expect;
  try {
    return typeof expect?.getState === 'function' ? expect.getState() : undefined;
  } catch {
    return undefined;
  }
}

/** `'…'` for a POSIX shell. */
function shellQuote(text: string): string {
  return /^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** jest's `-t` takes a regular expression: the name, matched literally and whole. */
function namePattern(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/**
 * The shell command that re-runs the current test with `UNFAZED_SEED=<seed>`: the test file
 * (relative to the current directory) and `-t` with the test's full name, as jest reports them;
 * `node --experimental-vm-modules node_modules/jest/bin/jest.js` when jest runs in ESM mode.
 * Outside a jest test: `UNFAZED_SEED=<seed> npx jest <file>`.
 * @internal
 */
export function replayCommand(seed: number): string {
  const test = currentJestTest();
  const esm = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)].includes(
    '--experimental-vm-modules',
  );
  const jest = esm ? 'node --experimental-vm-modules node_modules/jest/bin/jest.js' : 'npx jest';
  const file = test?.testPath ? shellQuote(relative(process.cwd(), test.testPath)) : '<file>';
  const name = test?.currentTestName ? ` -t ${shellQuote(namePattern(test.currentTestName))}` : '';
  return `UNFAZED_SEED=${seed} ${jest} ${file}${name}`;
}
