import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalidOptionError } from '@unfazed/contract';
import { assertExactlyOnce } from './assert-exactly-once.js';
import { checkExactlyOnce, type ViolationKind } from './check-exactly-once.js';
import { isExactlyOnceViolationError } from './errors.js';
import { createHistory, loadHistory } from './history.js';
import { createLedger, loadLedger } from './ledger.js';
import { registerMatchers, type ExactlyOnceMatchers } from './matchers.js';

registerMatchers(expect);
declare module 'expect' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars
  interface Matchers<R extends void | Promise<void>, T = unknown> extends ExactlyOnceMatchers<R> {}
}

const kinds = (report: ReturnType<typeof checkExactlyOnce>): ViolationKind[] =>
  report.violations.map((v) => v.kind);

describe('checkExactlyOnce: histories that break the rules', () => {
  it('catches an effect applied twice (a retry after a lost response, no dedupe)', () => {
    const history = createHistory();
    const ledger = createLedger();
    const first = history.invoke('k1', { label: 'POST /charges' });
    ledger.record('k1', { amount: 42 });
    first.unknown('ECONNRESET: socket hang up');
    const retry = history.invoke('k1', { label: 'POST /charges' });
    ledger.record('k1', { amount: 42 });
    retry.ok('status 201');

    const report = checkExactlyOnce(history, ledger);
    expect(report.ok).toBe(false);
    expect(kinds(report)).toEqual(['duplicate-effect']);
    expect(report.violations[0]?.key).toBe('k1');
    expect(report.message).toContain('key "k1" applied 2 times; expected once');
    const timeline = report.timeline('k1').split('\n');
    expect(timeline[0]).toBe('  timeline of key "k1":');
    expect(timeline.slice(1).map((line) => line.trim().split(/\s+/)[2])).toEqual([
      'invoke',
      'EFFECT',
      'unknown',
      'invoke',
      'EFFECT',
      'ok',
    ]);
    expect(report.message).toContain('{"amount":42}');
    expect(report.message).toContain('ECONNRESET: socket hang up');
  });

  it('catches an ok answer whose effect was never applied', () => {
    const history = createHistory();
    history.invoke('k2').ok('status 200');
    const report = checkExactlyOnce(history, createLedger());
    expect(kinds(report)).toEqual(['lost-effect']);
  });

  it('catches an effect for a key that was never invoked, and one without a key', () => {
    const history = createHistory();
    history.invoke('k3').ok();
    const ledger = createLedger();
    ledger.record('k3');
    ledger.record('stranger');
    ledger.record(undefined, 'no header');
    const report = checkExactlyOnce(history, ledger);
    expect(kinds(report)).toEqual(['phantom-effect', 'phantom-effect']);
    expect(report.violations.map((v) => v.key)).toEqual(['stranger', '']);
    expect(report.message).toContain('without a valid idempotency key');
  });

  it('catches a failed operation that applied anyway', () => {
    const history = createHistory();
    const ledger = createLedger();
    const call = history.invoke('k4');
    ledger.record('k4');
    call.failed('status 400');
    expect(kinds(checkExactlyOnce(history, ledger))).toEqual(['failed-but-applied']);
  });

  it('catches an effect recorded before the operation was invoked', () => {
    const history = createHistory();
    const ledger = createLedger();
    ledger.record('k5');
    history.invoke('k5').ok();
    expect(kinds(checkExactlyOnce(history, ledger))).toEqual(['effect-before-invoke']);
    expect(checkExactlyOnce(history, ledger, { clockToleranceMs: 1_000 }).ok).toBe(true);
  });

  it('with unknownMustApply, catches an unknown outcome that never applied', () => {
    const history = createHistory();
    history.invoke('k6').unknown('timeout');
    const ledger = createLedger();
    expect(checkExactlyOnce(history, ledger).ok).toBe(true);
    expect(kinds(checkExactlyOnce(history, ledger, { unknownMustApply: true }))).toEqual([
      'unknown-not-applied',
    ]);
  });

  it('counts an invocation that never ended as unknown: two effects still fail', () => {
    const history = createHistory();
    const ledger = createLedger();
    history.invoke('k7');
    ledger.record('k7');
    expect(checkExactlyOnce(history, ledger).ok).toBe(true);
    ledger.record('k7');
    const report = checkExactlyOnce(history, ledger);
    expect(kinds(report)).toEqual(['duplicate-effect']);
    expect(report.message).toContain('(never ended)');
    expect(history.pending()).toHaveLength(1);
  });
});

describe('checkExactlyOnce: histories that keep the rules', () => {
  it('passes a lost response retried against a server that deduplicates', () => {
    const history = createHistory();
    const ledger = createLedger();
    const first = history.invoke('k1');
    ledger.record('k1');
    first.unknown('ECONNRESET');
    history.invoke('k1').ok('status 201 (replayed)');
    const report = checkExactlyOnce(history, ledger);
    expect(report.ok).toBe(true);
    expect(report.summary).toBe('exactly-once holds for 1 key');
  });

  it('passes a call that was refused, then retried and applied once', () => {
    const history = createHistory();
    const ledger = createLedger();
    history.invoke('k2').failed('ECONNREFUSED');
    const retry = history.invoke('k2');
    ledger.record('k2');
    retry.ok();
    expect(checkExactlyOnce(history, ledger, { unknownMustApply: true }).ok).toBe(true);
  });

  it('passes unknown outcomes that applied once or not at all, and failures that never applied', () => {
    const history = createHistory();
    const ledger = createLedger();
    const a = history.invoke('a');
    ledger.record('a');
    a.unknown();
    history.invoke('b').unknown();
    history.invoke('c').failed('status 422');
    const report = checkExactlyOnce(history, ledger);
    expect(report.ok).toBe(true);
    expect(report.checkedKeys).toBe(3);
  });

  it('matches header values as sent (quoted sf-string) with raw keys', () => {
    const history = createHistory();
    const ledger = createLedger();
    const call = history.invoke('019a-key');
    expect(ledger.record('"019a-key"', 'charge')).toBe(1);
    call.ok();
    expect(ledger.count('019a-key')).toBe(1);
    expect(checkExactlyOnce(history, ledger).ok).toBe(true);
  });
});

