import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isInvalidOptionError, type InvalidOptionError } from '@unfazed/contract';
import {
  checkExactlyOnce,
  createHistory,
  createLedger,
  faultInterceptor,
  faultProxy,
  faultyServer,
  faults,
  forwardTo,
  plans,
  redisTestContext,
  runChild,
  startRedisCluster,
  startRedisServer,
  type RedisTestContext,
} from '@unfazed/testing';

// Every public factory of the package checks its options with the shared validator of
// @unfazed/contract: an unknown key is an InvalidOptionError naming the factory, the option and
// the key it most likely meant — never a silent default.
async function rejection(make: () => unknown): Promise<InvalidOptionError> {
  let error: unknown;
  try {
    // Accepted after all (the test fails below): close what it started, so jest can exit.
    const made = (await make()) as { close?: () => Promise<void> } | undefined;
    await made?.close?.();
  } catch (e) {
    error = e;
  }
  expect(isInvalidOptionError(error)).toBe(true);
  return error as InvalidOptionError;
}

let ctx: RedisTestContext;
beforeAll(async () => {
  ctx = await redisTestContext('options');
});
afterAll(async () => {
  await ctx.close();
});

describe('faultyServer', () => {
  it('rejects a misspelt option: `rutes`', async () => {
    const error = await rejection(() => faultyServer({ rutes: {} } as never));
    expect(error.factory).toBe('faultyServer');
    expect(error.option).toBe('rutes');
    expect(error.message).toContain('did you mean "routes"?');
  });

  it("rejects a misspelt key of a route: a route's `hanlder`", async () => {
    const error = await rejection(() =>
      faultyServer({ routes: { 'POST /charges': { hanlder: () => ({ status: 201 }) } } } as never),
    );
    expect(error.option).toBe('routes.POST /charges.hanlder');
    expect(error.message).toContain('did you mean "handler"?');
  });

  it('rejects the same in the list form, and in use()', async () => {
    const listed = await rejection(() =>
      faultyServer({ routes: [{ match: '/x', plna: plans.none() }] } as never),
    );
    expect(listed.option).toBe('routes[0].plna');
    const server = await faultyServer();
    try {
      const used = await rejection(() =>
        server.use({ '/x': { handelr: () => undefined } } as never),
      );
      expect(used.factory).toBe('faultyServer.use');
      expect(used.message).toContain('did you mean "handler"?');
    } finally {
      await server.close();
    }
  });

  it('rejects a handler that is not a function, and a plan not built by plans.*()', async () => {
    expect((await rejection(() => faultyServer({ handler: 'ok' } as never))).option).toBe(
      'handler',
    );
    const plan = await rejection(() => faultyServer({ routes: { '/x': { plan: {} } } } as never));
    expect(plan.option).toBe('routes./x.plan');
  });
});

describe('every other factory rejects an unknown key with a hint', () => {
  const cases: [string, () => unknown, string, string][] = [
    ['faultInterceptor', () => faultInterceptor({ rotues: {} } as never), 'rotues', 'routes'],
    ['faultProxy', () => faultProxy({ upstream: ctx.url, seeed: 1 } as never), 'seeed', 'seed'],
    [
      'faultProxy',
      () => faultProxy({ upstream: ctx.url, toxics: [{ type: 'latency', latnecy: 5 }] } as never),
      'toxics[0].latnecy',
      'latency',
    ],
    ['runChild', () => runChild('x.js', { timeout: 5 } as never), 'timeout', 'timeoutMs'],
    [
      'runChild',
      () => runChild('x.js', { kill: { atCheckpoint: 'a', ocurrence: 2 } } as never),
      'kill.ocurrence',
      'occurrence',
    ],
    [
      'redisTestContext',
      () => redisTestContext('x', { redisURL: 'x' } as never),
      'redisURL',
      'redisUrl',
    ],
    ['startRedisServer', () => startRedisServer({ prot: 1 } as never), 'prot', 'port'],
    ['startRedisCluster', () => startRedisCluster({ master: 3 } as never), 'master', 'masters'],
    ['proxy', () => ctx.proxy({ toxic: [] } as never), 'toxic', 'toxics'],
    [
      'faults.status',
      () => faults.status(503, { retryAfter: 0 } as never),
      'retryAfter',
      'retryAfterMs',
    ],
    ['faults.delay', () => faults.delay(5, { lable: 'beforeSend' } as never), 'lable', 'label'],
    ['faults.slowBody', () => faults.slowBody({ chunksize: 1 } as never), 'chunksize', 'chunkSize'],
    [
      'faults.closeMidBody',
      () => faults.closeMidBody({ afterByte: 1 } as never),
      'afterByte',
      'afterBytes',
    ],
    ['plans.times', () => plans.times(1, faults.reset(), { pre: 'key' } as never), 'pre', 'per'],
    ['plans.rate', () => plans.rate(0.5, faults.reset(), { sed: 1 } as never), 'sed', 'seed'],
    ['createHistory', () => createHistory({ fiel: 'x' } as never), 'fiel', 'file'],
    ['createLedger', () => createLedger({ flie: 'x' } as never), 'flie', 'file'],
    [
      'checkExactlyOnce',
      () => checkExactlyOnce(createHistory(), createLedger(), { unknownMustAply: true } as never),
      'unknownMustAply',
      'unknownMustApply',
    ],
    [
      'forwardTo',
      () => forwardTo('http://127.0.0.1:1', { timeout: 5 } as never),
      'timeout',
      'timeoutMs',
    ],
  ];

  it.each(cases.map(([factory, make, option, meant]) => [factory, option, meant, make] as const))(
    '%s: %s (did you mean %s?)',
    async (factory, option, meant, make) => {
      const error = await rejection(make);
      expect({ factory: error.factory, option: error.option }).toEqual({ factory, option });
      expect(error.message).toContain(`did you mean "${meant}"?`);
    },
  );

  it('history.track() rejects an unknown key', async () => {
    const error = await rejection(() =>
      createHistory().track('k', async () => 1, { outcomes: () => 'ok' } as never),
    );
    expect(error.factory).toBe('history.track');
  });
});
