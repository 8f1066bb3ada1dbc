import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';

/**
 * The consumer suite: the packages as a user gets them. Every package is packed (`pnpm pack`,
 * whose `prepack` builds it), the tarballs are installed with npm into a copy of `app/` (its
 * committed package-lock.json pins every third-party package, so one `npm ci --prefer-offline`
 * per run), and small real apps run against real Redis in the setups users have: Express 4 and
 * 5 with a global body parser and with the middleware first, Fastify 5 over sockets and with
 * inject(), compression, CommonJS require() and ESM import, `tsc` under nodenext and bundler
 * resolution, ioredis 5 and 6, and a jest suite for @unfazed/testing written the README's way.
 *
 * UNFAZED_CONSUMER_PACKS=<dir> uses the tarballs in <dir> instead of packing.
 * UNFAZED_CONSUMER_UPDATE_LOCK=1 runs `npm install` instead of `npm ci` and writes the new
 * lockfile back to app/ (after changing app/package.json or a package's dependencies).
 * UNFAZED_CONSUMER_KEEP=1 keeps the installed app (its path is printed) to run a cell by hand.
 */

// Each cell is a child process with its own timeout; this only bounds the jest side.
jest.setTimeout(120_000);

const root = path.resolve(__dirname, '../..');
const fixture = path.join(__dirname, 'app');
const packages = ['contract', 'client', 'server', 'testing'] as const;

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command with a clean environment (no npm_/pnpm_ variables from the parent script). */
function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs: number },
): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|pnpm_|NODE_OPTIONS$|JEST_|INIT_CWD$)/i.test(name)) continue;
    env[name] = value;
  }
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: { ...env, ...options.env },
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        const signal = error && 'signal' in error ? (error.signal ?? null) : null;
        resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

function describeRun(what: string, r: Run): string {
  const how = r.signal ? `killed by ${r.signal} after ${r.ms} ms (hung?)` : `exit ${r.code}`;
  return `${what}: ${how}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

function expectOk(what: string, r: Run): void {
  if (r.code !== 0) throw new Error(describeRun(what, r));
  expect(r.code).toBe(0);
}

/** pnpm as the parent run found it (pnpm test), else from the PATH. */
function pnpm(args: string[]): [string, string[]] {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(path.basename(execPath)) && execPath.endsWith('.cjs'))
    return [process.execPath, [execPath, ...args]];
  return ['pnpm', args];
}

let tmp = '';
let app = '';
let ctx: RedisTestContext | undefined;
const timings: Record<string, number> = {};

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'unfazed-consumers-'));
  const packs = path.join(tmp, 'packs');
  const given = process.env.UNFAZED_CONSUMER_PACKS;
  let started = Date.now();
  if (given) {
    cpSync(path.resolve(given), packs, { recursive: true });
  } else {
    // contract first: the others' prepack (`tsc -b`) then finds it built and only reads it.
    const pack = async (name: string): Promise<void> => {
      const [file, args] = pnpm(['pack', '--pack-destination', packs]);
      const r = await run(file, args, {
        cwd: path.join(root, 'packages', name),
        timeoutMs: 180_000,
      });
      if (r.code !== 0) throw new Error(describeRun(`pnpm pack of @unfazed/${name}`, r));
    };
    await pack('contract');
    await Promise.all(packages.filter((p) => p !== 'contract').map(pack));
  }
  timings.pack = Date.now() - started;

  const tarballs = new Map<string, string>();
  for (const file of readdirSync(packs)) {
    const match = /^unfazed-([a-z]+)-.*\.tgz$/.exec(file);
    if (match?.[1]) tarballs.set(`@unfazed/${match[1]}`, `file:../packs/${file}`);
  }
  for (const name of packages) {
    if (!tarballs.has(`@unfazed/${name}`)) throw new Error(`no tarball for @unfazed/${name}`);
  }

  app = path.join(tmp, 'app');
  cpSync(fixture, app, {
    recursive: true,
    filter: (source) => !source.split(path.sep).includes('node_modules'),
  });
  // Point the app at this run's tarballs; their content changes with every build, so the
  // lockfile keeps no integrity for them (it still pins everything they depend on).
  const pkg = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const [name, spec] of tarballs) pkg.dependencies[name] = spec;
  writeFileSync(path.join(app, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  const lock = JSON.parse(readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { resolved?: string; integrity?: string; dependencies?: object }>;
  };
  const rootEntry = lock.packages[''] as { dependencies: Record<string, string> };
  for (const [name, spec] of tarballs) {
    rootEntry.dependencies[name] = spec;
    const entry = lock.packages[`node_modules/${name}`];
    if (entry) {
      entry.resolved = spec;
      delete entry.integrity;
    }
  }
  writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');

  started = Date.now();
  const update = process.env.UNFAZED_CONSUMER_UPDATE_LOCK === '1';
  const install = await run(
    'npm',
    [update ? 'install' : 'ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    { cwd: app, timeoutMs: 300_000 },
  );
  if (install.code !== 0) throw new Error(describeRun('npm install of the consumer app', install));
  timings.install = Date.now() - started;
  // npm ci trusts the lockfile's record of each tarball's dependencies: when a package's own
  // dependencies changed, say how to refresh it instead of failing later with a missing module.
  const locked = JSON.parse(readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dependencies?: Record<string, string> }>;
  };
  for (const name of packages) {
    const installed = JSON.parse(
      readFileSync(path.join(app, 'node_modules/@unfazed', name, 'package.json'), 'utf8'),
    ) as { dependencies?: Record<string, string> };
    const want = JSON.stringify(Object.entries(installed.dependencies ?? {}).sort());
    const have = JSON.stringify(
      Object.entries(locked.packages[`node_modules/@unfazed/${name}`]?.dependencies ?? {}).sort(),
    );
    if (want !== have && !update)
      throw new Error(
        `test/consumers/app/package-lock.json is out of date for @unfazed/${name}'s dependencies ` +
          `(${have} locked, ${want} packed): run the suite once with UNFAZED_CONSUMER_UPDATE_LOCK=1`,
      );
  }
  if (update) {
    const fresh = JSON.parse(readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; integrity?: string }>;
    };
    for (const [name, entry] of Object.entries(fresh.packages)) {
      if (name.startsWith('node_modules/@unfazed/')) delete entry.integrity;
    }
    writeFileSync(path.join(fixture, 'package-lock.json'), JSON.stringify(fresh, null, 2) + '\n');
  }

  ctx = await redisTestContext('consumers');
}, 600_000);

