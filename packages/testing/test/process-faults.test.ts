import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidOptionError } from '@unfazed/contract';
import { checkpoint, isChildWaitError, runChild, type ChildRun } from '@unfazed/testing';

const fixtures = join(__dirname, 'fixtures');
const chargeSteps = join(fixtures, 'charge-steps.ts');
const ticker = join(fixtures, 'ticker.ts');

let dir: string;
let log: string;
const runs: ChildRun[] = [];
const track = (run: ChildRun): ChildRun => {
  runs.push(run);
  return run;
};
const steps = (): string[] => readFileSync(log, 'utf8').trim().split('\n');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'unfazed-process-'));
  log = join(dir, 'steps.log');
});
afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.kill()));
  rmSync(dir, { recursive: true, force: true });
});

describe('runChild', () => {
  it('kills the child at a named checkpoint: nothing after it runs', async () => {
    const run = track(
      await runChild(chargeSteps, { args: [log], kill: { atCheckpoint: 'after-charge' } }),
    );
    const exit = await run.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.killedBy).toBe('checkpoint');
    expect(exit.killedAt).toBe('after-charge');
    expect(exit.checkpoints.map((c) => c.name)).toEqual(['before-charge', 'after-charge']);
    expect(steps()).toEqual(['run 1 start', 'run 1 charged']);
    expect(exit.stdout).toBe('');
    expect(exit.summary).toContain('at checkpoint "after-charge"');
  });

  it('restarts the module, which then runs to the end', async () => {
    const first = track(
      await runChild(chargeSteps, { args: [log], kill: { atCheckpoint: 'before-charge' } }),
    );
    const second = track(await first.restart());
    const exit = await second.exited;
    expect(second.run).toBe(2);
    expect(exit.code).toBe(0);
    expect(exit.signal).toBeNull();
    expect(exit.killedBy).toBeUndefined();
    expect(exit.stdout).toBe('done\n');
    expect(steps()).toEqual(['run 1 start', 'run 2 start', 'run 2 charged', 'run 2 replied']);
  });

  it('kills at the n-th time a checkpoint is reached', async () => {
    const run = track(await runChild(ticker, { kill: { atCheckpoint: 'tick', occurrence: 3 } }));
    const exit = await run.exited;
    expect(exit.checkpoints.map((c) => `${c.name}#${c.occurrence}`).slice(1)).toEqual([
      'tick#1',
      'tick#2',
      'tick#3',
    ]);
    expect(exit.stdout).toBe('tick 1\ntick 2\n');
  });

  it('holds the child at a checkpoint until resume()', async () => {
    const run = track(await runChild(chargeSteps, { args: [log], holdAt: ['before-charge'] }));
    await run.waitForCheckpoint('before-charge');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(steps()).toEqual(['run 1 start']);
    expect(run.resume('before-charge')).toBe(true);
    const exit = await run.exited;
    expect(exit.code).toBe(0);
    expect(steps()).toEqual(['run 1 start', 'run 1 charged', 'run 1 replied']);
  });

  it('kills after a seeded random delay, the same delay for the same seed', async () => {
    const kill = { randomDelayMs: { min: 400, max: 900 }, seed: 1234 };
    const a = track(await runChild(ticker, { kill }));
    const b = track(await runChild(ticker, { kill }));
    expect(a.killDelayMs).toBe(b.killDelayMs);
    expect(a.killDelayMs).toBeGreaterThanOrEqual(400);
    expect(a.killDelayMs).toBeLessThanOrEqual(900);
    const exit = await a.exited;
    await b.exited;
    expect(exit.killedBy).toBe('delay');
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.seed).toBe(1234);
    expect(exit.summary).toContain('seed=1234');
    expect(exit.durationMs).toBeGreaterThanOrEqual(a.killDelayMs ?? 0);
  });

  it('collects output and the exit code of a child that crashes', async () => {
    const run = track(await runChild(ticker, { args: ['2'] }));
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    expect(exit.stdout).toBe('tick 1\ntick 2\n');
    expect(exit.stderr).toContain('crash at tick 2');
  });

  it('waitForOutput() resolves on matching output', async () => {
    const run = track(await runChild(ticker));
    await expect(run.waitForOutput(/tick 3/)).resolves.toContain('tick 3');
    const exit = await run.kill();
    expect(exit.killedBy).toBe('manual');
  });

  it('kill() can escalate from SIGTERM to SIGKILL', async () => {
    const run = track(await runChild(join(fixtures, 'stubborn.ts')));
    await run.waitForOutput('ready');
    void run.kill('SIGTERM');
    await run.waitForOutput('ignoring SIGTERM');
    const exit = await run.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.killedBy).toBe('manual');
  });

  it('waitForCheckpoint() rejects when the child exits before reaching it', async () => {
    const run = track(await runChild(chargeSteps, { args: [log] }));
    const error = await run.waitForCheckpoint('never').catch((e: unknown) => e);
    expect(isChildWaitError(error)).toBe(true);
    expect((error as Error).message).toContain('before-charge → after-charge');
  });

  it('kills a child that outlives timeoutMs', async () => {
    const run = track(await runChild(ticker, { timeoutMs: 500 }));
    const exit = await run.exited;
    expect(exit.killedBy).toBe('timeout');
    expect(exit.signal).toBe('SIGKILL');
  });

  it('rejects a bad kill plan with a clear error', async () => {
    const error = await runChild(ticker, { kill: { randomDelayMs: { min: 10, max: 5 } } }).catch(
      (e: unknown) => e,
    );
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as Error).message).toContain('kill.randomDelayMs');
  });

  it('checkpoint() is a no-op outside runChild()', async () => {
    await expect(checkpoint('anything')).resolves.toBeUndefined();
  });
});

describe('delays counted from a checkpoint', () => {
  it('starts the kill delay when the child reaches `after`', async () => {
    const run = track(await runChild(ticker, { kill: { afterMs: 150, after: 'started' } }));
    const exit = await run.exited;
    const started = exit.checkpoints.find((c) => c.name === 'started');
    expect(exit.killedBy).toBe('delay');
    expect(started).toBeDefined();
    expect(exit.durationMs - (started?.atMs ?? 0)).toBeGreaterThanOrEqual(150);
    expect(exit.stdout).toContain('tick 1');
    expect(exit.summary).toContain('150 ms after checkpoint "started"');
  });
});
