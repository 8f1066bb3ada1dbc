import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { isInvalidOptionError, type InvalidOptionError } from '@unfazed/contract';
import { outcomeReply, operationStatusReply } from './accepted.js';
import { operationStatusRoute } from './express-operation-status.js';
import { operationStatusRoutes } from './fastify-operation-status.js';

async function rejection(run: () => unknown): Promise<InvalidOptionError> {
  try {
    await run();
  } catch (error) {
    if (isInvalidOptionError(error)) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

const accepted = { status: 'accepted', id: 'op-1', state: 'pending' } as const;
const source = { status: () => Promise.resolve(undefined) };
const location = (id: string) => `/operations/${id}`;

describe('options of the 202 helpers', () => {
  it.each<[unknown, string, RegExp]>([
    [undefined, 'options', /must be an object/],
    [{}, 'location', /a function \(id\) => URL string .*required/],
    [{ location: '/operations' }, 'location', /must be a function/],
    [{ location, minRetryAfter: -1 }, 'minRetryAfter', />= 0/],
    [{ location, minRetryAfterMs: 5 }, 'minRetryAfterMs', /did you mean "minRetryAfter"/],
    [{ location, complete: () => ({ body: 1 }) }, 'complete', /did you mean "completed"/],
  ])('outcomeReply rejects %p naming %s', async (options, option, rule) => {
    const error = await rejection(() => outcomeReply(accepted, options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^outcomeReply: Invalid option/);
    expect(error.message).toMatch(rule);
  });

  it('checks an options object once and then answers with it', () => {
    const options = { location, minRetryAfter: 2_000 };
    expect(outcomeReply(accepted, options).status).toBe(202);
    expect(outcomeReply(accepted, options).headers['retry-after']).toBe('2');
  });

  it('checks an object that passed one helper again when it is given to another', async () => {
    const options = { location };
    expect(outcomeReply(accepted, options).status).toBe(202);
    const error = await rejection(() => operationStatusReply('x', options as never));
    expect(error.message).toMatch(/^operationStatusReply: Invalid option "location"/);
  });

  it.each<[unknown, string, RegExp]>([
    [{}, 'source', /status\(id\)/],
    [{ source: {} }, 'source', /status\(id\)/],
    [{ source, pollAfter: Number.NaN }, 'pollAfter', /finite/],
    [{ source, parm: 'opId' }, 'parm', /did you mean "param"/],
    [{ source, param: '' }, 'param', /non-empty/],
  ])('operationStatusRoute rejects %p naming %s', async (options, option, rule) => {
    const error = await rejection(() => operationStatusRoute(options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^operationStatusRoute: Invalid option/);
    expect(error.message).toMatch(rule);
  });

  it('operationStatusReply rejects a source without status()', async () => {
    const error = await rejection(() => operationStatusReply('x', { source: {} } as never));
    expect(error.option).toBe('source');
  });

  it('operationStatusRoutes rejects register() with bad options and accepts a prefix', async () => {
    const bad = Fastify();
    const error = await rejection(async () => {
      await bad.register(operationStatusRoutes, { source, pth: '/ops/:id' } as never);
      await bad.ready();
    });
    expect(error.option).toBe('pth');
    expect(error.rule).toMatch(/did you mean "path"/);
    await bad.close();

    const good = Fastify();
    await good.register(operationStatusRoutes, { source, prefix: '/v1' });
    const res = await good.inject({ method: 'GET', url: '/v1/operations/nope' });
    expect(res.statusCode).toBe(404);
    await good.close();
  });
});
