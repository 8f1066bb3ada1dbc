import { describe, expect, it } from '@jest/globals';
import type { OperationStatus } from '@unfazed/contract';
import { operationStatusReply, outcomeReply } from './accepted.js';

const location = (id: string): string => `/operations/${id}`;

describe('outcomeReply', () => {
  it('answers 200 with the downstream body when the operation completed in time', () => {
    const reply = outcomeReply(
      {
        status: 'completed',
        id: 'op1',
        response: {
          status: 201,
          headers: { 'content-type': 'application/json' },
          body: '{"ok":true}',
        },
      },
      { location },
    );
    expect(reply).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":true}',
    });
  });

  it('answers 202 with Location and a Retry-After no earlier than the next attempt', () => {
    const reply = outcomeReply(
      { status: 'accepted', id: 'op2', state: 'pending', nextAttemptAt: 10_000 + 4_200 },
      { location, now: () => 10_000 },
    );
    expect(reply.status).toBe(202);
    expect(reply.headers).toMatchObject({ location: '/operations/op2', 'retry-after': '5' });
    expect(JSON.parse(reply.body)).toEqual({
      id: 'op2',
      state: 'pending',
      location: '/operations/op2',
    });
    const soon = outcomeReply(
      { status: 'accepted', id: 'op3', state: 'running' },
      { location, now: () => 0 },
    );
    expect(soon.headers['retry-after']).toBe('1');
  });

  it('answers a failure as 422 problem+json naming the operation, or as the caller maps it', () => {
    const failed = {
      status: 'failed',
      id: 'op4',
      state: 'dead',
      failure: { code: 'deadline', message: 'too late' },
    } as const;
    const reply = outcomeReply(failed, { location });
    expect(reply.status).toBe(422);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(reply.body)).toMatchObject({
      operationId: 'op4',
      state: 'dead',
      errorCode: 'deadline',
      detail: 'too late',
    });
    const mapped = outcomeReply(failed, {
      location,
      failed: (o) => ({ status: 409, body: { refused: o.id } }),
    });
    expect(mapped).toMatchObject({ status: 409, body: '{"refused":"op4"}' });
  });
});

describe('operationStatusReply', () => {
  const base: OperationStatus = {
    id: 'op5',
    type: 'charge',
    state: 'pending',
    attempts: 2,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:01.000Z',
    deadline: '2026-01-02T00:00:00.000Z',
    nextAttemptAt: new Date(3_000).toISOString(),
  };
  it('serves the status with a poll hint while pending, without one once finished, 404 when unknown', async () => {
    const states = new Map<string, OperationStatus>([
      ['op5', base],
      ['op6', { ...base, id: 'op6', state: 'completed', resultStatus: 200 }],
    ]);
    const source = { status: async (id: string) => states.get(id) };
    const pending = await operationStatusReply('op5', { source, now: () => 0 });
    expect(pending.status).toBe(200);
    expect(pending.headers['retry-after']).toBe('3');
    expect(JSON.parse(pending.body)).toEqual(base);
    const done = await operationStatusReply('op6', { source });
    expect(done.headers['retry-after']).toBeUndefined();
    const missing = await operationStatusReply('nope', { source });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ status: 404, title: 'Operation not found' });
  });
});
