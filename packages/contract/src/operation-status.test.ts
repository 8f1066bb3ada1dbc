import { describe, expect, it } from '@jest/globals';
import {
  OPERATION_STATES,
  isOperationStatus,
  isTerminalOperationState,
} from './operation-status.js';

describe('operation status', () => {
  it('knows which states are terminal', () => {
    expect(OPERATION_STATES.filter(isTerminalOperationState)).toEqual([
      'completed',
      'failed',
      'dead',
      'compensated',
    ]);
  });

  it('recognises a status body and rejects look-alikes', () => {
    const status = {
      id: 'op.1',
      type: 'charge',
      state: 'pending',
      attempts: 0,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      deadline: '2026-01-02T00:00:00.000Z',
    };
    expect(isOperationStatus(status)).toBe(true);
    expect(isOperationStatus({ ...status, state: 'queued' })).toBe(false);
    expect(isOperationStatus({ ...status, attempts: '1' })).toBe(false);
    expect(isOperationStatus(null)).toBe(false);
  });
});
