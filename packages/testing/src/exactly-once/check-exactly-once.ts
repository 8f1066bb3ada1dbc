import { option, validateOptions, type ShapeFor } from '@unfazed/contract';
import type { History, HistoryEvent, OperationOutcome } from './history.js';
import type { Ledger, LedgerEntry } from './ledger.js';

/**
 * The rules {@link checkExactlyOnce} enforces, per idempotency key:
 * - `duplicate-effect`: more than one effect recorded for the key;
 * - `lost-effect`: an invocation ended `ok` but no effect was recorded;
 * - `phantom-effect`: an effect for a key that was never invoked (or carried no valid key);
 * - `effect-before-invoke`: an effect recorded before the key's first invocation;
 * - `failed-but-applied`: every invocation of the key ended `failed`, yet an effect exists;
 * - `unknown-not-applied`: only with `unknownMustApply` — no invocation ended `ok`, some ended
 *   `unknown` (or never ended), and no effect exists.
 * `unknown` and unfinished invocations may have applied: zero or one effect is fine for them.
 */
export type ViolationKind =
  | 'duplicate-effect'
  | 'lost-effect'
  | 'phantom-effect'
  | 'effect-before-invoke'
  | 'failed-but-applied'
  | 'unknown-not-applied';

/** One broken rule for one key. */
export interface Violation {
  /** Which rule. */
  readonly kind: ViolationKind;
  /** The idempotency key (`''` for effects recorded without a valid key). */
  readonly key: string;
  /** One sentence: what happened and what was expected. */
  readonly message: string;
  /** The key's invocations, outcomes and effects in time order, one per line. */
  readonly timeline: string;
}

/** Options of {@link checkExactlyOnce}. */
export interface CheckExactlyOnceOptions {
  /**
   * Require that operations whose outcome is `unknown` (or that never ended) applied exactly
   * once too — for tests that let retries and recovery finish before checking. Default false:
   * at most once.
   */
  unknownMustApply?: boolean;
  /** How far an effect may precede its first invocation before it counts (clock skew between processes). Default 0 ms. */
  clockToleranceMs?: number;
}

const checkOptions = option.object({
  unknownMustApply: option.boolean().optional(),
  clockToleranceMs: option.number({ min: 0 }).optional(),
} satisfies ShapeFor<CheckExactlyOnceOptions>);

/** What {@link checkExactlyOnce} found. */
export interface ExactlyOnceReport {
  /** True when no rule was broken. */
  readonly ok: boolean;
  /** The broken rules, grouped by key. */
  readonly violations: readonly Violation[];
  /** How many keys were checked (invoked or with effects). */
  readonly checkedKeys: number;
  /** One line: keys checked and violations by kind. */
  readonly summary: string;
  /** The summary followed by the timelines of (up to 10) offending keys. */
  readonly message: string;
  /** The timeline of any key. */
  timeline(key: string): string;
}

interface InvocationView {
  op: string;
  invokedAt: number;
  outcome: OperationOutcome | 'pending';
}

/**
 * Checks that every operation in `history` had its side effect applied as the rules of
 * {@link ViolationKind} say, against the effects in `ledger`. Never throws on a violation;
 * see `assertExactlyOnce` or the jest matcher `toHaveAppliedExactlyOnce` for that.
 *
 * @example
 * const report = checkExactlyOnce(history, ledger);
 * if (!report.ok) console.log(report.message);
 */