describe('History', () => {
  it('track() records outcomes from statuses and errors, and returns or rethrows', async () => {
    const history = createHistory();
    await expect(history.track('s201', async () => ({ status: 201 }))).resolves.toEqual({
      status: 201,
    });
    await history.track('s422', async () => ({ statusCode: 422 }));
    await history.track('s503', async () => ({ status: 503 }));
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    await expect(history.track('refused', () => Promise.reject(refused))).rejects.toBe(refused);
    await expect(history.track('reset', () => Promise.reject(reset))).rejects.toBe(reset);
    await history.track('custom', async () => 'x', { outcome: () => 'unknown', label: 'GET /x' });
    const outcomes = Object.fromEntries(
      history
        .events()
        .filter((e) => e.type !== 'invoke')
        .map((e) => [e.key, e.type]),
    );
    expect(outcomes).toEqual({
      s201: 'ok',
      s422: 'failed',
      s503: 'unknown',
      refused: 'failed',
      reset: 'unknown',
      custom: 'unknown',
    });
    expect(history.events().find((e) => e.key === 'reset' && e.type === 'unknown')?.detail).toBe(
      'ECONNRESET: socket hang up',
    );
  });

  it('refuses a second outcome for one invocation and an empty key', () => {
    const history = createHistory();
    const call = history.invoke('k');
    call.ok();
    expect(() => call.failed()).toThrow(/already ended/);
    expect(() => history.invoke('')).toThrow(expect.objectContaining({ option: 'key' }));
    try {
      history.invoke('');
    } catch (error) {
      expect(isInvalidOptionError(error)).toBe(true);
    }
  });
});

describe('file-backed history and ledger', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'unfazed-exactly-once-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips through files and ignores a line cut short by a crash', () => {
    const historyFile = join(dir, 'history.jsonl');
    const ledgerFile = join(dir, 'ledger.jsonl');
    const history = createHistory({ file: historyFile });
    const ledger = createLedger({ file: ledgerFile });
    const call = history.invoke('f1', { label: 'POST /charges' });
    ledger.record('f1', { amount: 1 });
    call.ok();
    history.invoke('f2');
    appendFileSync(historyFile, '{"type":"ok","key":"f2","op');

    const loaded = loadHistory(historyFile);
    const loadedLedger = loadLedger(ledgerFile);
    expect(loaded.events().map((e) => `${e.key}:${e.type}`)).toEqual([
      'f1:invoke',
      'f1:ok',
      'f2:invoke',
    ]);
    expect(loadedLedger.effects('f1')[0]?.effect).toEqual({ amount: 1 });
    expect(checkExactlyOnce(loaded, loadedLedger, { unknownMustApply: true }).violations).toEqual([
      expect.objectContaining({ kind: 'unknown-not-applied', key: 'f2' }),
    ]);
  });
});

describe('assertExactlyOnce and the jest matcher', () => {
  const violating = (): [ReturnType<typeof createHistory>, ReturnType<typeof createLedger>] => {
    const history = createHistory();
    const ledger = createLedger();
    history.invoke('dup').ok();
    ledger.record('dup', 'first');
    ledger.record('dup', 'second');
    return [history, ledger];
  };

  it('assertExactlyOnce throws a typed error carrying the violations', () => {
    const [history, ledger] = violating();
    let caught: unknown;
    try {
      assertExactlyOnce(history, ledger);
    } catch (error) {
      caught = error;
    }
    expect(isExactlyOnceViolationError(caught)).toBe(true);
    expect((caught as { violations: unknown[] }).violations).toHaveLength(1);
    expect((caught as Error).message).toContain('timeline of key "dup"');
  });

  it('toHaveAppliedExactlyOnce fails with the offending timeline, and passes when it holds', () => {
    const [history, ledger] = violating();
    expect(() => expect(history).toHaveAppliedExactlyOnce(ledger)).toThrow(
      /duplicate-effect[\s\S]*timeline of key "dup"[\s\S]*EFFECT\s+first[\s\S]*EFFECT\s+second/,
    );
    expect(history).not.toHaveAppliedExactlyOnce(ledger);

    const good = createHistory();
    const goodLedger = createLedger();
    const call = good.invoke('one');
    goodLedger.record('one');
    call.ok();
    expect(good).toHaveAppliedExactlyOnce(goodLedger);
    expect(() => expect(good).not.toHaveAppliedExactlyOnce(goodLedger)).toThrow(
      /expected a violation of exactly-once, but exactly-once holds for 1 key/,
    );
  });

  it('rejects something that is not a History or a Ledger', () => {
    expect(() => expect({}).toHaveAppliedExactlyOnce(createLedger())).toThrow(/History/);
    expect(() =>
      expect(createHistory()).toHaveAppliedExactlyOnce({} as ReturnType<typeof createLedger>),
    ).toThrow(/Ledger/);
  });
});
