import {
  BrokenCircuitError,
  CircuitState,
  DelegateBackoff,
  IsolatedCircuitError,
  SamplingBreaker,
  circuitBreaker,
  handleWhenResult,
  type CircuitBreakerPolicy,
  type IBreaker,
  type IHalfOpenAfterBackoffContext,
} from 'cockatiel';
import type { Events, CircuitStateName } from './events.js';
import type { ResolvedOptions } from './options.js';
import { SharedCircuitLink, isSharedCircuit, type FleetListener } from './shared-circuit.js';

type BreakerConfig = Exclude<ResolvedOptions['breaker'], false>;

/** A probe lease outlives the probe's attempt timeout by this much. */
const LEASE_MARGIN_MS = 250;

/** What an attempt returns to the breaker: whether it counts as a failure, and a forced break. */
export interface BreakerVerdict {
  /** True when the attempt failed in a way that says the downstream is unhealthy. */
  readonly breakerFailure: boolean;
  /** A 429/503 `Retry-After`, in ms: open the circuit for exactly that long. */
  readonly forceOpenMs: number | undefined;
}

/** Where a circuit stands; `nextProbeAt` (epoch ms) is set while it is open. */
export interface CircuitStatus {
  readonly state: CircuitStateName;
  readonly nextProbeAt?: number;
}

/** Thrown inside the client when a breaker refuses a call; turned into `CircuitOpenError`. */
export class CircuitRefusal {
  constructor(
    readonly key: string,
    readonly nextProbeAt: number,
    readonly circuitState: 'open' | 'half-open',
  ) {}
}

/**
 * cockatiel's `SamplingBreaker`, plus a one-shot "open now" used when the server sends a
 * `429`/`503` with `Retry-After`. `IBreaker.failure` does not see the result, so the forced
 * break is flagged by the result filter just before cockatiel calls `failure`.
 */
class ForcibleBreaker implements IBreaker {
  forceNext = false;
  constructor(private readonly inner: SamplingBreaker) {}
  get state(): unknown {
    return this.inner.state;
  }
  set state(value: unknown) {
    this.inner.state = value;
  }
  success(state: CircuitState): void {
    this.inner.success(state);
  }
  failure(state: CircuitState): boolean {
    const open = this.inner.failure(state);
    if (this.forceNext) {
      this.forceNext = false;
      return true;
    }
    return open;
  }
}

/** The part of cockatiel's `CircuitBreakerPolicy` that `execute` uses to open the circuit. */
interface CockatielInternals {
  open(reason: { value: unknown }, signal: AbortSignal): void;
}

const NEVER_ABORTED = new AbortController().signal;

/** One origin's (or key's) breaker. */
export class Circuit {
  readonly policy: CircuitBreakerPolicy;
  private readonly breaker: ForcibleBreaker;
  /** Epoch ms the current break ends at. */
  openUntil = 0;
  /** Callers admitted while half-open that are still waiting for the probe's verdict. */
  followers = 0;
  probeStartedAt = 0;
  private reported: CircuitStateName = 'closed';
  /** True while a change the fleet told us of is applied: it is not shared back. */
  private following = false;
  /** True while this instance asks the fleet for the probe lease. */
  private leasing = false;

  constructor(
    readonly key: string,
    private readonly config: BreakerConfig,
    private readonly events: Events,
    private readonly fleet?: SharedCircuitLink,
  ) {
    this.breaker = new ForcibleBreaker(samplingBreaker(config));
    const halfOpenAfter = new DelegateBackoff<IHalfOpenAfterBackoffContext>((context) => {
      const verdict =
        'value' in context.result ? (context.result.value as BreakerVerdict) : undefined;
      const forced = verdict?.forceOpenMs;
      const ms =
        forced !== undefined
          ? forced
          : Math.min(config.openMs * config.openGrowth ** (context.attempt - 1), config.maxOpenMs);
      this.openUntil = Date.now() + ms;
      return ms;
    });
    this.policy = circuitBreaker(
      handleWhenResult((result) => {
        const verdict = result as BreakerVerdict;
        if (verdict.breakerFailure && verdict.forceOpenMs !== undefined)
          this.breaker.forceNext = true;
        return verdict.breakerFailure;
      }),
      { halfOpenAfter, breaker: this.breaker },
    );
    this.policy.onStateChange((state) => {
      const to = nameOf(state);
      if (to === 'half-open') this.probeStartedAt = Date.now();
      const from = this.reported;
      this.reported = to;
      if (from !== to && this.fleet !== undefined && !this.following) {
        if (to === 'open') this.fleet.publish(key, this.openUntil);
        else if (to === 'closed') this.fleet.publish(key, 0);
      }
      if (from !== to && this.events.has('circuit')) {
        this.events.emit(
          'circuit',
          to === 'open' ? { key, from, to, nextProbeAt: this.openUntil } : { key, from, to },
        );
      }
    });
  }