afterAll(async () => {
  await ctx?.close();
  if (tmp && process.env.UNFAZED_CONSUMER_KEEP !== '1')
    rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`consumer app kept in ${app}`);
  console.log(`consumer suite timings (ms): ${JSON.stringify(timings)}`);
}, 60_000);

/** Where the gzip comes from: middleware mounted before or after ours, or the handler itself. */
const COMPRESSION = ['before', 'after', 'handler'];

const IOREDIS = [
  { module: 'ioredis5', major: '5' },
  { module: 'ioredis', major: '6' },
] as const;

/** Runs a script of the app with node, against the suite's Redis and one ioredis major. */
async function node(
  what: string,
  args: string[],
  ioredis: { module: string; major: string } = { module: 'ioredis', major: '6' },
  timeoutMs = 30_000,
): Promise<void> {
  const r = await run(process.execPath, args, {
    cwd: app,
    env: {
      REDIS_URL: ctx?.url ?? 'redis://127.0.0.1:6379',
      UNFAZED_PREFIX: ctx?.prefix ?? 'unfazed:consumer:',
      UNFAZED_IOREDIS: ioredis.module,
      UNFAZED_IOREDIS_MAJOR: ioredis.major,
    },
    timeoutMs,
  });
  timings[what] = r.ms;
  expectOk(what, r);
}

const smokeExports = path.join(root, 'test/smoke/expected-exports.json');