export function checkExactlyOnce(
  history: History,
  ledger: Ledger,
  options: CheckExactlyOnceOptions = {},
): ExactlyOnceReport {
  validateOptions(checkOptions, options, { name: 'checkExactlyOnce' });
  const tolerance = options.clockToleranceMs ?? 0;
  const events = history.events();
  const byKey = new Map<string, HistoryEvent[]>();
  for (const event of events) {
    const list = byKey.get(event.key) ?? [];
    list.push(event);
    byKey.set(event.key, list);
  }
  const keys = new Set<string>([...byKey.keys(), ...ledger.keys()]);
  const violations: Violation[] = [];
  const timeline = (key: string): string =>
    formatTimeline(key, byKey.get(key) ?? [], ledger.effects(key));

  for (const key of keys) {
    const keyEvents = byKey.get(key) ?? [];
    const effects = ledger.effects(key);
    const invocations = viewInvocations(keyEvents);
    const add = (kind: ViolationKind, message: string): void => {
      violations.push({ kind, key, message, timeline: timeline(key) });
    };
    const outcomes = invocations.map((i) => i.outcome);
    const n = effects.length;

    if (invocations.length === 0) {
      add(
        'phantom-effect',
        key === ''
          ? `${plural(n, 'effect')} recorded without a valid idempotency key`
          : `${plural(n, 'effect')} recorded for key "${key}", which was never invoked`,
      );
      continue;
    }
    if (n > 1) add('duplicate-effect', `key "${key}" applied ${n} times; expected once`);
    if (outcomes.includes('ok') && n === 0) {
      add('lost-effect', `key "${key}" was answered ok but its effect was never applied`);
    }
    if (n > 0 && outcomes.every((o) => o === 'failed')) {
      add(
        'failed-but-applied',
        `key "${key}" applied although every invocation (${invocations.length}) reported failed`,
      );
    }
    const firstInvoke = Math.min(...invocations.map((i) => i.invokedAt));
    const firstEffect = effects[0];
    if (firstEffect && firstEffect.at < firstInvoke - tolerance) {
      add(
        'effect-before-invoke',
        `key "${key}" applied ${(firstInvoke - firstEffect.at).toFixed(1)} ms before it was first invoked`,
      );
    }
    if (
      options.unknownMustApply &&
      n === 0 &&
      !outcomes.includes('ok') &&
      outcomes.some((o) => o === 'unknown' || o === 'pending')
    ) {
      add(
        'unknown-not-applied',
        `key "${key}" ended unknown and was never applied (unknownMustApply)`,
      );
    }
  }

  const counts = new Map<ViolationKind, number>();
  for (const v of violations) counts.set(v.kind, (counts.get(v.kind) ?? 0) + 1);
  const summary =
    violations.length === 0
      ? `exactly-once holds for ${plural(keys.size, 'key')}`
      : `exactly-once violated: ${[...counts].map(([kind, count]) => `${kind} ×${count}`).join(', ')} ` +
        `(${plural(keys.size, 'key')} checked)`;
  const offending = [...new Set(violations.map((v) => v.key))];
  const message = [
    summary,
    ...offending.slice(0, 10).map((key) => {
      const reasons = violations
        .filter((v) => v.key === key)
        .map((v) => `  ${v.kind}: ${v.message}`);
      return [...reasons, timeline(key)].join('\n');
    }),
    ...(offending.length > 10 ? [`… and ${offending.length - 10} more keys`] : []),
  ].join('\n\n');
  return {
    ok: violations.length === 0,
    violations,
    checkedKeys: keys.size,
    summary,
    message,
    timeline,
  };
}

function viewInvocations(events: readonly HistoryEvent[]): InvocationView[] {
  const views = new Map<string, InvocationView>();
  for (const event of events) {
    let view = views.get(event.op);
    if (!view) {
      view = { op: event.op, invokedAt: event.at, outcome: 'pending' };
      views.set(event.op, view);
    }
    if (event.type !== 'invoke') view.outcome = event.type;
  }
  return [...views.values()];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The key's history as lines like `  +12.4 ms  unknown  op 4242.3  ECONNRESET: socket hang up`,
 * times relative to the key's first event.
 */
function formatTimeline(
  key: string,
  events: readonly HistoryEvent[],
  effects: readonly LedgerEntry[],
): string {
  type Line = { at: number; what: string; op: string; text: string };
  const lines: Line[] = [
    ...events.map((e) => ({
      at: e.at,
      what: e.type,
      op: `op ${e.op}`,
      text: [e.label, e.detail].filter((x) => x !== undefined).join(' '),
    })),
    ...effects.map((e) => ({ at: e.at, what: 'EFFECT', op: '', text: preview(e.effect) })),
  ].sort((a, b) => a.at - b.at);
  const start = lines[0]?.at ?? 0;
  const open = new Set(events.map((e) => e.op));
  for (const e of events) if (e.type !== 'invoke') open.delete(e.op);
  const body = lines.map((l) =>
    `    ${`+${(l.at - start).toFixed(1)} ms`.padStart(12)}  ${l.what.padEnd(7)}  ${l.op.padEnd(14)}  ${l.text}`.trimEnd(),
  );
  const tail = [...open].map(
    (op) => `    ${''.padStart(12)}  ${'(never ended)'.padEnd(7)}  op ${op}`,
  );
  return [`  timeline of key "${key}":`, ...body, ...tail].join('\n');
}

function preview(effect: unknown): string {
  if (effect === null || effect === undefined) return '';
  let text: string;
  try {
    text = typeof effect === 'string' ? effect : (JSON.stringify(effect) ?? String(effect));
  } catch {
    text = String(effect);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
