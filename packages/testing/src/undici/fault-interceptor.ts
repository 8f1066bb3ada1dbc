import type { Dispatcher } from 'undici';
import { option, validateOptions, type ShapeFor } from '@unfazed/contract';
import { keyRule, onFaultRule, planRule, routesRule } from '../faults/option-rules.js';
import type { Fault, FaultLabel } from '../faults/fault.js';
import type { FaultEvent, FaultPlan } from '../faults/plan.js';
import type { RouteRequest } from '../faults/route.js';
import { FaultRouter, type RouteSpec, type RoutesOption } from '../faults/router.js';
import { FaultFlow, injectedSocketError, injectedTimeoutError } from './fault-flow.js';

/** Options of {@link faultInterceptor}. */
export interface FaultInterceptorOptions {
  /** Per-route plans: `{ 'POST /charges': plan }`, or a list with `match` (a pattern or a predicate). */
  routes?: RoutesOption<RouteSpec>;
  /** Plan for requests that match no route (or for every request when there are no routes). */
  plan?: FaultPlan;
  /** How attempts are grouped; default the `Idempotency-Key` header, else `METHOD /path`. */
  key?: (request: RouteRequest) => string;
  /** Called with each injected fault as it happens, e.g. `(e) => console.log(formatEvent(e))`. */
  onFault?: (event: FaultEvent) => void;
  /**
   * The `headersTimeout` of the dispatcher this interceptor is composed with, ms: undici hands
   * an interceptor only the per-request options, so an `Agent({ headersTimeout })` would never
   * end a hang. A request's own `headersTimeout` wins. Default: none (per-request only).
   */
  headersTimeout?: number;
  /** Likewise the dispatcher's `bodyTimeout`, ms, for crawling bodies. Default: none. */
  bodyTimeout?: number;
}

/** One request that went through the interceptor. */
export interface InterceptedCall {
  readonly seq: number;
  readonly method: string;
  readonly origin: string;
  /** Path without the query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly key: string;
  readonly attempt: number;
  readonly route: string | undefined;
  readonly fault: Fault | undefined;
  readonly label: FaultLabel | undefined;
  /** True when the request was handed to the real dispatcher: the server saw it. */
  forwarded: boolean;
}

/**
 * An undici v7 interceptor (for `dispatcher.compose(...)`) that injects planned faults, plus
 * the verification helpers. `beforeSend` faults never reach the real dispatcher; `afterSend`
 * and `midBody` faults forward the request, then break or replace the answer.
 */
export interface FaultInterceptor extends Dispatcher.DispatcherComposeInterceptor {
  /** Every request seen, in order: the per-attempt history. */
  readonly calls: readonly InterceptedCall[];
  /** Calls with this attempt key, in order. */
  attempts(key: string): InterceptedCall[];
  /** Every injected fault, in time order. */
  readonly events: readonly FaultEvent[];
  /** Planned faults that have not fired yet. */
  pendingFaults(): Fault[];
  /** Throws `FaultsNotFiredError` listing the planned faults that did not fire. */
  assertAllFaultsFired(): void;
  /** One-line `replay with seed=...` hint. */
  replayHint(): string;
  /** The event log, one line per injected fault. */
  formatEvents(): string;
  /** Adds routes that take precedence until {@link resetRoutes} (like msw's `server.use()`). */
  use(routes: RoutesOption<RouteSpec>): void;
  /** Drops the routes added by {@link use}; with `routes`, they replace the initial ones too. */
  resetRoutes(routes?: RoutesOption<RouteSpec>): void;
  /** Empties the call log and the attempt counts. */
  clearCalls(): void;
  /** `resetRoutes()` and `clearCalls()`, for the next test. */
  reset(): void;
}

const interceptorRoutesRule = routesRule({});
const optionsSchema = option.object({
  routes: interceptorRoutesRule.optional(),
  plan: planRule.optional(),
  key: keyRule.optional(),
  onFault: onFaultRule.optional(),
  headersTimeout: option.duration().optional(),
  bodyTimeout: option.duration().optional(),
} satisfies ShapeFor<FaultInterceptorOptions>);

function normalizeHeaders(
  headers: Dispatcher.DispatchOptions['headers'],
): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  const add = (name: unknown, value: unknown): void => {
    const key = String(name).toLowerCase();
    const text = Array.isArray(value) ? value.map(String) : String(value);
    const prev = out[key];
    out[key] = prev === undefined ? text : ([] as string[]).concat(prev, text);
  };
  if (headers == null) return out;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1]);
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, string]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) add(name, value);
  }
  return out;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

