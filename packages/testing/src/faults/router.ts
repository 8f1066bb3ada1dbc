import { InvalidOptionError } from '@unfazed/contract';
import { FaultsNotFiredError } from './errors.js';
import { describeFault, type Fault } from './fault.js';
import { FaultPlan, formatEvents, type FaultEvent, type FaultTransport } from './plan.js';
import { compileRoute, defaultAttemptKey, type RouteMatch, type RouteRequest } from './route.js';
import { replayHint } from './seed.js';

/** A route entry as given by the user: a plan alone, or a plan with extras (e.g. a handler). */
export interface RouteSpec {
  /** The route's fault plan; no plan means every call passes. */
  plan?: FaultPlan;
}

/** Routes keyed by `"METHOD /path"`, or a list with `match` (a pattern or a predicate). */
export type RoutesOption<S extends RouteSpec> =
  Readonly<Record<string, FaultPlan | S>> | ReadonlyArray<S & { match: RouteMatch }>;

interface CompiledRoute<S extends RouteSpec> {
  readonly name: string;
  readonly test: (request: RouteRequest) => boolean;
  readonly spec: S;
}

/** What the router decided for one call. */
export interface Routed<S extends RouteSpec> {
  readonly route: string | undefined;
  readonly spec: S | undefined;
  /**
   * The spec of the route given at creation that matches the call, when a `use()` route took
   * it: a plan-only runtime route keeps that route's other settings (e.g. its handler).
   */
  readonly base: S | undefined;
  readonly key: string;
  readonly attempt: number;
  readonly fault: Fault | undefined;
}

/**
 * Shared by the injectors: finds the route of a call, counts attempts per key, asks the
 * route's plan (or the default plan) for a fault, and answers the verification questions.
 * @internal
 */
export class FaultRouter<S extends RouteSpec> {
  /** The routes given at creation (or by `resetRoutes(routes)`). */
  #base: CompiledRoute<S>[] = [];
  /** Routes added by `use()`, newest first; they take precedence over the base routes. */
  #runtime: CompiledRoute<S>[] = [];
  readonly #defaultPlan: FaultPlan | undefined;
  readonly #keyOf: (request: RouteRequest) => string;
  readonly #attempts = new Map<string, number>();
  readonly #transport: FaultTransport;
  readonly #onFault: ((event: FaultEvent) => void) | undefined;

  constructor(
    transport: FaultTransport,
    routes: RoutesOption<S> | undefined,
    defaultPlan: FaultPlan | undefined,
    keyOf: ((request: RouteRequest) => string) | undefined,
    onFault?: (event: FaultEvent) => void,
  ) {
    this.#transport = transport;
    if (onFault !== undefined && typeof onFault !== 'function') {
      throw new InvalidOptionError('onFault', 'must be a function of the fault event', onFault);
    }
    this.#onFault = onFault;
    if (defaultPlan !== undefined && !(defaultPlan instanceof FaultPlan)) {
      throw new InvalidOptionError('plan', 'must be a plan built with plans.*()', defaultPlan);
    }
    this.#defaultPlan = defaultPlan;
    if (keyOf !== undefined && typeof keyOf !== 'function') {
      throw new InvalidOptionError('key', 'must be a function of the request', keyOf);
    }
    this.#keyOf = keyOf ?? defaultAttemptKey;
    this.#base = this.#compile(routes, 'routes');
  }