  /**
   * Another instance opened this circuit until `until`: open it here too (a closed circuit opens
   * through cockatiel, as a forced break of that length), or hold it open at least that long.
   */
  followOpen(until: number, from: string): void {
    const ms = until - Date.now();
    if (ms <= 0) return;
    const state = this.policy.state;
    if (state === CircuitState.HalfOpen) return; // our own probe decides
    if (state === CircuitState.Closed) {
      this.following = true;
      try {
        const verdict: BreakerVerdict = { breakerFailure: true, forceOpenMs: ms };
        (this.policy as unknown as CockatielInternals).open({ value: verdict }, NEVER_ABORTED);
      } finally {
        this.following = false;
      }
    } else this.openUntil = Math.max(this.openUntil, until);
    if (this.events.has('shared-circuit'))
      this.events.emit('shared-circuit', {
        key: this.key,
        action: 'opened',
        instance: from,
        nextProbeAt: this.openUntil,
      });
  }

  /** Another instance's probe succeeded: close this open circuit (cockatiel's isolate, released). */
  followClose(from: string): void {
    if (this.policy.state !== CircuitState.Open) return;
    this.following = true;
    try {
      // As a probe's success does: the failures of the window that opened it are forgotten.
      this.breaker.success(CircuitState.HalfOpen);
      this.policy.isolate().dispose();
      this.openUntil = 0;
    } finally {
      this.following = false;
    }
    if (this.events.has('shared-circuit'))
      this.events.emit('shared-circuit', { key: this.key, action: 'closed', instance: from });
  }

  status(): CircuitStatus {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return { state: 'closed' };
      case CircuitState.HalfOpen:
        return { state: 'half-open' };
      default:
        return Date.now() < this.openUntil
          ? { state: 'open', nextProbeAt: this.openUntil }
          : { state: 'half-open' };
    }
  }

  /** True while the circuit is closed: a call may then take {@link succeeded} / {@link failed}. */
  get closed(): boolean {
    return this.policy.state === CircuitState.Closed;
  }

  /**
   * Records the success of an attempt that started while the circuit was closed, as cockatiel's
   * `execute` does (its breaker's `success` with the state the call started in), without
   * running the attempt inside `execute`: that costs two async layers, a closure and a result
   * object per call, on the path every healthy call takes.
   */
  succeeded(): void {
    this.breaker.success(CircuitState.Closed);
  }

  /**
   * Records the failure of an attempt that started while the circuit was closed. While it still
   * is, cockatiel's `execute` judges it (so it opens the circuit as it would have); the returned
   * promise settles once it did. If the circuit left the closed state meanwhile, this does what
   * that `execute` would have done for a call that started closed: count the failure, and open
   * again only from half-open (from open it stays as it is).
   */
  failed(verdict: BreakerVerdict): Promise<unknown> | undefined {
    if (this.policy.state === CircuitState.Closed) {
      return this.policy.execute(() => Promise.resolve(verdict));
    }
    if (verdict.forceOpenMs !== undefined) this.breaker.forceNext = true;
    const open = this.breaker.failure(CircuitState.Closed);
    if (open && this.policy.state === CircuitState.HalfOpen) {
      (this.policy as unknown as CockatielInternals).open({ value: verdict }, NEVER_ABORTED);
    }
    return undefined;
  }

  /**
   * Runs `fn` through cockatiel's breaker. Fails fast (no socket) while open; lets
   * `halfOpenProbes` callers through while half-open (the first probes, the others wait for
   * its verdict, abortably) and refuses the rest at once, where cockatiel would queue them.
   */
  run<T extends BreakerVerdict>(
    fn: () => Promise<T>,
    signal: AbortSignal,
    attemptTimeoutMs: number,
  ): Promise<T> {
    // A closed breaker never refuses: the attempt runs as it is, and its verdict is recorded
    // when it ends, as cockatiel's execute would record it.
    if (this.policy.state === CircuitState.Closed) return fn().then(this.recordVerdict);
    return this.runGuarded(fn, signal, attemptTimeoutMs);
  }

  /** Records the verdict of an attempt that started closed; settles once it is recorded. */
  private readonly recordVerdict = <T extends BreakerVerdict>(verdict: T): T | Promise<T> => {
    if (!verdict.breakerFailure) {
      this.succeeded();
      return verdict;
    }
    const recorded = this.failed(verdict);
    return recorded === undefined ? verdict : recorded.then(() => verdict);
  };

  private async runGuarded<T extends BreakerVerdict>(
    fn: () => Promise<T>,
    signal: AbortSignal,
    attemptTimeoutMs: number,
  ): Promise<T> {
    const state = this.policy.state;
    if (state === CircuitState.Open && Date.now() < this.openUntil) {
      throw new CircuitRefusal(this.key, this.openUntil, 'open');
    }
    if (state === CircuitState.Open && this.fleet !== undefined) {
      await this.takeProbeLease(attemptTimeoutMs);
    }
    if (this.policy.state !== CircuitState.HalfOpen) return this.execute(fn);
    if (this.followers >= this.config.halfOpenProbes - 1) {
      throw new CircuitRefusal(this.key, this.probeStartedAt + attemptTimeoutMs, 'half-open');
    }
    this.followers++;
    let waiting = true;
    const release = (): void => {
      if (waiting) {
        waiting = false;
        this.followers--;
      }
    };
    try {
      return await abortable(
        this.execute(() => {
          release();
          return fn();
        }),
        signal,
      );
    } finally {
      release();
    }
  }

  /**
   * The break is over: one instance in the fleet probes. Resolves when this one may (it holds
   * the lease, or Redis is out and the local breaker decides); refuses while another holds it,
   * holding the circuit open until that lease ends (its verdict is published before then).
   */
  private async takeProbeLease(attemptTimeoutMs: number): Promise<void> {
    const fleet = this.fleet as SharedCircuitLink;
    if (this.leasing)
      throw new CircuitRefusal(this.key, Date.now() + fleet.shared.timeoutMs, 'half-open');
    this.leasing = true;
    let lease;
    try {
      lease = await fleet.acquireProbe(this.key, attemptTimeoutMs + LEASE_MARGIN_MS);
    } finally {
      this.leasing = false;
    }
    if (lease.kind === 'elsewhere' && this.policy.state === CircuitState.Open) {
      this.openUntil = Math.max(this.openUntil, Date.now() + lease.leftMs);
      throw new CircuitRefusal(this.key, this.openUntil, 'open');
    }
    if (this.policy.state === CircuitState.Open && Date.now() < this.openUntil) {
      throw new CircuitRefusal(this.key, this.openUntil, 'open');
    }
  }

  private async execute<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(fn);
    } catch (error) {
      if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
        throw new CircuitRefusal(this.key, this.openUntil, 'open');
      }
      throw error;
    }
  }
}

