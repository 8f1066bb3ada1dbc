import { InvalidOptionError, option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { FaultsNotFiredError } from './errors.js';
import { describeFault, isFault, type Fault, type FaultLabel } from './fault.js';
import { hashString, seededRandom, type SeededRandom } from './prng.js';
import { defaultSeed, parseSeed, replayHint } from './seed.js';

/** Which injector asked the plan. */
export type FaultTransport = 'server' | 'interceptor' | 'proxy';

/** What an injector tells a plan about one call (an HTTP request or a TCP connection). */
export interface FaultCallInfo {
  readonly transport: FaultTransport;
  /**
   * What attempts are counted by: the `Idempotency-Key` header when the request has one,
   * else `METHOD /path` (HTTP) or the proxy's upstream address (TCP).
   */
  readonly key: string;
  /** 1-based attempt number of this call among the calls with the same key. */
  readonly attempt: number;
  /** The route pattern that chose this plan, when the injector has routes. */
  readonly route?: string;
  readonly method?: string;
  /** Path without the query string. */
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
}

/** A call as a plan sees it: the injector's info plus the plan's own 0-based call index. */
export interface FaultCall extends FaultCallInfo {
  /** 0-based index of this call among all calls that reached this plan. */
  readonly index: number;
}

/** One call that reached a plan, faulted or not: the per-attempt history. */
export interface AttemptRecord extends FaultCall {
  /** The injected fault, or `undefined` when the call passed. */
  readonly fault: Fault | undefined;
  /** Epoch ms when the plan decided. */
  readonly at: number;
}

/** One injected fault, as logged. */
export interface FaultEvent extends AttemptRecord {
  readonly fault: Fault;
  readonly label: FaultLabel;
  /** 1-based number of the event within its plan. */
  readonly seq: number;
  /** Seed of the plan that chose the fault, for seeded plans. */
  readonly seed: number | undefined;
}

/** A step of a {@link plans.sequence}: a fault, or `'pass'` to let the call through. */
export type SequenceStep = Fault | 'pass';

/** Options of {@link plans.sequence}. */
export interface SequenceOptions {
  /** After the last step: `'pass'` (default), `'repeat'` the steps, or keep injecting a fault. */
  then?: 'pass' | 'repeat' | Fault;
  /** `'call'` (default): one sequence for all calls; `'key'`: a fresh sequence per attempt key. */
  per?: 'call' | 'key';
}

/** Options of {@link plans.rate}. */
export interface RateOptions {
  /** Seed of the generator; default `UNFAZED_SEED` or one random seed per test file (logged). */
  seed?: number;
  /** Stop injecting after this many faults. */
  maxFaults?: number;
}

type Decide = (call: FaultCall, random: SeededRandom | undefined) => Fault | undefined;

interface PlanInternals {
  readonly description: string;
  readonly decide: Decide;
  readonly random?: SeededRandom;
  readonly pending?: () => Fault[];
  readonly possible?: readonly Fault[];
}

/**
 * Which fault happens on which call. One plan value runs in every injector: `faultyServer`,
 * `faultInterceptor` and `faultProxy`. A plan keeps its own log: the injected faults
 * (`events`), every call (`history`) and the faults still planned (`pendingFaults()`).
 * Build plans with {@link plans}.
 */
export class FaultPlan {
  /** What the plan does, e.g. `times(2, status 503 (beforeSend))`. */
  readonly description: string;
  /** The seed of a seeded plan (`rate`, seeded `when`), else `undefined`. */
  readonly seed: number | undefined;
  readonly #decide: Decide;
  readonly #random: SeededRandom | undefined;
  readonly #pending: (() => Fault[]) | undefined;
  readonly #possible: readonly Fault[] | undefined;
  readonly #history: AttemptRecord[] = [];
  readonly #events: FaultEvent[] = [];

  /** @internal Use {@link plans} to build plans. */
  constructor(internals: PlanInternals) {
    this.description = internals.description;
    this.#decide = internals.decide;
    this.#random = internals.random;
    this.seed = internals.random?.seed;
    this.#pending = internals.pending;
    this.#possible = internals.possible;
  }

  /**
   * Decides the fault for one call and logs it. Injectors call this once per call; tests
   * normally do not.
   */
  next(info: FaultCallInfo): Fault | undefined {
    const call: FaultCall = { ...info, index: this.#history.length };
    const fault = this.#decide(call, this.#random);
    const record: AttemptRecord = { ...call, fault, at: Date.now() };
    this.#history.push(record);
    if (fault !== undefined) {
      this.#events.push({
        ...record,
        fault,
        label: fault.label,
        seq: this.#events.length + 1,
        seed: this.seed,
      });
    }
    return fault;
  }

  /** Every injected fault, in order. */
  get events(): readonly FaultEvent[] {
    return this.#events;
  }

  /** Every call that reached this plan, faulted or passed, in order. */
  get history(): readonly AttemptRecord[] {
    return this.#history;
  }

  /** Number of calls that reached this plan. */
  get calls(): number {
    return this.#history.length;
  }

  /** The attempts of one key, in order. */
  attempts(key: string): readonly AttemptRecord[] {
    return this.#history.filter((record) => record.key === key);
  }

  /** Faults the plan still means to inject (sequence steps not reached yet). Rates and predicates plan none. */
  pendingFaults(): Fault[] {
    return this.#pending?.() ?? [];
  }

  /** Every fault this plan can inject, when it is known up front (not for predicates). */
  possibleFaults(): readonly Fault[] | undefined {
    return this.#possible;
  }

  /** Throws {@link FaultsNotFiredError} listing the planned faults that no call consumed. */
  assertAllFaultsFired(): void {
    const pending = this.pendingFaults();
    if (pending.length === 0) return;
    throw new FaultsNotFiredError(
      `${pending.length} planned fault(s) did not fire in ${this.description} after ${this.calls} call(s): ` +
        `${pending.map(describeFault).join(', ')}\n${this.formatEvents()}\n${this.replayHint()}`,
      pending,
    );
  }

  /** The one-line replay hint, e.g. `replay with seed=42 (UNFAZED_SEED=42 npx jest <file> -t <name>, ...)`. */
  replayHint(): string {
    return replayHint(this.seed === undefined ? [] : [this.seed]);
  }

  /** The event log, one line per injected fault, for failure messages. */
  formatEvents(): string {
    return formatEvents(this.#events, this.description);
  }

  /** Same as {@link FaultPlan.description}. */
  toString(): string {
    return this.description;
  }
}

/** One fault event on one line: `#1 server POST /charges key=k attempt 1: status 503 (beforeSend)`. */
export function formatEvent(event: FaultEvent): string {
  const where = event.method ? `${event.method} ${event.path ?? ''}` : (event.route ?? '');
  return `#${event.seq} ${event.transport} ${where} key=${event.key} attempt ${event.attempt}: ${describeFault(event.fault)}`;
}

/** Formats fault events one per line under a title, for failure messages. */
export function formatEvents(events: readonly FaultEvent[], title = 'faults'): string {
  if (events.length === 0) return `${title}: no fault injected`;
  return `${title}:\n${events.map((event) => `  ${formatEvent(event)}`).join('\n')}`;
}

function checkFault(option: string, value: unknown): Fault {
  if (!isFault(value)) {
    throw new InvalidOptionError(option, 'must be a fault built with faults.*()', value);
  }
  return value;
}

function seedFor(seed: number | undefined, description: string): SeededRandom {
  const base = seed === undefined ? defaultSeed() : parseSeed(seed);
  const random = seededRandom((base ^ hashString(description)) >>> 0);
  // Keep the public seed the replayable one, not the mixed one.
  return { ...random, seed: base };
}

function stepName(step: SequenceStep): string {
  return step === 'pass' ? 'pass' : describeFault(step);
}

// Shapes only (unknown keys, types); each value's own rule is checked where it is used.
const anyValue = option.instance<unknown>('a value', () => true);
const perRule = option.oneOf(['call', 'key']).optional();
const sequenceOptions = option.object({
  then: anyValue.optional(),
  per: perRule,
} satisfies ShapeFor<SequenceOptions>);
const timesOptions = option.object({ per: perRule } satisfies ShapeFor<
  Omit<SequenceOptions, 'then'>
>);
const rateOptions = option.object({
  seed: option.number().optional(),
  maxFaults: option.instance<number>('a number', (v) => typeof v === 'number').optional(),
} satisfies ShapeFor<RateOptions>);

/**
 * Builders of {@link FaultPlan}s.
 *
 * @example
 * plans.times(2, faults.status(503))                        // 503 twice, then pass
 * plans.sequence([faults.reset(), 'pass', faults.lostResponse()])
 * plans.rate(0.3, [faults.status(503), faults.reset()], { seed: 42 })
 * plans.when((call) => call.attempt === 1 ? faults.lostResponse() : undefined)
 */
export const plans = {
  /** Runs the steps in order, one per call, then `then` (default: pass every call). */
  sequence(steps: readonly SequenceStep[], options: SequenceOptions = {}): FaultPlan {
    validateOptions(sequenceOptions, options, { name: 'plans.sequence' });
    if (!Array.isArray(steps)) throw new InvalidOptionError('steps', 'must be an array', steps);
    const checked = steps.map((step, i) =>
      step === 'pass' ? step : checkFault(`steps[${i}]`, step),
    );
    const then = options.then ?? 'pass';
    if (then !== 'pass' && then !== 'repeat') checkFault('then', then);
    const per = options.per ?? 'call';
    if (per !== 'call' && per !== 'key') {
      throw new InvalidOptionError('per', "must be 'call' or 'key'", per);
    }
    const cursors = new Map<string, number>();
    const cursorKey = (call: FaultCall): string => (per === 'key' ? call.key : '');
    const stepAt = (n: number): SequenceStep => {
      if (n < checked.length) return checked[n] as SequenceStep;
      if (then === 'repeat' && checked.length > 0)
        return checked[n % checked.length] as SequenceStep;
      return then === 'repeat' ? 'pass' : then;
    };
    const remaining = (n: number): Fault[] =>
      checked.slice(n).filter((step): step is Fault => step !== 'pass');
    const thenText = typeof then === 'string' ? then : describeFault(then);
    return new FaultPlan({
      description: `sequence[${checked.map(stepName).join(', ')}] then ${thenText}${per === 'key' ? ' per key' : ''}`,
      decide: (call) => {
        const k = cursorKey(call);
        const n = cursors.get(k) ?? 0;
        cursors.set(k, n + 1);
        const step = stepAt(n);
        return step === 'pass' ? undefined : step;
      },
      pending: () => {
        if (per === 'call') return remaining(cursors.get('') ?? 0);
        if (cursors.size === 0) return remaining(0);
        return [...cursors.values()].flatMap(remaining);
      },
      possible: [
        ...checked.filter((step): step is Fault => step !== 'pass'),
        ...(typeof then === 'string' ? [] : [then]),
      ],
    });
  },

  /** `fault` on the first `n` calls, then pass: "503 twice, then pass". */
  times(n: number, fault: Fault, options: Omit<SequenceOptions, 'then'> = {}): FaultPlan {
    validateOptions(timesOptions, options, { name: 'plans.times' });
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new InvalidOptionError('n', 'must be an integer >= 0', n);
    }
    return plans.sequence(
      Array.from({ length: n }, () => checkFault('fault', fault)),
      options,
    );
  },

  /** `fault` on every call. */
  always(fault: Fault): FaultPlan {
    const checked = checkFault('fault', fault);
    return new FaultPlan({
      description: `always ${describeFault(checked)}`,
      decide: () => checked,
      possible: [checked],
    });
  },

  /** No fault: every call passes (still logs the history). */
  none(): FaultPlan {
    return new FaultPlan({ description: 'none', decide: () => undefined, possible: [] });
  },

  /**
   * Each call faults with probability `probability`, the fault picked uniformly from `fault`
   * (one or several), from a seeded generator: the same seed gives the same faults on the
   * same sequence of calls.
   */
  rate(probability: number, fault: Fault | readonly Fault[], options: RateOptions = {}): FaultPlan {
    validateOptions(rateOptions, options, { name: 'plans.rate' });
    if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
      throw new InvalidOptionError('probability', 'must be a number from 0 to 1', probability);
    }
    const list = (Array.isArray(fault) ? fault : [fault]).map((f: unknown, i) =>
      checkFault(`fault[${i}]`, f),
    );
    if (list.length === 0) throw new InvalidOptionError('fault', 'must not be empty', fault);
    const max = options.maxFaults ?? Infinity;
    if (max !== Infinity && (!Number.isSafeInteger(max) || max < 0)) {
      throw new InvalidOptionError('maxFaults', 'must be an integer >= 0', max);
    }
    const description = `rate(${probability}, ${list.map(describeFault).join(' | ')})`;
    const random = seedFor(options.seed, description);
    let injected = 0;
    return new FaultPlan({
      description,
      random,
      decide: (_call, rnd) => {
        const r = rnd as SeededRandom;
        // Draw both numbers on every call so that later decisions do not depend on maxFaults.
        const hit = r.chance(probability);
        const picked = r.pick(list);
        if (!hit || injected >= max) return undefined;
        injected++;
        return picked;
      },
      possible: list,
    });
  },

  /**
   * The predicate decides per call: return a fault, or `undefined` / `'pass'` to pass. It also
   * gets a seeded generator (seed from `options.seed`, `UNFAZED_SEED` or per file).
   */
  when(
    predicate: (call: FaultCall, random: SeededRandom) => Fault | 'pass' | undefined | null,
    options: { seed?: number; description?: string } = {},
  ): FaultPlan {
    if (typeof predicate !== 'function') {
      throw new InvalidOptionError('predicate', 'must be a function', predicate);
    }
    const description = options.description ?? 'when(predicate)';
    const random = seedFor(options.seed, description);
    return new FaultPlan({
      description,
      random,
      decide: (call, rnd) => {
        const result = predicate(call, rnd as SeededRandom);
        if (result === undefined || result === null || result === 'pass') return undefined;
        return checkFault('predicate result', result);
      },
    });
  },
} as const;
