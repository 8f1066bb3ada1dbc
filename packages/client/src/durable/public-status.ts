import type {
  OperationError,
  OperationState,
  OperationStatus,
  OperationStepStatus,
} from '@unfazed/contract';
import type { StartOutcome } from './durable.js';
import { giveUpFailure, type ResolvedType } from './run.js';
import { initialSteps } from './saga-definition.js';
import type { OperationFailure, OperationRecord, StepRecord } from './types.js';

/**
 * The public state: a saga undoing its steps is `compensating` (the store keeps it `pending` or
 * `running`, as any operation a worker has to pick up).
 */
function publicState(rec: OperationRecord): OperationState {
  if (rec.phase === 'compensate' && (rec.state === 'pending' || rec.state === 'running'))
    return 'compensating';
  return rec.state;
}

function errorOf(failure: OperationFailure, withOutcome: boolean): OperationError {
  return {
    code: failure.code,
    message: failure.message,
    ...(failure.status !== undefined ? { status: failure.status } : {}),
    ...(withOutcome ? { outcome: giveUpFailure(failure).outcome } : {}),
  };
}

function stepStatus(step: StepRecord): OperationStepStatus {
  return {
    name: step.name,
    state: step.state,
    attempts: step.attempts,
    ...(step.compensationAttempts !== undefined
      ? { compensationAttempts: step.compensationAttempts }
      : {}),
    ...(step.lastError ? { lastError: errorOf(step.lastError, false) } : {}),
  };
}

/**
 * The public, contract-shaped state of an operation record. A saga's `steps` come from its
 * journal, or (before its first step finished) from its type, when given.
 */
export function publicStatus(rec: OperationRecord, type?: ResolvedType): OperationStatus {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const state = publicState(rec);
  const gaveUp =
    rec.state === 'failed' ||
    rec.state === 'dead' ||
    rec.state === 'compensated' ||
    state === 'compensating';
  const steps = rec.saga?.steps ?? (type?.saga ? initialSteps(type.steps) : undefined);
  return {
    id: rec.id,
    type: rec.type,
    state,
    attempts: rec.attempts,
    createdAt: iso(rec.createdAt),
    updatedAt: iso(rec.updatedAt),
    deadline: iso(rec.deadline),
    ...(rec.state === 'pending' ? { nextAttemptAt: iso(rec.dueAt) } : {}),
    ...(rec.lastError ? { lastError: errorOf(rec.lastError, gaveUp) } : {}),
    ...(rec.response && (rec.state === 'completed' || rec.state === 'failed')
      ? { resultStatus: rec.response.status }
      : {}),
    ...(steps ? { steps: steps.map(stepStatus) } : {}),
    ...(rec.saga?.stuck === true && state === 'compensating' ? { stuck: true } : {}),
  };
}

/** @internal What `start` answers for a record in the state it has reached. */
export function startOutcomeOf(rec: OperationRecord, existing: boolean): StartOutcome {
  if (rec.state === 'completed') {
    return {
      status: 'completed',
      id: rec.id,
      response: rec.response ?? { status: 0, headers: {}, body: '' },
      ...(rec.saga ? { results: rec.saga.results } : {}),
      existing,
    };
  }
  if (rec.state === 'failed' || rec.state === 'dead' || rec.state === 'compensated') {
    return {
      status: 'failed',
      id: rec.id,
      state: rec.state,
      failure: giveUpFailure(rec.lastError),
      existing,
    };
  }
  if (publicState(rec) === 'compensating')
    return { status: 'accepted', id: rec.id, state: 'compensating', existing };
  return rec.state === 'pending'
    ? { status: 'accepted', id: rec.id, state: 'pending', nextAttemptAt: rec.dueAt, existing }
    : { status: 'accepted', id: rec.id, state: 'running', existing };
}
