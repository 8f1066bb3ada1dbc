import type { OperationStatus } from '@unfazed/contract';
import type { StartOutcome } from './durable.js';
import { giveUpFailure } from './run.js';
import type { OperationRecord } from './types.js';

/** The public, contract-shaped state of an operation record. */
export function publicStatus(rec: OperationRecord): OperationStatus {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    id: rec.id,
    type: rec.type,
    state: rec.state,
    attempts: rec.attempts,
    createdAt: iso(rec.createdAt),
    updatedAt: iso(rec.updatedAt),
    deadline: iso(rec.deadline),
    ...(rec.state === 'pending' ? { nextAttemptAt: iso(rec.dueAt) } : {}),
    ...(rec.lastError
      ? {
          lastError: {
            code: rec.lastError.code,
            message: rec.lastError.message,
            ...(rec.lastError.status !== undefined ? { status: rec.lastError.status } : {}),
            ...(rec.state === 'failed' || rec.state === 'dead'
              ? { outcome: giveUpFailure(rec.lastError).outcome }
              : {}),
          },
        }
      : {}),
    ...(rec.response && (rec.state === 'completed' || rec.state === 'failed')
      ? { resultStatus: rec.response.status }
      : {}),
  };
}

/** @internal What `start` answers for a record in the state it has reached. */
export function startOutcomeOf(rec: OperationRecord, existing: boolean): StartOutcome {
  if (rec.state === 'completed') {
    return {
      status: 'completed',
      id: rec.id,
      response: rec.response ?? { status: 0, headers: {}, body: '' },
      existing,
    };
  }
  if (rec.state === 'failed' || rec.state === 'dead') {
    return {
      status: 'failed',
      id: rec.id,
      state: rec.state,
      failure: giveUpFailure(rec.lastError),
      existing,
    };
  }
  return rec.state === 'pending'
    ? { status: 'accepted', id: rec.id, state: 'pending', nextAttemptAt: rec.dueAt, existing }
    : { status: 'accepted', id: rec.id, state: 'running', existing };
}