describe('tarballs', () => {
  it.each(packages)(
    '@unfazed/%s ships dist, README and LICENSE, no maps, buildinfo or src',
    async (name) => {
      const tarball = readdirSync(path.join(tmp, 'packs')).find((f) =>
        f.startsWith(`unfazed-${name}-`),
      );
      const r = await run('tar', ['tzf', path.join(tmp, 'packs', tarball ?? '?')], {
        cwd: tmp,
        timeoutMs: 10_000,
      });
      expectOk(`tar tzf of @unfazed/${name}`, r);
      const files = r.stdout.split('\n').filter(Boolean);
      expect(files).toEqual(
        expect.arrayContaining([
          'package/package.json',
          'package/README.md',
          'package/LICENSE',
          'package/dist/index.js',
          'package/dist/index.d.ts',
        ]),
      );
      const unwanted = /\.map$|tsbuildinfo|^package\/src\/|^package\/dist\/.*\.test\./;
      expect(files.filter((f) => unwanted.test(f))).toEqual([]);
      // One ioredis in the app: no package brought a copy of its own next to the user's.
      expect(
        existsSync(path.join(app, 'node_modules/@unfazed', name, 'node_modules/ioredis')),
      ).toBe(false);
      const pkg = JSON.parse(
        readFileSync(path.join(app, 'node_modules/@unfazed', name, 'package.json'), 'utf8'),
      ) as { exports: Record<string, unknown>; dependencies?: Record<string, string> };
      // pnpm pack applied publishConfig: no source condition, no workspace: ranges.
      expect(JSON.stringify(pkg.exports)).not.toContain('@unfazed/source');
      expect(JSON.stringify(pkg.dependencies ?? {})).not.toContain('workspace:');
    },
  );

  it.each(packages)('@unfazed/%s ships every Lua script of src/ in dist/', async (name) => {
    const src = path.join(root, 'packages', name, 'src');
    const scripts = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.lua'))
      .map((file) => `package/dist/${file.split(path.sep).join('/')}`)
      .sort();
    if (name === 'client' || name === 'server') expect(scripts.length).toBeGreaterThan(0);
    const tarball = readdirSync(path.join(tmp, 'packs')).find((f) =>
      f.startsWith(`unfazed-${name}-`),
    );
    const r = await run('tar', ['tzf', path.join(tmp, 'packs', tarball ?? '?')], {
      cwd: tmp,
      timeoutMs: 10_000,
    });
    expectOk(`tar tzf of @unfazed/${name}`, r);
    const shipped = r.stdout
      .split('\n')
      .filter((f) => f.endsWith('.lua'))
      .sort();
    expect(shipped).toEqual(scripts);
  });

  it.each(packages)(
    '@unfazed/%s: publishConfig.exports is exports without the source condition',
    (name) => {
      const pkg = JSON.parse(
        readFileSync(path.join(root, 'packages', name, 'package.json'), 'utf8'),
      ) as {
        exports: Record<string, string | Record<string, string>>;
        publishConfig?: { exports?: unknown };
      };
      const expected = Object.fromEntries(
        Object.entries(pkg.exports).map(([sub, target]) => {
          if (typeof target === 'string') return [sub, target];
          const { '@unfazed/source': _source, ...rest } = target;
          return [sub, rest];
        }),
      );
      expect(pkg.publishConfig?.exports).toEqual(expected);
    },
  );
});

describe('module formats', () => {
  it('ESM import of every entry point', () => node('esm', ['esm.mjs', smokeExports]));
  it('CommonJS require() of every entry point', () => node('cjs', ['cjs.cjs', smokeExports]));
});

describe.each([
  { express: 'express4', label: 'Express 4' },
  { express: 'express', label: 'Express 5' },
])('$label', ({ express, label }) => {
  describe.each(IOREDIS)('ioredis $major', (ioredis) => {
    it.each(['json-first', 'middleware-first'])(
      '%s: keyed POST runs once, the retry replays, another body is 422',
      (order) =>
        node(
          `${label} ${order} ioredis ${ioredis.major}`,
          ['express-app.mjs', express, order, 'off'],
          ioredis,
        ),
    );
  });
  it.each(COMPRESSION)('compression %s: the replay decodes to the first answer', (how) =>
    node(`${label} compression ${how}`, ['express-app.mjs', express, 'middleware-first', how]),
  );
});

describe('Fastify 5', () => {
  describe.each(IOREDIS)('ioredis $major', (ioredis) => {
    it.each(['socket', 'inject'])('%s: keyed request, 409 in flight, replay, 422, 413', (mode) =>
      node(`Fastify ${mode} ioredis ${ioredis.major}`, ['fastify-app.mjs', mode, 'off'], ioredis),
    );
  });
  describe.each(COMPRESSION)('compression %s', (how) => {
    it.each(['socket', 'inject'])('%s: the replay decodes to the first answer', (mode) =>
      node(`Fastify ${mode} compression ${how}`, ['fastify-app.mjs', mode, how]),
    );
  });
});

describe('durable retry queue (@unfazed/client)', () => {
  it.each(IOREDIS)(
    'ioredis $major: accepted, finished by a worker, one key on every attempt',
    (ioredis) => node(`durable ioredis ${ioredis.major}`, ['durable-app.mjs'], ioredis),
  );
});

describe('TypeScript consumer (strict, exactOptionalPropertyTypes, ioredis 5 and 6)', () => {
  it.each(['nodenext', 'bundler'])('tsc --noEmit under %s resolution', (resolution) =>
    node(
      `tsc ${resolution}`,
      ['node_modules/typescript/bin/tsc', '-p', `ts/tsconfig.${resolution}.json`],
      undefined,
      60_000,
    ),
  );
});

describe('README snippets', () => {
  it('every ```ts block of the package READMEs type-checks under the strict flags', () =>
    node(
      'README snippets',
      [
        'readme-snippets.mjs',
        ...packages.map((name) => path.join(root, 'packages', name, 'README.md')),
      ],
      undefined,
      60_000,
    ));
});

describe('@unfazed/testing', () => {
  it('a jest suite written the README way runs and jest exits on its own', () =>
    node(
      'testing jest',
      [
        '--experimental-vm-modules',
        'node_modules/jest/bin/jest.js',
        '--config',
        'testing-suite/jest.config.mjs',
        '--ci',
      ],
      undefined,
      30_000,
    ));
});
