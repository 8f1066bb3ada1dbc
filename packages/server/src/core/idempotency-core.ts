import { randomBytes } from 'node:crypto';
import {
  HEADERS,
  PROBLEM_CONTENT_TYPE,
  formatRetryAfter,
  parseIdempotencyKey,
  problem,
  type ProblemCode,
  type ProblemExtras,
} from '@unfazed/contract';
import {
  IdempotencyStoreTimeoutError,
  isIdempotencyStoreFullError,
  isIdempotencyStoreTimeoutError,
} from '../errors.js';
import { DeadlineQueue, type DeadlineEntry } from './deadline-queue.js';
import type { IdempotencyEvent, IdempotencyEventName } from './events.js';
import {
  ParsedBody,
  canonicalBody,
  compileExclusions,
  recordKey,
  requestFingerprint,
  type FieldExclusions,
} from './fingerprint.js';
import {
  resolveOptions,
  type IdempotencyMiddlewareOptions,
  type ResolvedOptions,
} from './options.js';
import { acceptsCoding, decodeBody } from './content-coding.js';
import { ResponseCapture } from './response-capture.js';
import type { ClaimResult, ReplayableResponse } from './store.js';
import { pickStoredHeaders, pickStoredHeadersBy } from './stored-headers.js';
import { reportOutcome } from './telemetry.js';

/** A complete answer the adapter writes as is (a problem, or a replay). */
export interface PreparedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What to do with a request after reading its key header. */
export type KeyDecision =
  | { action: 'skip' }
  | { action: 'respond'; response: PreparedResponse }
  | { action: 'continue'; key: string };

/** What to do with a keyed request once its body is known. */
export type BeginDecision =
  | { action: 'respond'; response: PreparedResponse }
  /** Run the handler; `execution` is `null` when failing open (nothing will be recorded). */
  | { action: 'run'; execution: Execution | null };

/** Facts about a keyed request, gathered by the adapter. */
export interface BeginInput<TReq> {
  req: TReq;
  key: string;
  method: string;
  /** Request target: path and query as received. */
  target: string;
  /**
   * Raw body bytes, before any parser; or, when a parser already read them and kept no copy,
   * the parsed body, fingerprinted in a canonical form.
   */
  body: Buffer | ParsedBody;
  /**
   * The request's `Accept-Encoding`: a replay whose stored body is in a coding the client
   * refuses is decoded. Absent: any coding is acceptable (RFC 9110).
   */
  acceptEncoding?: string | undefined;
}

/** Timers the core schedules completion retries with; tests pass a fake clock. */
export interface CoreTimers {
  setTimeout(callback: () => void, ms: number): unknown;
}

const REAL_TIMERS: CoreTimers = {
  setTimeout(callback, ms) {
    // A retry loop must not keep a process alive that is otherwise done.
    return setTimeout(callback, ms).unref();
  },
};

/** First delay between two tries of a failed completion write, ms; doubled each try. */
const COMPLETE_RETRY_BASE_MS = 50;
/** Longest delay between two tries of a failed completion write, ms. */
const COMPLETE_RETRY_MAX_MS = 1_000;

/** Delay before try `attempt + 1` of a completion write whose try `attempt` failed. */
export function completeRetryDelayMs(attempt: number): number {
  return Math.min(COMPLETE_RETRY_MAX_MS, COMPLETE_RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 10));
}

/** The answer to a covered request whose body is over `maxBodyBytes`. */
export function payloadTooLarge(maxBodyBytes: number): PreparedResponse {
  return problemResponse('payload-too-large', {
    detail: `the request body is larger than ${maxBodyBytes} bytes`,
    maxBodyBytes,
  });
}

/** The contract's problem+json answer for `code`, with extra headers. */
export function problemResponse(
  code: ProblemCode,
  extras: ProblemExtras = {},
  headers: Record<string, string> = {},
): PreparedResponse {
  const details = problem(code, extras);
  const body = Buffer.from(JSON.stringify(details));
  return {
    status: details.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
    body,
  };
}

