import { option, type OptionRule } from '@unfazed/contract';
import { FaultPlan, type FaultEvent } from './plan.js';
import type { RouteMatch, RouteRequest } from './route.js';

/**
 * Rules for the options the injectors share, for `validateOptions` from `@unfazed/contract`:
 * every public factory of this package checks its options with that one validator (unknown
 * keys rejected with a "did you mean" hint). @internal
 */

/** A plan built with `plans.*()`. */
export const planRule = option.instance<FaultPlan>(
  'a plan built with plans.*()',
  (value) => value instanceof FaultPlan,
);

/** `onFault`: called with each injected fault. */
export const onFaultRule = option.function<(event: FaultEvent) => void>(
  'a function of the fault event',
);

/** `key`: how attempts are grouped. */
export const keyRule = option.function<(request: RouteRequest) => string>(
  'a function of the request',
);

/** A seed: an integer from 0 to 2^32 - 1. */
export const seedRule = option.number({ integer: true, min: 0, max: 0xffffffff });

/** A TCP port to listen on; 0 picks a free one. */
export const listenPortRule = option.number({ integer: true, min: 0, max: 65_535 });

const matchRule = option.union(
  option.string({ nonEmpty: true }),
  option.function<(request: RouteRequest) => boolean>(),
) as OptionRule<RouteMatch>;

/**
 * `routes` of an injector: `{ "METHOD /path": plan | { plan, ...spec } }` or
 * `[{ match, plan, ...spec }]`, where `spec` holds the injector's extra keys (a handler).
 */
export function routesRule(spec: Record<string, OptionRule<unknown>>): OptionRule<unknown> {
  return option.union(
    option.record(
      option.union(planRule, option.object({ plan: planRule.optional(), ...spec })),
      'an object of routes ("METHOD /path": a plan, or { plan, ... })',
    ),
    option.array(option.object({ match: matchRule, plan: planRule.optional(), ...spec }), {
      description: 'an array of routes ({ match, plan, ... })',
    }),
  );
}
