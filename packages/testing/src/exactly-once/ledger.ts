import { appendFileSync, readFileSync } from 'node:fs';
import { option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { normalizeKey, preciseNow } from './clock.js';

/** One side effect in a {@link Ledger}. */
export interface LedgerEntry {
  /** The idempotency key it was applied for; `''` when the request carried no valid key. */
  readonly key: string;
  /** Whatever the test wants to see again in a failure message (e.g. the request body). */
  readonly effect: unknown;
  /** Epoch milliseconds (sub-millisecond precision). */
  readonly at: number;
}

/** Options of {@link createLedger}. */
export interface LedgerOptions {
  /**
   * Also append every entry to this file (JSON lines, written synchronously), for a server
   * that runs in a child process and may be killed; read it back with {@link loadLedger}.
   */
  file?: string;
}

/**
 * The side effects a downstream really applied, keyed by idempotency key: call `record()`
 * where the effect happens (after the charge is written, in a test HTTP server's handler).
 */
export interface Ledger {
  /**
   * Records one applied side effect. `key` may be the raw key or the `Idempotency-Key` header
   * value as received (`req.headers['idempotency-key']`; a quoted sf-string is unquoted).
   * Returns how many effects the key has now.
   */
  record(key: string | readonly string[] | undefined | null, effect?: unknown): number;
  /** The effects recorded for `key`, or all of them, in time order. */
  effects(key?: string): readonly LedgerEntry[];
  /** How many effects `key` has. */
  count(key: string): number;
  /** The keys with at least one effect. */
  keys(): string[];
  /** Forgets every entry (not the file). */
  clear(): void;
}

const kLedger = Symbol.for('unfazed.testing.ledger');

const ledgerOptions = option.object({
  file: option.string({ nonEmpty: true }).optional(),
} satisfies ShapeFor<LedgerOptions>);

/** Creates an empty {@link Ledger}. */
export function createLedger(options: LedgerOptions = {}): Ledger {
  validateOptions(ledgerOptions, options, { name: 'createLedger' });
  return makeLedger([], options.file);
}

/** Reads ledgers written with `createLedger({ file })` and merges them in time order. */
export function loadLedger(...files: string[]): Ledger {
  const entries: LedgerEntry[] = [];
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as LedgerEntry);
      } catch {
        // cut short by a SIGKILL
      }
    }
  }
  entries.sort((a, b) => a.at - b.at);
  return makeLedger(entries, undefined);
}

/** True for a value made by {@link createLedger} or {@link loadLedger} (any copy of this package). */
export function isLedger(value: unknown): value is Ledger {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[kLedger] === true
  );
}

function makeLedger(initial: LedgerEntry[], file: string | undefined): Ledger {
  let entries = initial;
  const ledger: Ledger = {
    record(rawKey, effect) {
      const entry: LedgerEntry = {
        key: normalizeKey(rawKey) ?? '',
        effect: effect ?? null,
        at: preciseNow(),
      };
      entries.push(entry);
      if (file !== undefined) appendFileSync(file, `${JSON.stringify(entry)}\n`);
      return ledger.count(entry.key);
    },
    effects: (key) => (key === undefined ? [...entries] : entries.filter((e) => e.key === key)),
    count: (key) => entries.reduce((n, e) => (e.key === key ? n + 1 : n), 0),
    keys: () => [...new Set(entries.map((e) => e.key))],
    clear: () => {
      entries = [];
    },
  };
  Object.defineProperty(ledger, kLedger, { value: true });
  return ledger;
}
