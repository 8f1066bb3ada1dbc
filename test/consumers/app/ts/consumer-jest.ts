// A TypeScript jest test as packages/testing/README.md writes it: the setup entry point's
// matcher types reach `expect` from @jest/globals.
import { expect, it } from '@jest/globals';
import '@unfazed/testing/jest';
import { createHistory, createLedger } from '@unfazed/testing';

it('applies each key exactly once', async () => {
  const ledger = createLedger();
  const history = createHistory();
  await history.track('k1', async () => {
    ledger.record('k1', { amount: 1 });
    return { status: 201 };
  });
  expect(history).toHaveAppliedExactlyOnce(ledger);
});
