import { describe, it, expect } from '@jest/globals';
import {
  OPERATION_STATES,
  TERMINAL_OPERATION_STATES,
  isTerminalOperationState,
  isOperationStatus,
} from './operation-status.js';

const status = {
  id: '0190f1d8-3b7a-7cc1-9f00-123456789abc',
  type: 'charge-card',
  state: 'pending',
  attempts: 2,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:05.000Z',
  deadline: '2026-01-02T00:00:00.000Z',
};

describe('operation status', () => {
  it('splits the states into live and terminal ones', () => {
    expect(OPERATION_STATES).toEqual(['pending', 'running', 'completed', 'failed', 'dead']);
    expect(OPERATION_STATES.filter(isTerminalOperationState)).toEqual([
      'completed',
      'failed',
      'dead',
    ]);
    expect(TERMINAL_OPERATION_STATES.size).toBe(3);
  });

  it('recognises a status body', () => {
    expect(isOperationStatus(status)).toBe(true);
    expect(isOperationStatus(JSON.parse(JSON.stringify({ ...status, state: 'dead' })))).toBe(true);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'pending'],
    ['an unknown state', { ...status, state: 'paused' }],
    ['a numeric id', { ...status, id: 1 }],
    ['a missing type', { ...status, type: undefined }],
    ['attempts as text', { ...status, attempts: '2' }],
  ])('rejects %s', (_label, value) => {
    expect(isOperationStatus(value)).toBe(false);
  });
});
