import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChild } from '@unfazed/testing';

// `@unfazed/testing/jest` as a user's setupFilesAfterEnv, in jest's ESM mode (what the README
// tells users) and CommonJS mode: a scratch project runs test/fixtures/jest-project/ with jest,
// then runs the replay command printed under a failure.
const repo = join(__dirname, '..', '..', '..');
const jestBin = join(repo, 'node_modules', 'jest', 'bin', 'jest.js');
let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'unfazed-jest-project-'));
  symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'));
  writeFileSync(join(project, 'package.json'), '{ "private": true, "type": "module" }\n');
  copyFileSync(
    join(__dirname, 'fixtures', 'jest-project', 'replay.fixture.ts'),
    join(project, 'replay.test.ts'),
  );
});
afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

/**
 * The README's TypeScript config (ESM mode, @swc/jest), or the CommonJS mode this repository's
 * own jest config uses (which also compiles ESM-only dependencies).
 */
function config(mode: 'esm' | 'cjs'): string {
  const file = `jest.${mode}.config.json`;
  const swc = { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } };
  writeFileSync(
    join(project, file),
    JSON.stringify({
      testEnvironment: 'node',
      ...(mode === 'esm' ? { extensionsToTreatAsEsm: ['.ts'] } : {}),
      transform: {
        [mode === 'esm' ? '^.+\\.ts$' : '^.+\\.[cm]?[tj]s$']: [
          '@swc/jest',
          { ...swc, module: { type: mode === 'esm' ? 'es6' : 'commonjs' } },
        ],
      },
      // CommonJS mode (the repository's own): ESM-only dependencies must be compiled too.
      ...(mode === 'cjs'
        ? { transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/uuid@|uuid/))'] }
        : {}),
      // A user writes '@unfazed/testing/jest' (the built package). Here the package runs from
      // its sources, which only the three lines below make resolvable.
      setupFilesAfterEnv: [join(repo, 'packages', 'testing', 'src', 'jest.ts')],
      testEnvironmentOptions: {
        customExportConditions: ['@unfazed/source', 'node', 'node-addons'],
      },
      moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    }),
  );
  return file;
}

async function jest(mode: 'esm' | 'cjs', args: string[]): Promise<string> {
  const run = await runChild(jestBin, {
    cwd: project,
    args: ['--config', config(mode), '--ci', ...args],
    execArgv: mode === 'esm' ? ['--experimental-vm-modules'] : [],
    env: { UNFAZED_SEED: undefined, NODE_OPTIONS: undefined },
    timeoutMs: 60_000,
  });
  const exit = await run.exited;
  expect(exit.killedBy).toBeUndefined();
  return exit.stdout + exit.stderr;
}

/** Runs a printed command through the shell, in the project, as a user pasting it would. */
function shell(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], {
      cwd: project,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
}

describe.each(['esm', 'cjs'] as const)('@unfazed/testing/jest in %s mode', (mode) => {
  it('prints the replay line once under each failing test, and the line replays it', async () => {
    const output = await jest(mode, []);
    expect(output).toContain('Tests:       2 failed, 1 passed, 3 total');
    const seed = /plan seed (\d+)/.exec(output)?.[1];
    const hints = output.match(/^\s*replay with seed=.*$/gm) ?? [];
    // One for the plain failure (the setup file), one from withReplayHint (not doubled).
    expect(hints).toHaveLength(2);
    const runner =
      mode === 'esm' ? 'node --experimental-vm-modules node_modules/jest/bin/jest.js' : 'npx jest';
    const line = `replay with seed=${seed}: UNFAZED_SEED=${seed} ${runner} replay.test.ts -t '^checkout \\(EUR\\) doesn'\\''t charge twice$'`;
    expect(hints[0]?.trim()).toBe(line);
    expect(hints[1]?.trim()).toMatch(
      /^replay with seed=7 \(UNFAZED_SEED=7 .* -t '\^explains its own faults\$', or pass \{ seed: 7 \}\)$/,
    );

    const command = line.slice(line.indexOf(': ') + 2);
    const replay = await shell(`${command} --config ${config(mode)} --ci`);
    expect(replay).toContain('Tests:       1 failed, 2 skipped, 3 total');
    expect(replay).toContain(`plan seed ${seed}`);
  }, 120_000);
});