/**
 * The framework-free Idempotency-Key engine. Adapters ask it three questions: does this request
 * take part ({@link IdempotencyCore.decideKey}), what happens once its body is known
 * ({@link IdempotencyCore.begin}), and they report the response through the {@link Execution}.
 */
export class IdempotencyCore<TReq> {
  /** The options in force. */
  readonly options: ResolvedOptions<TReq>;

  /** One timer for every store-call bound, one for every lease renewal. */
  private readonly storeDeadlines: DeadlineQueue;
  /** @internal Used by {@link Execution}. */
  readonly renewals: DeadlineQueue;
  /** @internal Used by {@link Execution}. */
  readonly timers: CoreTimers;
  private readonly exclusions: FieldExclusions | undefined;
  /**
   * @internal Record keys of this process's claims that timed out and are not yet undone: each
   * settles once its claim failed, or landed and was released. Used by {@link Execution}.
   */
  readonly undoing = new Map<string, Promise<void>>();

  constructor(options: IdempotencyMiddlewareOptions<TReq>, timers: CoreTimers = REAL_TIMERS) {
    this.options = resolveOptions(options);
    this.timers = timers;
    this.exclusions = compileExclusions(this.options.excludeFields);
    this.storeDeadlines = new DeadlineQueue(this.options.storeTimeoutMs);
    this.renewals = new DeadlineQueue(this.options.leaseRenewalMs);
  }

  /** Is `method` covered? Uncovered requests pass through and their header is ignored. */
  covers(method: string): boolean {
    return this.options.methods.has(method.toUpperCase());
  }

  /** Reads the `Idempotency-Key` header (a string, or one string per header line). */
  decideKey(method: string, header: string | readonly string[] | undefined): KeyDecision {
    if (!this.covers(method)) return { action: 'skip' };
    const parsed = parseIdempotencyKey(header);
    if (parsed.ok) return { action: 'continue', key: parsed.key };
    if (parsed.reason === 'missing') {
      if (!this.options.required) return { action: 'skip' };
      return {
        action: 'respond',
        response: problemResponse('idempotency-key-missing', {
          detail: `${method.toUpperCase()} requests here need an Idempotency-Key header`,
        }),
      };
    }
    return {
      action: 'respond',
      response: problemResponse('idempotency-key-malformed', {
        detail: parsed.message,
        reason: parsed.reason,
      }),
    };
  }