/** The client's breakers, one per key, created on first use. */
export class CircuitRegistry implements FleetListener {
  private readonly circuits = new Map<string, Circuit>();
  /** The fleet-wide state (`breaker.shared`), when configured. */
  readonly fleet: SharedCircuitLink | undefined;

  constructor(
    private readonly config: BreakerConfig,
    private readonly events: Events,
  ) {
    const shared = config.shared;
    this.fleet =
      shared !== undefined && isSharedCircuit(shared)
        ? new SharedCircuitLink(shared, this, events)
        : undefined;
  }

  remoteOpen(key: string, until: number, from: string): void {
    this.get(key).followOpen(until, from);
  }

  remoteClose(key: string, from: string): void {
    this.circuits.get(key)?.followClose(from);
  }

  /** Closes the subscriber connection of the fleet-wide state. */
  close(): Promise<void> {
    return this.fleet?.close() ?? Promise.resolve();
  }

  /** The breaker key of a URL. */
  keyOf(url: URL, method: string): string {
    return this.config.key ? this.config.key(url, method) : url.origin;
  }

  /** The breaker of `key`, created when missing. */
  get(key: string): Circuit {
    let circuit = this.circuits.get(key);
    if (!circuit) {
      circuit = new Circuit(key, this.config, this.events, this.fleet);
      this.circuits.set(key, circuit);
      this.fleet?.load(key);
    }
    return circuit;
  }

  /** Every breaker's key and state, for the state gauge. */
  *states(): Iterable<[string, CircuitStateName]> {
    for (const [key, circuit] of this.circuits) yield [key, circuit.status().state];
  }

  /** Where the breaker of `key` stands (closed when it never saw a call). */
  status(key: string): CircuitStatus {
    return this.circuits.get(key)?.status() ?? { state: 'closed' };
  }
}

function samplingBreaker(config: BreakerConfig): SamplingBreaker {
  // cockatiel's SamplingBreaker wants a minimum rate, not a minimum count, and compares
  // strictly; convert so that `minimumCalls` calls at `failureRatio` open the circuit.
  const windows = Math.max(5, Math.ceil(config.windowMs / 1000));
  const duration = Math.round(config.windowMs / windows) * windows;
  return new SamplingBreaker({
    threshold: Math.min(config.failureRatio, 1) - 1e-9,
    duration: config.windowMs,
    minimumRps: ((config.minimumCalls - 0.5) * 1000) / duration,
  });
}

function nameOf(state: CircuitState): CircuitStateName {
  if (state === CircuitState.Closed) return 'closed';
  if (state === CircuitState.HalfOpen) return 'half-open';
  return 'open';
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
