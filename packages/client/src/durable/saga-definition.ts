import { option, type ShapeFor } from '@unfazed/contract';
import { resolveBackoff, type DurableBackoffOptions, type ResolvedBackoff } from './backoff.js';
import type { DurableRequest } from './client-port.js';
import { backoffRule } from './options.js';
import type { StepRecord } from './types.js';

/** What every step function of a saga receives. */
export interface SagaStepContext {
  /** The saga's id (also what `status(id)` and the dead-letter view take). */
  readonly id: string;
  /** The step's name. */
  readonly step: string;
  /**
   * The step's idempotency key: `<saga id>:<step name>`, the same on every attempt, worker and
   * restart, different for every step. A request step sends it as its `Idempotency-Key`; a local
   * step must make its effect idempotent by it (it runs at least once).
   */
  readonly stepKey: string;
  /** Results of the steps completed so far, by step name. */
  readonly results: Readonly<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Attempts of this step before this one. */
  readonly attempts: number;
  /**
   * Aborted when this worker loses its lease or stops: a long local step should give up then (the
   * step runs again elsewhere).
   */
  readonly signal: AbortSignal;
}

/** What a compensation receives. */
export interface SagaCompensationContext extends SagaStepContext {
  /**
   * `completed`: the step finished and its result is in `results`; `unknown`: the saga gave up
   * while the step ran (a timeout, an in-flight `409`, a lost response, a 5xx, a local step that
   * threw): its effect may or may not have happened, and the compensation must cope with both.
   */
  readonly outcome: 'completed' | 'unknown';
  /** The compensation's own idempotency key (`<stepKey>:compensate`), sent by a request compensation. */
  readonly compensationKey: string;
}

/**
 * A compensation: a local function, or a request (sent with `compensationKey`; `attemptTimeout`
 * of one attempt, default the step's).
 */
export type SagaCompensation<I> =
  | ((input: I, ctx: SagaCompensationContext) => unknown)
  | {
      readonly request: (input: I, ctx: SagaCompensationContext) => DurableRequest;
      readonly attemptTimeout?: number;
    };

/** Retry settings a step may override (else the saga's). */
export interface SagaStepRetry {
  /** Give up the saga after this many attempts of this step. */
  readonly maxAttempts?: number;
  /** Timeout of one attempt of a request step, ms. */
  readonly attemptTimeout?: number;
  /** Backoff between this step's attempts. */
  readonly backoff?: DurableBackoffOptions;
}

/** A local step: runs `run` in the worker (at least once: make it idempotent by `ctx.stepKey`). */
export interface SagaLocalStep<I> extends SagaStepRetry {
  readonly name: string;
  /**
   * Its return value (JSON) is journaled as `results[name]`. Throwing retries it with the backoff;
   * throwing {@link SagaStepFailedError} gives the saga up at once with this step `failed` (its
   * effect did not happen, it is not compensated).
   */
  readonly run: (input: I, ctx: SagaStepContext) => unknown;
  readonly compensate?: SagaCompensation<I>;
}

/** A request step: one call through the durable client, with `Idempotency-Key: ctx.stepKey`. */
export interface SagaRequestStep<I> extends SagaStepRetry {
  readonly name: string;
  /** Builds the request; runs again on every attempt, so it must be deterministic. */
  readonly request: (input: I, ctx: SagaStepContext) => DurableRequest;
  readonly compensate?: SagaCompensation<I>;
}

/** A durable timer: the saga waits (persisted, surviving restarts) before its next step. */
export type SagaSleepStep<I> =
  | { readonly name: string; readonly sleep: number }
  | {
      readonly name: string;
      /** When to wake, epoch ms, from the input and the results so far. */
      readonly until: (input: I, ctx: SagaStepContext) => number;
    };

/** One step of a saga: exactly one of `run`, `request`, `sleep` or `until`. */
export type SagaStep<I> = SagaLocalStep<I> | SagaRequestStep<I> | SagaSleepStep<I>;

