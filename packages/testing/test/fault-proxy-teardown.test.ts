import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  faultProxy,
  redisTestContext,
  runChild,
  type ChildRun,
  type RedisTestContext,
} from '@unfazed/testing';

// A proxy torn down after its client ended the connection (Redis QUIT, HTTP Connection: close)
// used to leave a socket open for good: the process never exited. Each scenario runs in a
// child that must exit on its own; the bound only turns a hang into a failure.
const teardown = join(__dirname, 'fixtures', 'proxy-teardown.ts');

let ctx: RedisTestContext;
const runs: ChildRun[] = [];
beforeAll(async () => {
  ctx = await redisTestContext('fault-proxy-teardown');
});
afterAll(async () => {
  await ctx.close();
});
afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.kill()));
});

async function exitOf(scenario: string) {
  const run = await runChild(teardown, { args: [scenario, ctx.url], timeoutMs: 20_000 });
  runs.push(run);
  return run.exited;
}

describe('faultProxy teardown leaves nothing open', () => {
  it.each(['quit', 'disconnect', 'cut-after-quit', 'http-connection-close', 'harness'])(
    'the process exits on its own after %s and close()',
    async (scenario) => {
      const exit = await exitOf(scenario);
      expect({ code: exit.code, killedBy: exit.killedBy, stderr: exit.stderr }).toEqual({
        code: 0,
        killedBy: undefined,
        stderr: '',
      });
      expect(exit.stdout).toContain('connections 0');
    },
  );

  it('close() resolves once every socket has closed, after a QUIT', async () => {
    const proxy = await faultProxy({ upstream: ctx.url });
    const redis = new Redis(proxy.url('redis'));
    await redis.ping();
    await redis.quit();
    await proxy.close();
    expect(proxy.connections).toBe(0);
  });
});