  /**
   * Claims the key, or answers with a replay, 409, 422 or 503. Store failures never throw;
   * only a throwing `scope` or `fingerprint` option rejects.
   */
  async begin(input: BeginInput<TReq>): Promise<BeginDecision> {
    const o = this.options;
    // A throwing scope or fingerprint function is the application's bug: it rejects `begin`.
    // Awaited only when they return a promise: an `await` costs a microtask turn.
    let scope = o.scope?.(input.req);
    if (isThenable(scope)) scope = await scope;
    if (scope !== undefined && typeof scope !== 'string') {
      throw new TypeError(
        `the scope option must return a string or undefined (got ${typeof scope}): it is part of the record key`,
      );
    }
    const base = { key: input.key, scope: scope ?? '', method: input.method, target: input.target };
    let fingerprint: string;
    if (o.fingerprint) {
      const raw =
        input.body instanceof ParsedBody
          ? Buffer.from(canonicalBody(input.body, undefined))
          : input.body;
      let custom = o.fingerprint(input.req, raw);
      if (isThenable(custom)) custom = await custom;
      fingerprint = digestCustom(custom, base.scope);
    } else {
      fingerprint = requestFingerprint({
        method: base.method,
        target: base.target,
        scope: base.scope,
        body: input.body,
        exclusions: this.exclusions,
      });
    }
    const key = recordKey(base.scope, input.key);
    const owner = nextOwner();
    let result: ClaimResult;
    const claim = o.store.claim({ key, fingerprint, owner, leaseMs: o.leaseMs });
    try {
      result = await this.withTimeout('claim', claim);
    } catch (error) {
      if (isIdempotencyStoreTimeoutError(error)) this.undoLateClaim(key, owner, claim);
      this.emit('storeError', { ...base, operation: 'claim', error });
      reportOutcome(o.failOpen ? 'fail-open' : 'store-unavailable', base.method);
      if (o.failOpen) {
        this.emit('failOpen', { ...base, operation: 'claim', error });
        return { action: 'run', execution: null };
      }
      return {
        action: 'respond',
        response: problemResponse(
          'store-unavailable',
          { detail: unavailableDetail(error) },
          { [HEADERS.retryAfter]: formatRetryAfter(o.unavailableRetryAfterMs) },
        ),
      };
    }
    switch (result.outcome) {
      case 'claimed':
        reportOutcome(result.recovered ? 'recovered' : 'claimed', base.method);
        if (this.listens('claimed')) this.emit('claimed', { ...base, recovered: result.recovered });
        return {
          action: 'run',
          execution: new Execution(this as IdempotencyCore<never>, base, key, owner, fingerprint),
        };
      case 'mismatch':
        reportOutcome('mismatch', base.method);
        this.emit('mismatch', base);
        return {
          action: 'respond',
          response: problemResponse('idempotency-key-reused', {
            detail: 'this Idempotency-Key was already used with a different request',
          }),
        };
      case 'in-flight': {
        reportOutcome('conflict', base.method);
        this.emit('conflict', { ...base, leaseRemainingMs: result.leaseRemainingMs });
        return {
          action: 'respond',
          response: problemResponse(
            'request-in-flight',
            { detail: 'a request with this Idempotency-Key is still running' },
            // A poll hint, not the lease: the first request usually ends well before it does.
            {
              [HEADERS.retryAfter]: formatRetryAfter(
                Math.min(o.inFlightRetryAfterMs, result.leaseRemainingMs),
              ),
            },
          ),
        };
      }
      case 'completed':
        reportOutcome('replayed', base.method);
        if (this.listens('replayed')) {
          this.emit('replayed', {
            ...base,
            status: result.response.status,
            bodyRetained: result.response.body !== null,
          });
        }
        return { action: 'respond', response: replay(result.response, input.acceptEncoding) };
    }
  }

  /**
   * A claim that timed out may still land (a stalled store, or a command queued in the client
   * while the store was away): it would then hold the key for a lease with nobody running the
   * handler. It is released as soon as it lands; until then {@link undoing} lists its key.
   */
  private undoLateClaim(key: string, owner: string, claim: Promise<ClaimResult>): void {
    const store = this.options.store;
    const mine = claim
      .then((late) =>
        late.outcome === 'claimed'
          ? store.release({ key, owner }).then(() => undefined)
          : undefined,
      )
      .catch(() => undefined);
    const before = this.undoing.get(key);
    const undone = (before === undefined ? mine : Promise.all([before, mine])).then(() => {
      if (this.undoing.get(key) === undone) this.undoing.delete(key);
    });
    this.undoing.set(key, undone);
  }

  /** Runs a store call with the `storeTimeoutMs` bound. */
  withTimeout<T>(
    operation: 'claim' | 'complete' | 'release' | 'renew',
    promise: Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.options.storeTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      // A shared timer (one per middleware), not one per store call.
      const deadline = this.storeDeadlines.add(() => {
        done = true;
        reject(new IdempotencyStoreTimeoutError(operation, timeoutMs));
      });
      promise.then(
        (value) => {
          deadline.cancel();
          if (!done) resolve(value);
          done = true;
        },
        (error: unknown) => {
          deadline.cancel();
          if (!done) reject(error instanceof Error ? error : new Error(String(error)));
          done = true;
        },
      );
    });
  }

  /** Is there a listener for `type`? (Saves building events nobody reads.) */
  listens(type: IdempotencyEventName): boolean {
    return this.options.on[type] !== undefined;
  }

  /** Calls the listener for `type`, ignoring what it throws. */
  emit(type: IdempotencyEventName, event: Omit<IdempotencyEvent, 'type'>): void {
    const listener = this.options.on[type] as ((e: IdempotencyEvent) => void) | undefined;
    if (!listener) return;
    try {
      listener({ ...event, type });
    } catch {
      // A listener must never change the answer.
    }
  }
}