function runFault(
  fault: Fault,
  flow: FaultFlow,
  dispatch: Dispatcher['dispatch'],
  opts: Dispatcher.DispatchOptions,
  timeouts: Pick<FaultInterceptorOptions, 'headersTimeout' | 'bodyTimeout'>,
): void {
  flow.start();
  // A real client's own timers still run: per-request headersTimeout / bodyTimeout (or the
  // dispatcher's, given as options) end a hang, a long delay or a crawling body as they would
  // against a real server.
  const headersTimeout = positive(opts.headersTimeout) ?? timeouts.headersTimeout;
  const bodyTimeout = positive(opts.bodyTimeout) ?? timeouts.bodyTimeout;
  if (headersTimeout !== undefined && (fault.kind === 'hang' || fault.kind === 'delay')) {
    flow.later(headersTimeout, () => {
      if (!flow.headSent) flow.cancel(injectedTimeoutError(fault, 'headers'));
    });
  }
  switch (fault.kind) {
    case 'status':
      if (fault.label === 'beforeSend') {
        flow.soon(() => flow.respond(fault.status, fault.headers, fault.body));
      } else {
        flow.forward(dispatch, opts, {
          onEnd: () => flow.respond(fault.status, fault.headers, fault.body),
        });
      }
      return;
    case 'delay':
      if (fault.label === 'beforeSend') {
        flow.later(fault.ms, () => flow.forward(dispatch, opts, { passThrough: true }));
      } else {
        flow.forward(dispatch, opts, {
          onEnd: (answer) => flow.later(fault.ms, () => flow.replay(answer)),
        });
      }
      return;
    case 'hang':
      // Only the caller's abort (signal) or its headersTimeout ends a hang.
      if (fault.label === 'afterSend')
        flow.forward(dispatch, opts, { onEnd: () => undefined, onError: () => undefined });
      return;
    case 'reset':
      flow.soon(() =>
        flow.fail(
          injectedSocketError(
            fault,
            'other side closed (injected reset before the request was read)',
          ),
        ),
      );
      return;
    case 'lostResponse':
      flow.forward(dispatch, opts, {
        onEnd: () =>
          flow.fail(
            injectedSocketError(
              fault,
              'other side closed (injected lost response: the server handled the request)',
            ),
          ),
      });
      return;
    case 'slowBody':
      flow.forward(dispatch, opts, {
        onEnd: (answer) =>
          flow.replay(
            answer,
            fault.chunkSize,
            fault.intervalMs,
            bodyTimeout !== undefined && bodyTimeout <= fault.intervalMs
              ? () =>
                  flow.later(bodyTimeout, () => flow.cancel(injectedTimeoutError(fault, 'body')))
              : undefined,
          ),
      });
      return;
    case 'closeMidBody':
      flow.forward(dispatch, opts, {
        onEnd: (answer) => {
          const body = Buffer.concat(answer.chunks);
          const cut = Math.min(
            fault.afterBytes ?? Math.floor(body.length / 2),
            Math.max(body.length - 1, 0),
          );
          flow.head(answer.status, answer.headers, answer.statusText);
          flow.data(body.subarray(0, cut));
          flow.fail(injectedSocketError(fault, 'other side closed (injected close mid-body)'));
        },
      });
      return;
  }
}

/**
 * Creates an undici interceptor that injects the faults of a plan (or of per-route plans) into
 * requests, with or without a server behind: compose it over an `Agent` to fault a real server,
 * or over a `MockAgent` to fault a mocked one.
 *
 * @example
 * const chaos = faultInterceptor({ routes: { 'POST /charges': plans.times(1, faults.lostResponse()) } });
 * const dispatcher = new Agent().compose(chaos);
 * await request(url, { method: 'POST', dispatcher });   // throws UND_ERR_SOCKET, server handled it
 * chaos.assertAllFaultsFired();
 */
export function faultInterceptor(options: FaultInterceptorOptions = {}): FaultInterceptor {
  validateOptions(optionsSchema, options, { name: 'faultInterceptor' });
  const router = new FaultRouter<RouteSpec>(
    'interceptor',
    options.routes,
    options.plan,
    options.key,
    options.onFault,
  );
  const calls: InterceptedCall[] = [];
  const clearCalls = (): void => {
    calls.length = 0;
    router.clearAttempts();
  };

  const interceptor = (dispatch: Dispatcher['dispatch']): Dispatcher['dispatch'] =>
    function faultDispatch(
      opts: Dispatcher.DispatchOptions,
      handler: Dispatcher.DispatchHandler,
    ): boolean {
      const full = opts.path ?? '/';
      const q = full.indexOf('?');
      const path = q === -1 ? full : full.slice(0, q);
      const method = String(opts.method ?? 'GET').toUpperCase();
      const headers = normalizeHeaders(opts.headers);
      const routed = router.route({ method, path, headers });
      const call: InterceptedCall = {
        seq: calls.length + 1,
        method,
        origin: String(opts.origin ?? ''),
        path,
        headers,
        key: routed.key,
        attempt: routed.attempt,
        route: routed.route,
        fault: routed.fault,
        label: routed.fault?.label,
        forwarded: routed.fault === undefined,
      };
      calls.push(call);
      if (routed.fault === undefined) return dispatch(opts, handler);
      const flow = new FaultFlow(handler);
      runFault(
        routed.fault,
        flow,
        (o, h) => {
          call.forwarded = true;
          return dispatch(o, h);
        },
        opts,
        options,
      );
      return true;
    };

  return Object.defineProperties(interceptor, {
    calls: { get: () => calls, enumerable: true },
    attempts: { value: (key: string) => calls.filter((c) => c.key === key) },
    events: { get: () => router.events(), enumerable: true },
    pendingFaults: { value: () => router.pendingFaults() },
    assertAllFaultsFired: { value: () => router.assertAllFaultsFired() },
    replayHint: { value: () => router.replayHint() },
    formatEvents: { value: () => router.formatEvents() },
    use: {
      value: (routes: RoutesOption<RouteSpec>) => {
        validateOptions(interceptorRoutesRule, routes, {
          name: 'faultInterceptor.use',
          path: 'routes',
        });
        router.use(routes);
      },
    },
    resetRoutes: {
      value: (routes?: RoutesOption<RouteSpec>) => {
        if (routes !== undefined) {
          validateOptions(interceptorRoutesRule, routes, {
            name: 'faultInterceptor.resetRoutes',
            path: 'routes',
          });
        }
        router.resetRoutes(routes);
      },
    },
    clearCalls: { value: clearCalls },
    reset: {
      value: () => {
        router.resetRoutes();
        clearCalls();
      },
    },
  }) as FaultInterceptor;
}
