import { describe, it, expect, afterEach } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runChild, type ChildRun } from '@unfazed/testing';
import { redisCommand } from '../src/redis/resp.js';

const owner = join(__dirname, 'fixtures', 'forgetful-redis-owner.ts');
const runs: ChildRun[] = [];

afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.kill()));
});

async function answers(port: number): Promise<boolean> {
  try {
    return (await redisCommand({ host: '127.0.0.1', port }, ['PING'], 300)) === 'PONG';
  } catch {
    return false;
  }
}

/** Polls until no port answers; the SIGKILL lands a moment after the owner exits. */
async function expectAllGone(ports: number[]): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const alive = await Promise.all(ports.map(answers));
    if (!alive.includes(true)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server still answering on some of ${ports.join(', ')}`);
}

/** Polls until `dir` is gone: the watchdog removes it a moment after the server dies. */
async function expectRemoved(dir: string): Promise<void> {
  for (let i = 0; i < 100 && existsSync(dir); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(existsSync(dir)).toBe(false);
}

async function start(
  what: 'server' | 'cluster',
  how: string,
): Promise<{ run: ChildRun; ports: number[]; dir: string }> {
  const run = await runChild(owner, { args: [what, how] });
  runs.push(run);
  const output = await run.waitForOutput(/\{"ports".*\}/, { timeoutMs: 20_000 });
  const { ports, dir } = JSON.parse(/\{"ports".*\}/.exec(output)?.[0] ?? '{}') as {
    ports: number[];
    dir: string;
  };
  expect(ports.length).toBeGreaterThan(0);
  expect(existsSync(dir)).toBe(true);
  return { run, ports, dir };
}

describe('spawned redis-servers do not outlive their owner', () => {
  it('are killed when the owner ends on its own without closing them', async () => {
    const { run, ports, dir } = await start('server', 'natural');
    expect((await run.exited).code).toBe(0);
    await expectAllGone(ports);
    await expectRemoved(dir);
  });

  it('are killed when the owner calls process.exit()', async () => {
    const { run, ports, dir } = await start('server', 'exit');
    expect((await run.exited).code).toBe(0);
    await expectAllGone(ports);
    await expectRemoved(dir);
  });

  it('are killed when the owner gets SIGTERM, and the owner still dies of it', async () => {
    const { run, ports, dir } = await start('server', 'wait');
    expect(await answers(ports[0] ?? 0)).toBe(true);
    const exit = await run.kill('SIGTERM');
    expect(exit.signal).toBe('SIGTERM');
    await expectAllGone(ports);
    await expectRemoved(dir);
  });

  it('kills every node of a forgotten cluster', async () => {
    const { run, ports, dir } = await start('cluster', 'natural');
    expect(ports).toHaveLength(3);
    expect((await run.exited).code).toBe(0);
    await expectAllGone(ports);
    await expectRemoved(dir);
  }, 60_000);

  it('are killed, and their temporary directories removed, when the owner is SIGKILLed', async () => {
    for (const what of ['server', 'cluster'] as const) {
      const { run, ports, dir } = await start(what, 'wait');
      expect((await run.kill('SIGKILL')).signal).toBe('SIGKILL');
      await expectAllGone(ports);
      await expectRemoved(dir);
    }
  }, 60_000);
});

/** Gone, or a zombie nobody reaps (PID 1 in a container may not). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

describe('when the owner is SIGKILLed (no exit handler can run)', () => {
  it('its redis-servers and runChild() children still end', async () => {
    const run = await runChild(join(__dirname, 'fixtures', 'grandparent.ts'));
    runs.push(run);
    const output = await run.waitForOutput(/\{"grandchild".*\}/, { timeoutMs: 20_000 });
    const { grandchild, port, dir } = JSON.parse(
      /\{"grandchild".*\}/.exec(output)?.[0] ?? '{}',
    ) as { grandchild: number; port: number; dir: string };
    expect(existsSync(dir)).toBe(true);
    expect(processGone(grandchild)).toBe(false);
    expect(await answers(port)).toBe(true);
    expect((await run.kill('SIGKILL')).signal).toBe('SIGKILL');
    await expectAllGone([port]);
    await expectRemoved(dir);
    for (let i = 0; i < 50 && !processGone(grandchild); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(processGone(grandchild)).toBe(true);
  });
});