/**
 * One claimed request while its handler runs: renews the lease, captures the response, and
 * completes or releases the record when the response ends.
 */
export class Execution {
  /** Feed every response body chunk here, as written. */
  readonly capture: ResponseCapture;
  private renewal: DeadlineEntry | undefined;
  private settled = false;

  constructor(
    private readonly core: IdempotencyCore<never>,
    private readonly base: Omit<IdempotencyEvent, 'type'>,
    private readonly key: string,
    private readonly owner: string,
    private readonly fingerprint: string,
  ) {
    const o = core.options;
    this.capture = new ResponseCapture(o.maxResponseBytes);
    this.renewal = core.renewals.add(this.renewDue);
  }

  /**
   * The response was sent in full (`finish`): store it when the status policy says so, else
   * release the key. Resolves when the store has answered (never rejects). A completion write
   * that fails is tried again with a bounded backoff (a `storeError` event each time) while the
   * lease keeps being renewed, until it is stored or the owner has lost the claim; the response
   * itself has gone out already.
   */
  async finish(
    status: number,
    headers: Record<string, unknown> | ((name: string) => unknown),
  ): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    const o = this.core.options;
    if (!o.shouldStore(status)) {
      this.stopRenewing();
      await this.release(status);
      return;
    }
    const stored =
      typeof headers === 'function'
        ? pickStoredHeadersBy(headers, o.storedHeaders)
        : pickStoredHeaders(headers, o.storedHeaders);
    // The encoding of the bytes captured, as seen when they were written: a compressor that
    // runs after the capture sets the header later, and then re-encodes the replay itself.
    const encoding = this.capture.contentEncoding;
    if (encoding !== undefined) stored['content-encoding'] = encoding;
    const response: ReplayableResponse = { status, headers: stored, body: this.capture.body() };
    const input = {
      key: this.key,
      owner: this.owner,
      fingerprint: this.fingerprint,
      response,
      retentionMs: o.retentionMs,
    };
    for (let attempt = 1; ; attempt++) {
      let done: boolean;
      try {
        done = await this.core.withTimeout('complete', o.store.complete(input));
      } catch (error) {
        const retryInMs = completeRetryDelayMs(attempt);
        this.core.emit('storeError', {
          ...this.base,
          operation: 'complete',
          error,
          attempt,
          retryInMs,
        });
        await new Promise<void>((resolve) => this.core.timers.setTimeout(resolve, retryInMs));
        continue;
      }
      if (!done && (await this.afterLateClaims())) {
        // Turned away by a claim of this process that timed out and landed late (e.g. after a
        // store restart lost this record): it is released now, so the same try is made again.
        attempt--;
        continue;
      }
      this.stopRenewing();
      if (!done) {
        this.core.emit('leaseExpired', { ...this.base, operation: 'complete', status });
      } else if (this.core.listens('completed')) {
        this.core.emit('completed', {
          ...this.base,
          status,
          bodyRetained: response.body !== null,
          attempt,
        });
      }
      return;
    }
  }

  /**
   * Waits (at most a lease) until this process's timed-out claims on the key are undone. True
   * when there were any: another owner that turned a completion away may have been one of them.
   */
  private async afterLateClaims(): Promise<boolean> {
    const undoing = this.core.undoing.get(this.key);
    if (undoing === undefined) return false;
    await new Promise<void>((resolve) => {
      this.core.timers.setTimeout(resolve, this.core.options.leaseMs);
      undoing.then(resolve, resolve);
    });
    return !this.core.undoing.has(this.key);
  }

  /**
   * The client went away before the response was complete. The handler may still be running,
   * so the key is not released (a retry would run the side effect again): renewal stops, and
   * the claim either completes when the handler ends its response, or expires with its lease.
   */
  clientGone(): void {
    this.stopRenewing();
  }

  /**
   * The connection closed before the handler started: nobody can receive its answer, and the
   * request may no longer be readable, so the handler is not run and the key is released for
   * the client's retry. Resolves when the store has answered (never rejects).
   */
  async abandon(): Promise<void> {
    if (!this.begin()) return;
    await this.release(undefined);
  }

  private begin(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.stopRenewing();
    return true;
  }

  private stopRenewing(): void {
    this.renewal?.cancel();
    this.renewal = undefined;
  }

  /** Every `leaseRenewalMs` until settled: renew, and schedule the next renewal. */
  private readonly renewDue = (): void => {
    if (this.renewal === undefined) return;
    this.renewal = this.core.renewals.add(this.renewDue);
    this.renew();
  };

  private async release(status: number | undefined): Promise<void> {
    const o = this.core.options;
    try {
      const released = await this.core.withTimeout(
        'release',
        o.store.release({ key: this.key, owner: this.owner }),
      );
      const event = status === undefined ? this.base : { ...this.base, status };
      this.core.emit(released ? 'released' : 'leaseExpired', {
        ...event,
        ...(released ? {} : { operation: 'release' as const }),
      });
    } catch (error) {
      this.core.emit('storeError', { ...this.base, operation: 'release', error });
    }
  }

  private renew(): void {
    const o = this.core.options;
    this.core
      .withTimeout('renew', o.store.renew({ key: this.key, owner: this.owner, leaseMs: o.leaseMs }))
      .then(
        (held) => {
          if (held) return;
          this.stopRenewing();
          // While a completion is being retried, its own answer tells what happened.
          if (!this.settled) this.core.emit('leaseExpired', { ...this.base, operation: 'renew' });
        },
        (error: unknown) =>
          this.core.emit('storeError', { ...this.base, operation: 'renew', error }),
      );
  }
}

