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

/** An asymmetric matcher: a number of at least `n`. */
function atLeast(n: number): unknown {
  return {
    asymmetricMatch: (v: unknown) => typeof v === 'number' && v >= n,
    toAsymmetricMatcher: () => `a number >= ${n}`,
  };
}

function expectInvariants(
  s: Summary,
  passengers: number,
  payments: number,
  { crash = false }: { crash?: boolean } = {},
): void {
  expect(s.invariants).toEqual({ ok: true, violations: [] });
  expect(s.passengers).toBe(passengers);
  expect(s.answered.ok200 + s.answered.accepted202).toBe(passengers);
  // One boarding pass per passenger although responses were lost and retried.
  expect(s.boardingPasses.sent).toBe(passengers);
  expect(s.boardingPasses.lostResponses).toBeGreaterThanOrEqual(1);
  expect(s.boardingPasses.duplicatesPrevented).toBeGreaterThanOrEqual(1);
  // Every payment completed or compensated; the seeded cards include a declined one and one
  // whose issuer is down (its charge is unknown at the deadline: voided, then the credit back).
  expect(s.payments.completed + s.payments.compensated).toBe(payments);
  expect(Object.values(s.payments.answered).reduce((a, b) => a + b, 0)).toBe(payments);
  expect(s.payments.compensated).toBeGreaterThanOrEqual(2);
  expect(s.payments.creditRestored).toBeGreaterThan(0);
  expect(s.retries.total).toBeGreaterThan(0);
  // What the saga events said, over every process: every step once. With --crash, at least
  // once: a step the killed worker had reported but not yet journaled runs again elsewhere (its
  // effect once, by its key) and is reported again.
  const exactly = (n: number): unknown => (crash ? atLeast(n) : n);
  expect(s.sagas.stepsCompleted).toEqual({
    'check-in': exactly(passengers * 2),
    payment: exactly(payments + s.payments.completed),
  });
  expect(s.sagas.stepsCompensated).toEqual({
    'payment/deduct-credit': exactly(s.payments.compensated),
    // The issuer-down card's charge, unknown at the deadline (a declined one is not undone).
    'payment/charge-card': atLeast(1),
  });
  expect(s.sagas.stuck).toBe(0);
}

/** Index of the first line matching each pattern, each after the previous one; fails naming it. */
function expectInOrder(timeline: string, patterns: readonly RegExp[]): void {
  const lines = timeline.split('\n');
  let at = -1;
  for (const pattern of patterns) {
    const next = lines.findIndex((line, i) => i > at && pattern.test(line));
    if (next < 0)
      throw new Error(`no line matching ${String(pattern)} after line ${at + 1} of:\n${timeline}`);
    at = next;
  }
}

/** The saga lines every run's timeline has (the workers' come over IPC, in their order). */
function expectSagaTimeline(timeline: string, s: Summary): void {
  // Check-in: barcode, then boarding pass, each step as it completes.
  expectInOrder(timeline, [
    /check-in P01: ✓ step 1\/2 generate-barcode/,
    /check-in P01: ✓ step 2\/2 send-boarding-pass( after \d+ attempts)? — saga completed/,
  ]);
  // Payment: credit first (a local step), then the card.
  expectInOrder(timeline, [
    /credit ledger\s+PAY-\d: took \d+ € of P\d\d's credit/,
    /payment PAY-\d: ✓ step 1\/2 deduct-credit/,
  ]);
  // The good card (on a loaded machine it may miss the deadline and be compensated too).
  if (s.payments.completed > 0)
    expect(timeline).toMatch(
      /payment PAY-\d: ✓ step 2\/2 charge-card( after \d+ attempts)? — saga completed/,
    );
  // The declined card: a final 402, nothing to void, the credit back.
  expectInOrder(timeline, [
    /payment (PAY-\d): gave up \(status 402; the last step did nothing\): compensating in reverse/,
    /credit ledger\s+PAY-\d: gave \d+ € back to P\d\d's credit/,
    /payment PAY-\d: ↺ deduct-credit compensated \(it had completed\)/,
    /payment PAY-\d: compensated \(status 402\)/,
  ]);
  // The card whose issuer is down: unknown at the deadline, undone in reverse.
  expectInOrder(timeline, [
    /payment PAY-\d: gave up \(deadline; the last step may have happened\): compensating in reverse/,
    /payment PAY-\d: ↺ charge-card compensated \(its outcome was unknown\)/,
    /credit ledger\s+PAY-\d: gave \d+ € back/,
    /payment PAY-\d: ↺ deduct-credit compensated \(it had completed\)/,
    /payment PAY-\d: compensated \(deadline\)/,
  ]);
  expect(timeline).toMatch(/card service\s+void of PAY-\d: /);
}

