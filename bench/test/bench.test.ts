import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MODES } from '../src/modes.js';
import { repoRoot } from '../src/repo-root.js';
import { SUITE_NAMES, type BenchResults, type Measure, type Spread } from '../src/results.js';
import { runBench } from '../src/run-bench.js';

/** Modification time of a committed results file, or undefined when there is none. */
async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

function expectPositiveSpread(s: Spread, what: string): void {
  // A lateness can be 0 (the retry ran in the millisecond it was due); every other figure is > 0.
  const floor = /lateness/.test(what) ? 0 : Number.MIN_VALUE;
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isFinite(value) || value < floor) {
      throw new Error(`${what}: ${name} is ${value}, not a finite positive number`);
    }
  }
  expect(s.min).toBeLessThanOrEqual(s.median);
  expect(s.median).toBeLessThanOrEqual(s.max);
}

const label = (m: Measure): string => `${m.suite} / ${m.scenario} / ${m.metric}`;

describe('pnpm bench --test: every suite, smallest settings', () => {
  let out: string;
  let results: BenchResults;
  const committed = join(repoRoot(), 'bench');
  const before: Record<string, number | undefined> = {};
  const lines: string[] = [];

  beforeAll(async () => {
    // jest loads the packages from their sources; the app child processes must too.
    process.env['UNFAZED_BENCH_SOURCE'] = '1';
    out = await mkdtemp(join(tmpdir(), 'unfazed-bench-'));
    for (const file of ['results.md', 'results.json']) {
      before[file] = await mtimeOf(join(committed, file));
    }
    results = await runBench({
      mode: 'test',
      suites: SUITE_NAMES,
      outDir: out,
      log: (line) => lines.push(line),
    });
  }, 200_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('runs every suite in order and logs progress', () => {
    expect(results.mode).toBe('test');
    expect(results.suites.map((s) => s.name)).toEqual([...SUITE_NAMES]);
    for (const suite of results.suites) {
      expect(suite.measures.length).toBeGreaterThan(0);
      expect(suite.notes.length).toBeGreaterThan(0);
      expect(suite.durationMs).toBeGreaterThan(0);
    }
    expect(lines.some((l) => l.includes('Client overhead'))).toBe(true);
    expect(results.environment.redis.version).toMatch(/^\d+\.\d+/);
  });

  it('gives finite positive figures, a spread over every round, and per-round ratios', () => {
    const rounds = MODES.test.rounds;
    for (const m of results.suites.flatMap((s) => s.measures)) {
      expectPositiveSpread(m.subject.value, `${label(m)} (subject)`);
      if (m.baseline) {
        expectPositiveSpread(m.baseline.value, `${label(m)} (baseline)`);
        expect(m.ratio).toBeDefined();
        expectPositiveSpread(m.ratio as Spread, `${label(m)} (ratio)`);
        expect(m.ratio?.n).toBe(m.baseline.value.n);
      }
      // Sizes are measured once (memory suite, a backlog's Redis bytes); the rest every round.
      if (m.suite !== 'memory' && m.unit !== 'B')
        expect(m.subject.value.n).toBeGreaterThanOrEqual(Math.min(2, rounds));
    }
  });

  it('measures what issue 8 asks for, with its targets', () => {
    const all = results.suites.flatMap((s) => s.measures);
    const find = (suite: string, scenario: RegExp, metric: RegExp): Measure => {
      const m = all.find(
        (x) => x.suite === suite && scenario.test(x.scenario) && metric.test(x.metric),
      );
      if (!m) throw new Error(`no ${suite} row matching ${scenario} / ${metric}`);
      return m;
    };
    for (const c of [1, 64]) {
      for (const metric of [/requests\/s/, /p50/, /p99/]) {
        expect(find('client', new RegExp(`c=${c}$`), metric).ratio).toBeDefined();
      }
    }
    expect(find('client', /c=64$/, /requests\/s/).target?.text).toContain('0.95');
    for (const fw of ['Fastify', 'Express']) {
      for (const scenario of [
        'memory store, new key',
        'Redis store, new key',
        'memory store, replay',
        'Redis store, replay',
      ]) {
        expect(
          find('server', new RegExp(`^${fw}, ${scenario}`), /requests\/s/).ratio,
        ).toBeDefined();
      }
      const first = find(
        'server',
        new RegExp(`^${fw}, Redis store, first request`),
        /sent per request/,
      );
      const replay = find(
        'server',
        new RegExp(`^${fw}, Redis store, replay \\(`),
        /sent per request/,
      );
      // Whole commands per request: a Lua store makes integral round trips.
      expect(Number.isInteger(first.subject.value.median)).toBe(true);
      expect(Number.isInteger(replay.subject.value.median)).toBe(true);
    }
    expect(find('server', /^Fastify, memory store, new key/, /requests\/s/).target?.text).toContain(
      '0.9',
    );
    for (const c of [1, 32]) {
      for (const metric of [/^started/, /^completed/, /p50 lateness/, /p99 lateness/]) {
        const m = find('queue', new RegExp(`concurrency ${c}$`), metric);
        expect(m.baseline?.name).toBe('BullMQ');
      }
    }
    expect(find('queue', /concurrency 32$/, /^completed/).target?.text).toContain('1.5');
    expect(find('queue', /concurrency 1$/, /^completed/).target?.text).toContain('1');
    expect(find('client', /c=64$/, /p99/).target?.text).toContain('1.3');
    expect(find('server', /^Express, memory store, new key/, /requests\/s/).target?.text).toContain(
      '0.95',
    );
  });

  it('measures the floors, the peers and the scaling rows issue 13 asks for', () => {
    const all = results.suites.flatMap((s) => s.measures);
    const rows = (suite: string, scenario: RegExp, metric: RegExp): Measure[] =>
      all.filter((x) => x.suite === suite && scenario.test(x.scenario) && metric.test(x.metric));
    const find = (suite: string, scenario: RegExp, metric: RegExp): Measure => {
      const m = rows(suite, scenario, metric)[0];
      if (!m) throw new Error(`no ${suite} row matching ${scenario} / ${metric}`);
      return m;
    };
    for (const c of [1, 64]) {
      for (const peer of [/cockatiel/, /opossum/]) {
        const scenario = new RegExp(`^POST vs .*${peer.source}.*, c=${c}$`);
        const rps = find('client', scenario, /requests\/s/);
        expect(rps.target?.text).toBe('unfazed/peer > 1');
        expect(rps.baseline?.name).toMatch(peer);
        expect(find('client', scenario, /CPU per request/).ratio).toBeDefined();
      }
    }
    for (const fw of ['Fastify', 'Express']) {
      const floor = find(
        'server',
        new RegExp(`^${fw}, Redis store vs the Redis floor`),
        /requests/,
      );
      expect(floor.target?.text).toBe('middleware/floor ≥ 0.95');
      const peers =
        fw === 'Express'
          ? ['@node-idempotency/core', 'express-idempotency']
          : ['@node-idempotency/core'];
      for (const peer of peers) {
        const scenario = new RegExp(`^${fw}, Redis store vs ${peer},`);
        expect(find('server', scenario, /requests\/s/).target?.text).toBe('unfazed/peer > 1');
        expect(find('server', scenario, /CPU per request/).ratio).toBeDefined();
      }
    }
    for (const size of MODES.test.scale.backlogs) {
      const scenario = new RegExp(`^durable, ${size.toLocaleString('en-US')} operations scheduled`);
      expect(find('scale', scenario, /completed\/s/).baseline?.name).toBe('no backlog');
      expect(find('scale', scenario, /p99 lateness$/).ratio).toBeDefined();
      const bytes = find('scale', scenario, /used_memory per scheduled operation/);
      expect(bytes.subject.value.median).toBeGreaterThan(50);
    }
    expect(rows('scale', /cost growth/, /./).map((m) => m.target?.met)).toHaveLength(2);
    expect(find('memory', /after .* records vs after/, /bounded/).ratio).toBeDefined();
    expect(find('memory', /Redis store/, /MEMORY USAGE/).subject.value.median).toBeGreaterThan(
      1024,
    );
  });

  it('measures the saga rows: Unfazed sagas against DBOS Transact at 32 in flight', () => {
    const all = results.suites.flatMap((s) => s.measures).filter((m) => m.suite === 'saga');
    const find = (scenario: RegExp, metric: RegExp): Measure => {
      const m = all.find((x) => scenario.test(x.scenario) && metric.test(x.metric));
      if (!m) throw new Error(`no saga row matching ${scenario} / ${metric}`);
      return m;
    };
    const saga = results.suites.find((s) => s.name === 'saga');
    // The new suite's share of this test: what it may cost.
    expect(saga?.durationMs).toBeLessThan(60_000);
    for (const [scenario, dbos, redis] of [
      [/c=32, commit without waiting for fsync/, /synchronous_commit off$/, /everysec$/],
      [/c=32, fsync before each commit/, /synchronous_commit on$/, /always$/],
    ] as const) {
      const completed = find(scenario, /^completed\/s$/);
      expect(completed.baseline?.name).toMatch(/^DBOS, /);
      expect(completed.baseline?.name).toMatch(dbos);
      expect(completed.subject.name).toMatch(redis);
      expect(completed.target?.text).toBe('unfazed/DBOS ≥ 2');
      for (const metric of [/^p99 latency/, /^CPU per saga/, /^store round trips per saga/]) {
        expect(find(scenario, metric).ratio).toBeDefined();
      }
      // One write-ahead and one settle per step (the worker's polls may add a claim or two).
      expect(find(scenario, /^store script calls/).subject.value.min).toBeGreaterThanOrEqual(4);
      expect(find(scenario, /^Redis commands executed/).subject.value.median).toBeGreaterThan(4);
      // DBOS sends one statement at a time: its round trips per saga are whole statements.
      expect(find(scenario, /^store round trips/).baseline?.value.min).toBeGreaterThanOrEqual(3);
    }
    expect(saga?.notes.some((n) => n.includes('@dbos-inc/dbos-sdk'))).toBe(true);
  });

  it('measures each client feature of issue 16 off and on, one child process per variant round', () => {
    const all = results.suites.flatMap((s) => s.measures).filter((m) => m.suite === 'features');
    const find = (scenario: RegExp, metric: RegExp): Measure => {
      const m = all.find((x) => scenario.test(x.scenario) && metric.test(x.metric));
      if (!m) throw new Error(`no features row matching ${scenario} / ${metric}`);
      return m;
    };
    for (const c of MODES.test.features.concurrency) {
      for (const [feature, free] of [
        [/OTel API installed, no SDK registered vs off$/, true],
        [/OTel SDK registered .* vs off$/, false],
        [/shared circuit \+ shared retry budget .* vs off$/, true],
      ] as const) {
        const scenario = new RegExp(`^POST, c=${c}, ${feature.source}`);
        const rps = find(scenario, /^requests\/s$/);
        const cpu = find(scenario, /^CPU per request/);
        expect(rps.baseline?.name).toMatch(/^features off/);
        for (const metric of [/^p50 latency$/, /^p99 latency$/]) {
          expect(find(scenario, metric).ratio).toBeDefined();
        }
        // "none measurable" for the no-SDK and shared closed paths; the SDK is context.
        expect(rps.target?.text).toBe(free ? 'on/off ≥ 0.97' : undefined);
        expect(cpu.target?.text).toBe(free ? 'on/off ≤ 1.03' : undefined);
      }
      // The SDK variant really traced: at least one span per request reached the exporter.
      const spans = find(new RegExp(`^POST, c=${c}, OTel SDK`), /spans exported/);
      expect(spans.subject.value.median).toBeGreaterThanOrEqual(1);
      expect(find(new RegExp(`^POST, c=${c}, shared`), /Redis commands/).unit).toBe('commands');
    }
    const suite = results.suites.find((s) => s.name === 'features');
    expect(suite?.notes.some((n) => n.includes('fresh child process'))).toBe(true);
  });

  it('measures the ops console search (issue 15): first page per filter, with its target', () => {
    const all = results.suites.flatMap((s) => s.measures).filter((m) => m.suite === 'ops');
    const size = MODES.test.ops.deadOperations.toLocaleString('en-US');
    for (const filter of [
      'no filter',
      'type',
      'error code',
      'text in the input, common',
      'text matching nothing',
    ]) {
      const rows = all.filter(
        (m) =>
          m.scenario.startsWith(`first page (limit 50), ${size} dead operations (test mode`) &&
          m.scenario.includes(`, ${filter}`),
      );
      expect(rows.map((m) => m.metric)).toEqual(['p50 latency', 'p99 latency']);
      expect(rows[1]?.target?.text).toBe('first page < 200 ms');
      expect(rows[0]?.unit).toBe('ms');
    }
  });

  it('writes results.md and results.json to the given folder, not over bench/results.*', async () => {
    const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as BenchResults;
    expect(json).toEqual(JSON.parse(JSON.stringify(results)));
    const md = await readFile(join(out, 'results.md'), 'utf8');
    expect(md).toContain('| suite | scenario | metric |');
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(
      results.suites.flatMap((s) => s.measures).length + 1,
    );
    for (const file of ['results.md', 'results.json']) {
      expect(await mtimeOf(join(committed, file))).toBe(before[file]);
    }
  });
});
