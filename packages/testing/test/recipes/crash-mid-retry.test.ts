// Recipe "crash mid-retry": the first attempt's answer is lost after the server charged, and
// the process crashes (SIGKILL) before retrying. The restarted process must retry with the
// same idempotency key so that the charge is applied exactly once across both processes.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import '@unfazed/testing/jest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLedger,
  faults,
  faultyServer,
  loadHistory,
  plans,
  runChild,
  type ChildRun,
  type FaultyServer,
  type Ledger,
} from '@unfazed/testing';

// ESM: name the child by a URL next to this file (runChild takes a URL or a path).
const client = new URL('./fixtures/crash-charge-client.ts', import.meta.url);

let dir: string;
let server: FaultyServer;
let ledger: Ledger;
const runs: ChildRun[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'unfazed-recipe-crash-'));
  ledger = createLedger();
  const charged = new Map<string, { id: string }>();
  server = await faultyServer({
    routes: {
      'POST /charges': {
        plan: plans.times(1, faults.lostResponse()),
        // The downstream deduplicates by key: a retry gets the stored result.
        handler: (req) => {
          let result = charged.get(req.key);
          if (!result) {
            ledger.record(req.key, req.json());
            result = { id: `ch_${charged.size + 1}` };
            charged.set(req.key, result);
          }
          return { status: 201, body: result };
        },
      },
    },
  });
});
afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.kill()));
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('recipe: crash mid-retry', () => {
  it('crash between a lost response and its retry; the restart retries with the same key', async () => {
    const keyFile = join(dir, 'key');
    const historyFile = join(dir, 'history.jsonl');

    const first = await runChild(client, {
      args: [server.url, keyFile, historyFile],
      kill: { atCheckpoint: 'before-retry' },
    });
    runs.push(first);
    const crash = await first.exited;
    expect(crash.signal).toBe('SIGKILL');
    expect(crash.killedAt).toBe('before-retry');

    const second = await first.restart(); // same module and args, no kill plan
    runs.push(second);
    const done = await second.exited;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('charged: status 201');

    const history = loadHistory(historyFile);
    expect(history).toHaveAppliedExactlyOnce(ledger);
    const [key] = history.keys();
    expect(
      server.attempts(key as string).map((r) => [r.attempt, r.label ?? 'pass', r.handled]),
    ).toEqual([
      [1, 'afterSend', true],
      [2, 'pass', true],
    ]);
    server.assertAllFaultsFired();
  });
});