/** How a saga type behaves. Functions live in code; only the input and the journal are persisted. */
export interface SagaDefinition<I> {
  /** The steps, run in order; at least one, names unique. */
  readonly steps: readonly SagaStep<I>[];
  /**
   * Overall deadline of the forward steps from start, ms (default from `createDurable`). When it
   * passes, the completed steps are compensated. Compensations have no deadline.
   */
  readonly deadline?: number;
  /** Default attempts per step. Default: no limit but the deadline. */
  readonly maxAttempts?: number;
  readonly backoff?: DurableBackoffOptions;
  /** Default timeout of one attempt of a request step, ms. */
  readonly attemptTimeout?: number;
  /** Default `wait` of `start`, ms. Default 2 000. */
  readonly wait?: number;
  readonly maxInputBytes?: number;
  /**
   * After this many failed attempts in a row of one compensation, the saga is shown as `stuck`
   * (in its status and the dead-letter view) and the `compensation-stuck` event fires; it is
   * still retried. Default 10.
   */
  readonly stuckAfter?: number;
}

/** Thrown by a local step (or its `request` builder) to fail the saga at once: no retry. */
export class SagaStepFailedError extends Error {
  override readonly name = 'SagaStepFailedError';
  /** A stable code for the saga's `lastError.code`. Default `step-failed`. */
  readonly code: string;

  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = options?.code ?? 'step-failed';
  }
}

/** @internal A compensation resolved. */
export type ResolvedCompensation =
  | {
      readonly kind: 'local';
      readonly run: (input: unknown, ctx: SagaCompensationContext) => unknown;
    }
  | {
      readonly kind: 'request';
      readonly request: (input: unknown, ctx: SagaCompensationContext) => DurableRequest;
      readonly attemptTimeout?: number;
    };

/** @internal A step with its settings resolved. */
export type ResolvedStep = {
  readonly name: string;
  readonly maxAttempts: number;
  readonly attemptTimeout: number;
  readonly backoff: ResolvedBackoff;
  readonly compensate?: ResolvedCompensation;
} & (
  | {
      readonly kind: 'request';
      readonly request: (input: unknown, ctx: SagaStepContext) => DurableRequest;
    }
  | { readonly kind: 'local'; readonly run: (input: unknown, ctx: SagaStepContext) => unknown }
  | {
      readonly kind: 'sleep';
      readonly wakeAt: (input: unknown, ctx: SagaStepContext, now: number) => number;
    }
);

/** Step names: they become part of idempotency keys, so printable and short. */
const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const anyFunction = option.function<(...args: never[]) => unknown>();

const compensationRule = option.union(
  option.function<(input: unknown, ctx: SagaCompensationContext) => unknown>(
    'a compensation function',
  ),
  option.object({
    request: option.function<(input: unknown, ctx: SagaCompensationContext) => DurableRequest>(
      'a function building the compensation request',
    ),
    attemptTimeout: option.duration().optional(),
  }),
);

const stepRule = option
  .object({
    name: option.string({
      test: { check: STEP_NAME, rule: 'a step name matching /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/' },
    }),
    run: anyFunction.optional(),
    request: anyFunction.optional(),
    sleep: option.duration({ zero: true }).optional(),
    until: anyFunction.optional(),
    compensate: compensationRule.optional(),
    maxAttempts: option.number({ integer: true, min: 1 }).optional(),
    attemptTimeout: option.duration().optional(),
    backoff: backoffRule.optional(),
  })
  .refine((step, fail) => {
    const kinds = (['run', 'request', 'sleep', 'until'] as const).filter(
      (k) => step[k] !== undefined,
    );
    if (kinds.length !== 1) {
      fail(
        undefined,
        `step "${step.name}" must have exactly one of run, request, sleep or until` +
          (kinds.length > 1 ? ` (it has ${kinds.join(' and ')})` : ''),
      );
    }
    const timer = kinds[0] === 'sleep' || kinds[0] === 'until';
    if (timer) {
      for (const key of ['compensate', 'maxAttempts', 'attemptTimeout', 'backoff'] as const) {
        if (step[key] !== undefined) fail(key, `is not for a timer step ("${step.name}")`);
      }
    }
    return step;
  });

