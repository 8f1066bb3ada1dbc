import { describe, expect, it } from '@jest/globals';
import { parseArgs } from '../src/cli.js';
import { repoRoot } from '../src/repo-root.js';

describe('pnpm bench arguments', () => {
  it('defaults to the full mode, every suite, bench/ as the output folder', () => {
    const o = parseArgs([]);
    expect(o.mode).toBe('full');
    expect(o.suites).toEqual([
      'client',
      'server',
      'queue',
      'scale',
      'memory',
      'saga',
      'features',
      'ops',
    ]);
    expect(o.outDir).toBe(`${repoRoot()}/bench`);
  });

  it('selects suites by name, in the canonical order, with --quick', () => {
    const o = parseArgs(['--', '--quick', 'memory', '--suite=client,server', '--out', '/tmp/x']);
    expect(o).toMatchObject({
      mode: 'quick',
      suites: ['client', 'server', 'memory'],
      outDir: '/tmp/x',
    });
  });

  it('names what was wrong with bad arguments', () => {
    expect(() => parseArgs(['clients'])).toThrow(
      'unknown suite "clients" (known: client, server, queue, scale, memory, saga, features, ops)',
    );
    expect(() => parseArgs(['--fast'])).toThrow('unknown option --fast');
    expect(() => parseArgs(['--out'])).toThrow('--out needs a value');
  });
});