describe('pnpm demo', () => {
  it('runs with the in-memory stores and every invariant holds', async () => {
    const run = await runDemo(['--json', ...SMALL, ...SMALL_DEADLINE], { REDIS_URL: '' });
    expectExit(run, 0);
    const s = summaryOf(run);
    expect(s.mode).toBe('memory');
    expectInvariants(s, 5, 3);
    expectSagaTimeline(run.stderr, s);
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

  it('--ops: keeps the services running with the console on a printed URL until Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@unfazed/source',
        '--import',
        TSX,
        MAIN,
        '--ops',
        '--no-naive',
        ...SMALL,
        ...SMALL_DEADLINE,
      ],
      { env: { ...process.env, NO_COLOR: '1', REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      let url: string | undefined;
      for (let i = 0; i < 1200 && url === undefined && child.exitCode === null; i++) {
        url = /^ops console {2}(http:\/\/127\.0\.0\.1:\d+\/ops\/)$/m.exec(stdout)?.[1];
        if (url === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      if (url === undefined) throw new Error(`no console URL printed:\n${stdout}\n${stderr}`);
      expect(stdout).toMatch(/invariants\s+hold/);
      expect(stdout).toContain('authorize  allows every request from this machine (loopback)');
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read freely
      const get = async (path: string): Promise<{ status: number; json: any }> => {
        const res = await fetch(new URL(path, url));
        return { status: res.status, json: await res.json() };
      };
      // The payment queue: the demo's compensated payments (a declined card, an issuer down).
      const compensated = await get('api/operations?state=compensated');
      expect(compensated.status).toBe(200);
      expect(compensated.json.items.length).toBeGreaterThanOrEqual(2);
      for (const item of compensated.json.items)
        expect(item).toMatchObject({
          type: 'payment',
          state: 'compensated',
          input: { customerId: '[redacted]' },
        });
      const one = await get(`api/operations/${compensated.json.items[0].id}`);
      expect(one.json.saga.steps.map((s: { name: string }) => s.name)).toEqual([
        'deduct-credit',
        'charge-card',
      ]);
      const checkIn = await get('check-in/api/queues');
      expect(checkIn.json.queues).toEqual([expect.objectContaining({ type: 'check-in' })]);
      // The services are still up: the console acts on the live queue (and audits it as local).
      const paused = await fetch(new URL('check-in/api/types/check-in/pause', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-unfazed-ops': '1' },
        body: JSON.stringify({ reason: 'demo test' }),
      });
      expect(paused.status).toBe(200);
      const audit = await get('check-in/api/audit');
      expect(audit.json.items[0]).toMatchObject({ who: 'demo (local)', action: 'pause' });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stdout).toContain('demo: stopping the console, the services and the workers…');
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
  });

  it('rejects --ops-port without --ops', async () => {
    const run = await runDemo(['--ops-port', '8080']);
    expectExit(run, 2);
    expect(run.stderr).toContain('--ops-port needs --ops');
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
      expectSagaTimeline(run.stderr, s);
      // The workers ran saga steps too (the 202s), and said so over IPC.
      expect(run.stderr).toMatch(/worker-\d\s+(check-in|payment) \S+: ✓ step/);
      expect(await ctx.keys()).toEqual([]);
    });

    it('loses nothing when a worker process is SIGKILLed mid-way (--crash)', async () => {
      const run = await runDemo(
        [
          '--json',
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
      // It was killed holding a saga whose step call had succeeded: another worker took it over
      // and sent the step again with the same key, answered from the downstream's store.
      expect(s.workers.takeovers).toBeGreaterThanOrEqual(1);
      expectInvariants(s, 5, 3, { crash: true });
      expectSagaTimeline(run.stderr, s);
      expect(run.stderr).toMatch(/demo\s+killed worker-1 \(pid \d+, SIGKILL\)/);
      expect(await ctx.keys()).toEqual([]);
    });
  });
});