function replay(stored: ReplayableResponse, acceptEncoding: string | undefined): PreparedResponse {
  if (stored.body === null) {
    return problemResponse(
      'response-not-retained',
      {
        detail:
          'the request with this Idempotency-Key completed, but its response body was larger ' +
          'than the server keeps for replay',
        originalStatus: stored.status,
      },
      { [HEADERS.idempotentReplayed]: 'true' },
    );
  }
  const headers: Record<string, string> = {
    ...stored.headers,
    [HEADERS.idempotentReplayed]: 'true',
  };
  const coding = headers['content-encoding'];
  if (coding !== undefined && !acceptsCoding(acceptEncoding, coding)) {
    // Stored as sent to a client that took this coding; this one refuses it: decode it.
    const decoded = decodeBody(coding, stored.body);
    if (decoded !== undefined) {
      delete headers['content-encoding'];
      return { status: stored.status, headers, body: decoded };
    }
  }
  return { status: stored.status, headers, body: Buffer.from(stored.body) };
}

/**
 * Owner tokens: 96 random bits drawn once per process, then a counter. Unique across processes
 * and restarts like a UUID per claim, at the cost of a string concatenation (a token only names
 * a claim to the store; it is never shown to clients, so it need not be unpredictable).
 */
const OWNER_PREFIX = randomBytes(12).toString('base64url');
let ownerCount = 0;

function nextOwner(): string {
  ownerCount += 1;
  return OWNER_PREFIX + ownerCount.toString(36);
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function digestCustom(custom: string, scope: string): string {
  if (typeof custom !== 'string' || custom.length === 0) {
    throw new TypeError('the fingerprint option must return a non-empty string');
  }
  return recordKey(`fingerprint:${scope}`, custom);
}

/** Why the store could not claim, in words a caller may see (no internal error text). */
function unavailableDetail(error: unknown): string {
  if (isIdempotencyStoreFullError(error)) {
    return 'the idempotency store is full (every record is in flight or kept); retry later';
  }
  if (isIdempotencyStoreTimeoutError(error)) {
    return 'the idempotency store did not answer in time; retry later';
  }
  return 'the idempotency store could not be reached; retry later';
}
