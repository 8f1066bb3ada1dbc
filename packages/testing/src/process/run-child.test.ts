import { describe, expect, it } from '@jest/globals';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isInvalidOptionError } from '@unfazed/contract';
import { defaultExecArgv, modulePathOf, runChild } from './run-child.js';

const flags = join(__dirname, '..', '..', 'test', 'fixtures', 'flags.ts');

describe('runChild module names', () => {
  it('takes a path, absolute or relative to the current directory', () => {
    expect(modulePathOf(flags)).toBe(flags);
    expect(modulePathOf('child.ts')).toBe(resolve('child.ts'));
  });

  it('takes a file: URL, as an object or a string', () => {
    const url = pathToFileURL(flags);
    expect(modulePathOf(url)).toBe(flags);
    expect(modulePathOf(url.href)).toBe(flags);
  });

  it('rejects other URLs and empty names', () => {
    for (const bad of [new URL('https://example.com/child.ts'), '', 42]) {
      let error: unknown;
      try {
        modulePathOf(bad as string);
      } catch (e) {
        error = e;
      }
      expect(isInvalidOptionError(error)).toBe(true);
    }
  });

  it('runs a TypeScript child named by a URL', async () => {
    const run = await runChild(pathToFileURL(flags), { timeoutMs: 20_000 });
    const exit = await run.exited;
    expect(exit.code).toBe(0);
    expect(run.module).toBe(flags);
  });
});

describe('default Node flags of a TypeScript child', () => {
  it('the published package (dist) adds no --conditions: it ships no sources', () => {
    const argv = defaultExecArgv('/app/test/child.ts', false);
    expect(argv).toHaveLength(2);
    expect(argv[0]).toBe('--import');
    expect(argv.join(' ')).not.toContain('--conditions');
  });

  it('inside the repository (sources) the child resolves @unfazed/* to their sources too', async () => {
    expect(defaultExecArgv('/repo/child.ts', true)).toContain('--conditions=@unfazed/source');
    // This test runs the package from src/, so a real child gets the condition.
    const run = await runChild(flags, { timeoutMs: 20_000 });
    const exit = await run.exited;
    expect(JSON.parse(exit.stdout) as string[]).toContain('--conditions=@unfazed/source');
  });

  it('a JavaScript child gets no flags', () => {
    expect(defaultExecArgv('/app/child.mjs', false)).toEqual([]);
  });
});
