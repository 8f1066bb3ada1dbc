import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

// The README sends users to the recipes inside the installed package: they must be packed.
describe('the packed package', () => {
  it('ships the recipes (test/recipes, fixtures included) next to dist and the README', async () => {
    const { stdout } = await promisify(execFile)(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: join(__dirname, '..') },
    );
    const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    const files = pack.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'README.md',
        'test/recipes/flaky-downstream.test.ts',
        'test/recipes/lost-response.test.ts',
        'test/recipes/redis-outage.test.ts',
        'test/recipes/crash-mid-retry.test.ts',
        'test/recipes/fixtures/crash-charge-client.ts',
      ]),
    );
    // Only the recipes of test/: not this package's own tests.
    expect(files.filter((f) => f.startsWith('test/') && !f.startsWith('test/recipes/'))).toEqual(
      [],
    );
  });
});
