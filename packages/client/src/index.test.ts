import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as client from './index.js';
import * as durable from './durable/index.js';

describe('public API', () => {
  it('@unfazed/client exports exactly the call API', () => {
    expect(Object.keys(client).sort()).toEqual(
      [
        'createClient',
        'DEFAULTS',
        'UnfazedResponse',
        'CircuitOpenError',
        'isCircuitOpenError',
        'AttemptTimeoutError',
        'isAttemptTimeoutError',
        'TotalTimeoutError',
        'isTotalTimeoutError',
        'RetriesExhaustedError',
        'isRetriesExhaustedError',
        'AbortedError',
        'isAbortedError',
        'RetryAfterBeyondDeadlineError',
        'isRetryAfterBeyondDeadlineError',
        'ClientClosedError',
        'isClientClosedError',
        'RetryBudgetExhaustedError',
        'isRetryBudgetExhaustedError',
        'sharedCircuit',
        'sharedRetryBudget',
      ].sort(),
    );
  });

  it('@unfazed/client/durable exports exactly the durable queue', () => {
    expect(Object.keys(durable).sort()).toEqual(
      [
        'createDurable',
        'publicStatus',
        'DurableEvents',
        'memoryDurableStore',
        'redisDurableStore',
        'DurableStoreUnavailableError',
        'isDurableStoreUnavailableError',
        'DurabilityNotConfirmedError',
        'isDurabilityNotConfirmedError',
        'DurableKeyConflictError',
        'isDurableKeyConflictError',
        'InvalidOperationInputError',
        'SagaStepFailedError',
        'isInvalidOperationInputError',
      ].sort(),
    );
  });

  it('the root entry point loads no module of the durable queue', () => {
    // The modules `index.ts` loads at run time: relative imports that are not `import type`.
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const [, specifier] of source.matchAll(
        /^(?:import|export) (?!type )[^;]*? from '(\.{1,2}\/[^']+)\.js';/gms,
      )) {
        visit(path.resolve(path.dirname(file), `${specifier ?? ''}.ts`));
      }
    };
    visit(path.join(__dirname, 'index.ts'));
    expect(seen.size).toBeGreaterThan(5);
    const durableDir = path.join(__dirname, 'durable') + path.sep;
    expect([...seen].filter((file) => file.startsWith(durableDir))).toEqual([]);
  });
});
