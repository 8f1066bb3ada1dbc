import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import type { Summary } from '../src/summary.js';

const MAIN = join(__dirname, '..', 'src', 'main.ts');
const TSX = pathToFileURL(createRequire(MAIN).resolve('tsx')).href;
// Seed 5 loses the answer to the very first boarding-pass call, whatever the timing.
const SMALL = ['--seed', '5', '--passengers', '5', '--payments', '3', '--wait', '600'];
const SMALL_DEADLINE = ['--payment-deadline', '2500', '--timeout', '20000'];

interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the demo as `pnpm demo` does (tsx loader, source condition), env on top of ours. */
function runDemo(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@unfazed/source', '--import', TSX, MAIN, ...args],
      { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Fails with the demo's output when it did not exit with `code`. */
function expectExit(run: DemoRun, code: number): void {
  if (run.code !== code)
    throw new Error(`the demo exited ${run.code}, expected ${code}:\n${run.stdout}\n${run.stderr}`);
}

function summaryOf(run: DemoRun): Summary {
  try {
    return JSON.parse(run.stdout) as Summary;
  } catch {
    throw new Error(
      `the demo printed no JSON summary (exit ${run.code}):\n${run.stdout}\n${run.stderr}`,
    );
  }
}

function expectInvariants(s: Summary, passengers: number, payments: number): void {
  expect(s.invariants).toEqual({ ok: true, violations: [] });
  expect(s.passengers).toBe(passengers);
  expect(s.answered.ok200 + s.answered.accepted202).toBe(passengers);
  // One boarding pass per passenger although responses were lost and retried.
  expect(s.boardingPasses.sent).toBe(passengers);
  expect(s.boardingPasses.lostResponses).toBeGreaterThanOrEqual(1);
  expect(s.boardingPasses.duplicatesPrevented).toBeGreaterThanOrEqual(1);
  // Every payment completed or compensated; the seeded cards include a declined one.
  expect(s.payments.completed + s.payments.compensated).toBe(payments);
  expect(Object.values(s.payments.answered).reduce((a, b) => a + b, 0)).toBe(payments);
  expect(s.payments.compensated).toBeGreaterThanOrEqual(1);
  expect(s.retries.total).toBeGreaterThan(0);
}

describe('pnpm demo', () => {
  it('runs with the in-memory stores and every invariant holds', async () => {
    const run = await runDemo(['--json', ...SMALL, ...SMALL_DEADLINE], { REDIS_URL: '' });
    expectExit(run, 0);
    const s = summaryOf(run);
    expect(s.mode).toBe('memory');
    expectInvariants(s, 5, 3);
    // The story without Unfazed shows both pitfalls: errors reach the user, a retry sends twice.
    expect(s.withoutUnfazed).toEqual({ errorsShown: 2, boardingPasses: 2 });
    // With --json the timeline goes to stderr, plain (NO_COLOR, not a terminal).
    expect(run.stderr).toContain('without Unfazed');
    expect(run.stderr).toContain('There was an error while sending your boarding pass');
    expect(run.stderr).toContain('with Unfazed');
    expect(run.stderr).not.toContain('\x1b[');
  });

  it('fails, naming the broken invariant, when output management has no idempotency middleware', async () => {
    const run = await runDemo(
      ['--quiet', '--no-naive', '--without-idempotency', ...SMALL, '--payments', '0'],
      { REDIS_URL: '' },
    );
    expectExit(run, 1);
    expect(run.stdout).toContain('summary, from what the services recorded');
    expect(run.stdout).toMatch(/invariants\s+BROKEN/);
    expect(run.stdout).toMatch(/✗ duplicate boarding pass: P\d\d got 2/);
    expect(run.stdout).not.toContain('\x1b[');
  });

  it('rejects bad flags with a message naming them', async () => {
    const bad = await runDemo(['--passengers', 'many']);
    expectExit(bad, 2);
    expect(bad.stderr).toContain('--passengers must be an integer >= 1 (got "many")');
    const crash = await runDemo(['--crash'], { REDIS_URL: '' });
    expectExit(crash, 2);
    expect(crash.stderr).toContain('--crash needs REDIS_URL');
  });

  describe('with Redis', () => {
    let ctx: RedisTestContext;
    beforeAll(async () => {
      ctx = await redisTestContext('check-in-demo');
    });
    afterAll(async () => {
      await ctx.close();
    });

    it('uses Redis stores and worker processes, and leaves no key behind', async () => {
      const run = await runDemo(
        [
          '--json',
          '--quiet',
          '--no-naive',
          ...SMALL,
          ...SMALL_DEADLINE,
          '--redis-prefix',
          `${ctx.prefix}plain:`,
        ],
        { REDIS_URL: ctx.url },
      );
      expectExit(run, 0);
      const s = summaryOf(run);
      expect(s.mode).toBe('redis');
      expect(s.workers).toEqual({ started: 2, killed: 0, takeovers: 0 });
      expectInvariants(s, 5, 3);
      expect(await ctx.keys()).toEqual([]);
    });

    it('loses nothing when a worker process is SIGKILLed mid-way (--crash)', async () => {
      const run = await runDemo(
        [
          '--json',
          '--quiet',
          '--no-naive',
          '--crash',
          ...SMALL,
          ...SMALL_DEADLINE,
          '--redis-prefix',
          `${ctx.prefix}crash:`,
        ],
        { REDIS_URL: ctx.url },
      );
      expectExit(run, 0);
      const s = summaryOf(run);
      expect(s.workers).toMatchObject({ started: 3, killed: 1 });
      expect(s.workers.killedWorker).toMatch(/^worker-1 /);
      // It was killed holding an operation whose call had succeeded: another worker took it over.
      expect(s.workers.takeovers).toBeGreaterThanOrEqual(1);
      expectInvariants(s, 5, 3);
      expect(await ctx.keys()).toEqual([]);
    });
  });
});