  #compile(routes: RoutesOption<S> | undefined, option: string): CompiledRoute<S>[] {
    const compiled: CompiledRoute<S>[] = [];
    if (routes === undefined) return compiled;
    if (Array.isArray(routes)) {
      routes.forEach((entry: S & { match: RouteMatch }, i) => {
        const test = compileRoute(entry?.match, `${option}[${i}].match`);
        const name = typeof entry.match === 'string' ? entry.match : `${option}[${i}]`;
        compiled.push({ name, test, spec: this.#checkSpec(entry, `${option}[${i}]`) });
      });
    } else if (typeof routes === 'object' && routes !== null) {
      for (const [name, value] of Object.entries(routes as Record<string, FaultPlan | S>)) {
        const spec = value instanceof FaultPlan ? ({ plan: value } as S) : value;
        compiled.push({
          name,
          test: compileRoute(name, `${option}["${name}"]`),
          spec: this.#checkSpec(spec, `${option}["${name}"]`),
        });
      }
    } else {
      throw new InvalidOptionError(option, 'must be an object or an array of routes', routes);
    }
    return compiled;
  }

  /**
   * Adds routes in front of the current ones (like msw's `server.use()`): they win until
   * {@link resetRoutes}. Among several `use()` calls the latest wins.
   */
  use(routes: RoutesOption<S>): void {
    this.#runtime = [...this.#compile(routes, 'routes'), ...this.#runtime];
  }

  /**
   * Drops the routes added by {@link use} (like msw's `resetHandlers()`); with `routes`, they
   * also replace the routes given at creation.
   */
  resetRoutes(routes?: RoutesOption<S>): void {
    if (routes !== undefined) this.#base = this.#compile(routes, 'routes');
    this.#runtime = [];
  }

  /** Forgets the attempt counts: the next call of every key is attempt 1 again. */
  clearAttempts(): void {
    this.#attempts.clear();
  }

  get #routes(): CompiledRoute<S>[] {
    return [...this.#runtime, ...this.#base];
  }

  #checkSpec(spec: S, option: string): S {
    if (typeof spec !== 'object' || spec === null) {
      throw new InvalidOptionError(option, 'must be a plan or { plan, ... }', spec);
    }
    if (spec.plan !== undefined && !(spec.plan instanceof FaultPlan)) {
      throw new InvalidOptionError(
        `${option}.plan`,
        'must be a plan built with plans.*()',
        spec.plan,
      );
    }
    return spec;
  }

  /** Whether any route is configured. */
  get hasRoutes(): boolean {
    return this.#routes.length > 0;
  }

  /** Every plan in use (routes first, then the default plan), each once. */
  plans(): FaultPlan[] {
    const all = this.#routes.map((r) => r.spec.plan).filter((p): p is FaultPlan => p !== undefined);
    if (this.#defaultPlan) all.push(this.#defaultPlan);
    return [...new Set(all)];
  }

  /** Routes a call: counts the attempt and asks the plan. */
  route(request: RouteRequest): Routed<S> {
    const found = this.#routes.find((r) => r.test(request));
    const base =
      found && this.#runtime.includes(found) ? this.#base.find((r) => r.test(request)) : found;
    const key = this.#keyOf(request);
    const attempt = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.set(key, attempt);
    const plan = found ? found.spec.plan : this.#defaultPlan;
    const fault = plan?.next({
      transport: this.#transport,
      key,
      attempt,
      ...(found ? { route: found.name } : {}),
      method: request.method.toUpperCase(),
      path: request.path,
      headers: request.headers,
    });
    if (fault !== undefined && plan !== undefined)
      this.#onFault?.(plan.events.at(-1) as FaultEvent);
    return { route: found?.name, spec: found?.spec, base: base?.spec, key, attempt, fault };
  }

  /** Every injected fault of every plan, in time order. */
  events(): FaultEvent[] {
    return this.plans()
      .flatMap((plan) => plan.events)
      .sort((a, b) => a.at - b.at);
  }

  /** Planned faults that did not fire yet, across every plan. */
  pendingFaults(): Fault[] {
    return this.plans().flatMap((plan) => plan.pendingFaults());
  }

  /** Throws {@link FaultsNotFiredError} when any plan still has planned faults. */
  assertAllFaultsFired(): void {
    const lines: string[] = [];
    const pending: Fault[] = [];
    for (const plan of this.plans()) {
      const left = plan.pendingFaults();
      if (left.length === 0) continue;
      pending.push(...left);
      const route = this.#routes.find((r) => r.spec.plan === plan)?.name ?? 'default plan';
      lines.push(`  ${route}: ${left.map(describeFault).join(', ')} (${plan.calls} call(s) seen)`);
    }
    if (pending.length === 0) return;
    throw new FaultsNotFiredError(
      `${pending.length} planned fault(s) did not fire:\n${lines.join('\n')}\n${this.formatEvents()}\n${this.replayHint()}`,
      pending,
    );
  }

  /** One-line replay hint over every seeded plan. */
  replayHint(): string {
    return replayHint(
      this.plans()
        .map((plan) => plan.seed)
        .filter((seed): seed is number => seed !== undefined),
    );
  }

  /** The event log of every plan, one line per fault. */
  formatEvents(): string {
    const events = this.events().map((event, i) => ({ ...event, seq: i + 1 }));
    return formatEvents(events, 'injected faults');
  }
}
