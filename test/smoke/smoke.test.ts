import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The module-format smoke test: plain Node (no loader, no custom export conditions) imports
 * every built package from an ES module and from a CommonJS module. It needs `pnpm build`
 * (the README's test command runs `tsc -b` before jest); it does not build by itself.
 */

const here = __dirname;
const root = path.resolve(here, '../..');
const { entryPoints } = JSON.parse(
  readFileSync(path.join(here, 'expected-exports.json'), 'utf8'),
) as {
  entryPoints: Record<string, string[]>;
};
const specifiers = Object.keys(entryPoints);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script with plain `node` and an environment free of NODE_OPTIONS and conditions. */
function runNode(script: string, cwd: string, flags: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...flags, script],
      { cwd, env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The built file each entry point resolves to, from its package.json `exports`. */
function builtFiles(): string[] {
  const files: string[] = [];
  for (const specifier of specifiers) {
    const [scope, name, ...sub] = specifier.split('/');
    const dir = path.join(root, 'packages', name ?? '');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      name: string;
      exports: Record<string, { default: string }>;
    };
    expect(pkg.name).toBe(`${scope}/${name}`);
    const target = pkg.exports[sub.length > 0 ? `./${sub.join('/')}` : '.'];
    if (!target) throw new Error(`${specifier} is not in ${pkg.name}'s exports`);
    files.push(path.join(dir, target.default));
  }
  return files;
}

function assertBuilt(): void {
  const missing = builtFiles().filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(
      `the packages are not built (missing ${missing
        .map((f) => path.relative(root, f))
        .join(', ')}): run \`pnpm build\` before the smoke test`,
    );
  }
}

/** Whether the Node that runs the scripts can require() ES modules (asked of that Node itself). */
async function nodeCanRequireEsm(): Promise<boolean> {
  const run = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['-p', 'Boolean(process.features.require_module)'],
      { env: { PATH: process.env.PATH ?? '' } },
      (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
    );
  });
  return run === 'true';
}

describe('built packages load under plain Node', () => {
  it('from an ES module (smoke.mjs)', async () => {
    assertBuilt();
    const run = await runNode('smoke.mjs', here);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const specifier of specifiers) {
      expect(run.stdout).toContain(
        `esm ${specifier}: ok (${entryPoints[specifier]?.length} exports checked)`,
      );
    }
    expect(run.stdout).toContain(`esm smoke: ${specifiers.length} entry points ok`);
  });

  it('from a CommonJS module (smoke.cjs), with import() and, where Node can, require()', async () => {
    assertBuilt();
    const canRequire = await nodeCanRequireEsm();
    const run = await runNode('smoke.cjs', here);
    expect(run.code).toBe(0);
    for (const specifier of specifiers) {
      expect(run.stdout).toContain(`cjs import() ${specifier}: ok`);
      if (canRequire) {
        expect(run.stdout).toContain(`cjs require() ${specifier}: ok`);
      }
    }
    if (!canRequire) {
      expect(run.stdout).toContain('cjs require(): skipped');
    }
    expect(run.stdout).toContain(`cjs smoke: ${specifiers.length} entry points ok`);
  });

  it('from CommonJS on a Node without require(esm), as 20.18 is: import() works', async () => {
    assertBuilt();
    const run = await runNode('smoke.cjs', here, ['--no-experimental-require-module']);
    expect(run.code).toBe(0);
    for (const specifier of specifiers) {
      expect(run.stdout).toContain(`cjs import() ${specifier}: ok`);
    }
    expect(run.stdout).toContain('cjs require(): skipped');
    expect(run.stdout).not.toContain('cjs require() @unfazed');
  });
});

describe('when the packages are not built', () => {
  let dir: string;

  // A copy of the smoke scripts next to packages that declare the same exports but have no dist.
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'unfazed-smoke-'));
    for (const file of ['smoke.mjs', 'smoke.cjs', 'smoke-lib.cjs', 'expected-exports.json']) {
      copyFileSync(path.join(here, file), path.join(dir, file));
    }
    for (const name of ['contract', 'client', 'server', 'testing']) {
      const pkgDir = path.join(dir, 'node_modules', '@unfazed', name);
      mkdirSync(pkgDir, { recursive: true });
      copyFileSync(
        path.join(root, 'packages', name, 'package.json'),
        path.join(pkgDir, 'package.json'),
      );
    }
    writeFileSync(path.join(dir, 'package.json'), '{"private":true}');
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['smoke.mjs', 'smoke.cjs'])('%s fails and says to run pnpm build', async (script) => {
    const run = await runNode(script, dir);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain(': ok');
    for (const specifier of specifiers) {
      expect(run.stderr).toContain(`${specifier} could not be loaded`);
    }
    expect(run.stderr).toContain('run `pnpm build` first');
  });
});