/** The definition given to `durable.saga(name, definition)`, with the instance's defaults. */
export function sagaDefinitionRule(defaults: {
  deadline: number;
  attemptTimeout: number;
  maxInputBytes: number;
}) {
  return option
    .object({
      steps: option.array(stepRule),
      deadline: option.number({ above: 0 }).default(defaults.deadline),
      maxAttempts: option.number({ integer: true, min: 1 }).optional(),
      backoff: backoffRule.optional(),
      attemptTimeout: option.duration().default(defaults.attemptTimeout),
      wait: option.duration({ zero: true }).default(2_000),
      maxInputBytes: option
        .number({ integer: true, min: 1, max: 536_870_912 })
        .default(defaults.maxInputBytes),
      stuckAfter: option.number({ integer: true, min: 1 }).default(10),
    } satisfies ShapeFor<SagaDefinition<unknown>>)
    .refine((d, fail) => {
      if (d.steps.length === 0) fail('steps', 'must have at least one step');
      const seen = new Set<string>();
      d.steps.forEach((step) => {
        if (seen.has(step.name)) fail('steps', `has two steps named "${step.name}"`, step.name);
        seen.add(step.name);
      });
      return d;
    });
}

/** @internal Resolves the validated steps of a saga against its defaults. */
export function resolveSteps(
  steps: readonly SagaStep<unknown>[],
  defaults: { maxAttempts: number; attemptTimeout: number; backoff: ResolvedBackoff },
  backoffLayers: readonly DurableBackoffOptions[],
  where: string,
): ResolvedStep[] {
  return steps.map((step, i) => {
    const retry = step as SagaStepRetry;
    const common = {
      name: step.name,
      maxAttempts: retry.maxAttempts ?? defaults.maxAttempts,
      attemptTimeout: retry.attemptTimeout ?? defaults.attemptTimeout,
      backoff: retry.backoff
        ? resolveBackoff([...backoffLayers, retry.backoff], {
            name: where,
            path: `steps[${i}].backoff`,
          })
        : defaults.backoff,
    };
    const given = (step as { compensate?: SagaCompensation<unknown> }).compensate;
    const compensate: ResolvedCompensation | undefined =
      given === undefined
        ? undefined
        : typeof given === 'function'
          ? { kind: 'local', run: given }
          : {
              kind: 'request',
              request: given.request,
              ...(given.attemptTimeout !== undefined
                ? { attemptTimeout: given.attemptTimeout }
                : {}),
            };
    const withCompensation = compensate ? { ...common, compensate } : common;
    if ('run' in step && step.run !== undefined)
      return { ...withCompensation, kind: 'local', run: step.run };
    if ('request' in step && step.request !== undefined)
      return { ...withCompensation, kind: 'request', request: step.request };
    if ('sleep' in step && step.sleep !== undefined) {
      const ms = step.sleep;
      return { ...common, kind: 'sleep', wakeAt: (_input, _ctx, now) => now + ms };
    }
    const until = (step as { until: (input: unknown, ctx: SagaStepContext) => number }).until;
    return { ...common, kind: 'sleep', wakeAt: (input, ctx) => until(input, ctx) };
  });
}

/** @internal The journal a saga starts from: every step waiting, the first running. */
export function initialSteps(steps: readonly ResolvedStep[]): StepRecord[] {
  return steps.map((s, i) => ({
    name: s.name,
    state: i === 0 ? 'running' : 'waiting',
    attempts: 0,
  }));
}

/** @internal `<saga id>:<step name>`: the idempotency key of a step. */
export function stepKeyOf(id: string, step: string): string {
  return `${id}:${step}`;
}
