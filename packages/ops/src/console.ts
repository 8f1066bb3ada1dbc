import {
  InvalidOptionError,
  isInvalidOptionError,
  option,
  validateOptions,
  type OptionRule,
} from '@unfazed/contract';
import {
  isInvalidOperationInputError,
  type DeadLetterQuery,
  type Durable,
  type HistoryEntry,
  type OperationRecord,
} from '@unfazed/client/durable';
import { memoryAuditLog, type AuditEntry, type OpsAuditLog } from './audit-log.js';
import {
  BulkRedriveRun,
  collectMatches,
  systemClock,
  type BulkRedriveFilter,
  type BulkRedriveJob,
  type CircuitView,
  type OpsClock,
} from './bulk-redrive.js';
import {
  OPS_PROBLEMS,
  OPS_PROBLEM_TYPE_BASE,
  OpsProblemError,
  isOpsProblemError,
} from './errors.js';
import { opsConsoleOptionsRule } from './options.js';
import { Redactor } from './redact.js';
import { isUiPath, serveUi } from './web-ui.js';
import { checkSameSite, type OpsAction, type OpsAuthorize } from './security.js';

/** Options of {@link opsConsole}. */
export interface OpsConsoleOptions {
  /** The durable instance (`createDurable(...)`) whose operations the console shows. */
  readonly durable: Durable;
  /**
   * Required: decides every request (see {@link OpsAuthorize}); `readOnly` for a read-only console.
   * `req` is the framework's request: annotate it (`req: express.Request`) to read your session.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the framework's request, any framework
  readonly authorize: OpsAuthorize<any>;
  /** Input paths masked in every response and in the audit log: `['card.number', 'items.*.pan']`. */
  readonly redact?: readonly string[];
  /** Where the routes live. Default `/ops` (`GET /ops/api/queues`, ...). */
  readonly basePath?: string;
  /**
   * Where actions are recorded. Required with a Redis durable store (`redisAuditLog(redis)`);
   * default `memoryAuditLog()` with the memory store.
   */
  readonly audit?: OpsAuditLog;
  /** The durable instance's client: bulk redrives wait while its `circuit(target)` is open. */
  readonly client?: {
    circuit(target: string): CircuitView;
    describe?(): { readonly baseUrl?: string | undefined };
  };
  /** Origins besides the console's own host allowed to send state-changing requests. */
  readonly allowedOrigins?: readonly string[];
  /** Largest request body, bytes. Default 2 MiB. */
  readonly maxBodyBytes?: number;
  /** Most operations one bulk redrive (or dry run) takes. Default 100 000. */
  readonly maxBulkItems?: number;
  /** The clock of bulk redrives (pacing, holds). Default the system clock. */
  readonly clock?: OpsClock;
}

/** A request, as any framework hands it to the console. */
export interface OpsRequest {
  readonly method: string;
  /** Path and query string, as received (`/ops/api/operations?type=charge`). */
  readonly url: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body (a framework read it), or `undefined`. */
  readonly body?: unknown;
  /**
   * Reads the body instead (a node request): called only for a POST route, after the
   * cross-site check and `authorize` passed.
   */
  readonly readBody?: () => Promise<unknown>;
  /** The framework's own request, handed to `authorize`. */
  readonly native: unknown;
}

/**
 * What the console answers: JSON (`application/json` or `application/problem+json`), or the web
 * UI's page and its script and style sheet (`GET {base}/`, `GET {base}/assets/...`).
 */
export interface OpsResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The console: a framework-free handler, mounted by the adapters. */
export interface OpsConsole {
  readonly basePath: string;
  readonly maxBodyBytes: number;
  /** Answers a request under `basePath`, or `undefined` for any other path (pass it on). */
  handle(req: OpsRequest): Promise<OpsResponse | undefined>;
  /** Cancels the running bulk redrives and waits for them to stop. */
  close(): Promise<void>;
}

/**
 * The operations console's HTTP API over a durable instance.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function opsConsole(options: OpsConsoleOptions): OpsConsole {
  const o = validateOptions(opsConsoleOptionsRule, options, { name: 'opsConsole' });
  let audit = o.audit;
  if (audit === undefined) {
    if (o.durable.store.kind !== 'memory') {
      throw new InvalidOptionError(
        'audit',
        `is required with a ${o.durable.store.kind} durable store: pass redisAuditLog(redis)`,
        undefined,
        { factory: 'opsConsole' },
      );
    }
    audit = memoryAuditLog();
  }
  return new Console({ ...o, audit, clock: o.clock ?? systemClock });
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

/** JSON with `<`, `>` and `&` escaped: the same value, and never markup whatever sniffs it. */
function json(status: number, value: unknown, type = JSON_HEADERS['content-type']): OpsResponse {
  const body = JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026');
  return { status, headers: { ...JSON_HEADERS, 'content-type': type }, body };
}

const reasonRule = option
  .string({ nonEmpty: true, maxLength: 2000 })
  .refine((s, fail) =>
    s.trim() === '' ? fail(undefined, 'a non-empty reason (not only spaces)') : s,
  );
const stateNames = ['failed', 'dead', 'compensated', 'compensating'] as const;
const epoch = option.number({ min: 0 });
const searchRule = option.object({
  type: option.string({ nonEmpty: true }).optional(),
  state: option.array(option.oneOf(stateNames)).optional(),
  errorCode: option.string({ nonEmpty: true }).optional(),
  status: option.number({ integer: true, min: 100, max: 599 }).optional(),
  since: epoch.optional(),
  until: epoch.optional(),
  text: option.string({ nonEmpty: true, maxLength: 1000 }).optional(),
  limit: option.number({ integer: true, min: 1, max: 1000 }).optional(),
  cursor: option.string({ nonEmpty: true, maxLength: 2000 }).optional(),
});
const filterRule = option.object({
  type: option.string({ nonEmpty: true }).optional(),
  states: option.array(option.oneOf(['failed', 'dead'])).optional(),
  errorCode: option.string({ nonEmpty: true }).optional(),
  status: option.number({ integer: true, min: 100, max: 599 }).optional(),
  since: epoch.optional(),
  until: epoch.optional(),
  text: option.string({ nonEmpty: true, maxLength: 1000 }).optional(),
} satisfies Record<keyof BulkRedriveFilter, OptionRule<unknown>>);
const redriveBody = option.object({ reason: reasonRule, input: option.unknown().optional() });
const reasonBody = option.object({ reason: reasonRule });
const bulkBody = option.object({
  filter: filterRule.default({}),
  reason: reasonRule,
  rate: option.number({ above: 0, max: 10_000 }).default(10),
  dryRun: option.boolean().default(false),
  max: option.number({ integer: true, min: 1 }).optional(),
  target: option.string({ nonEmpty: true }).optional(),
});
const auditQuery = option.object({
  limit: option.number({ integer: true, min: 1, max: 1000 }).optional(),
  cursor: option
    .string({ test: { check: /^\d+(-\d+)?$/, rule: 'a cursor returned by a previous page' } })
    .optional(),
});

type Resolved = Omit<ReturnType<typeof opsConsoleOptionsRule.parse>, 'audit' | 'clock'> & {
  audit: OpsAuditLog;
  clock: OpsClock;
};

interface Route {
  readonly method: 'GET' | 'POST';
  readonly pattern: RegExp;
  readonly action: OpsAction;
  readonly run: (c: Call) => Promise<OpsResponse>;
}

interface Call {
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly who: string;
}

/** @internal See {@link opsConsole}. */
class Console implements OpsConsole {
  readonly basePath: string;
  readonly maxBodyBytes: number;
  readonly #durable: Durable;
  readonly #redactor: Redactor;
  readonly #jobs = new Map<string, BulkRedriveRun>();
  readonly #routes: Route[];

  constructor(private readonly o: Resolved) {
    this.basePath = o.basePath;
    this.maxBodyBytes = o.maxBodyBytes;
    this.#durable = o.durable;
    this.#redactor = new Redactor(o.redact);
    const id = '([^/]+)';
    const r = (
      method: Route['method'],
      path: string,
      action: OpsAction,
      run: Route['run'],
    ): Route => ({
      method,
      pattern: new RegExp(`^${path}$`),
      action,
      run,
    });
    this.#routes = [
      r('GET', '/api/queues', 'read', () => this.#queues()),
      r('GET', '/api/operations', 'read', (c) => this.#search(c)),
      r('GET', `/api/operations/${id}`, 'read', (c) => this.#show(c)),
      r('POST', `/api/operations/${id}/redrive`, 'redrive', (c) => this.#redrive(c)),
      r('POST', `/api/operations/${id}/discard`, 'discard', (c) => this.#discard(c)),
      r('POST', '/api/bulk-redrives', 'bulk-redrive', (c) => this.#bulk(c)),
      r('GET', `/api/bulk-redrives/${id}`, 'read', (c) => this.#job(c)),
      r('POST', `/api/bulk-redrives/${id}/cancel`, 'cancel-bulk-redrive', (c) => this.#cancel(c)),
      r('POST', `/api/types/${id}/pause`, 'pause', (c) => this.#pause(c, true)),
      r('POST', `/api/types/${id}/resume`, 'resume', (c) => this.#pause(c, false)),
      r('GET', '/api/audit', 'read', (c) => this.#audit(c)),
    ];
  }

  async handle(req: OpsRequest): Promise<OpsResponse | undefined> {
    const url = new URL(req.url, 'http://console.invalid');
    const base = this.basePath;
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return undefined;
    const path = url.pathname.slice(base.length);
    try {
      if (req.method.toUpperCase() === 'GET' && isUiPath(path)) {
        // The web UI (src/ui): read access, like every GET.
        await this.#authorize(req.native, 'read');
        const page = await serveUi(path, base, url.searchParams);
        if (page) return page;
        throw new OpsProblemError('not-found', `no UI file ${path} under ${base || '/'}`);
      }
      const matching = this.#routes.filter((route) => route.pattern.test(path));
      if (matching.length === 0)
        throw new OpsProblemError('not-found', `no route ${path} under ${base || '/'}`);
      const route = matching.find((m) => m.method === req.method.toUpperCase());
      if (!route) {
        throw new OpsProblemError(
          'method-not-allowed',
          `${req.method} ${path}: use ${matching.map((m) => m.method).join(' or ')}`,
        );
      }
      if (route.method === 'POST') checkSameSite(req.headers, this.o.allowedOrigins);
      const who = await this.#authorize(req.native, route.action);
      const params = (route.pattern.exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
      const body = route.method === 'POST' && req.readBody ? await req.readBody() : req.body;
      return await route.run({ params, query: url.searchParams, body, who });
    } catch (error) {
      return this.#problem(error, url.pathname);
    }
  }

  async close(): Promise<void> {
    for (const job of this.#jobs.values()) job.cancel('console', 'the console closed');
    await Promise.all([...this.#jobs.values()].map((j) => j.done));
  }

  async #authorize(native: unknown, action: OpsAction): Promise<string> {
    const decision = await (this.o.authorize as OpsAuthorize)(native, action);
    if (decision.allow === true && typeof decision.who === 'string' && decision.who !== '')
      return decision.who;
    if (decision.allow === true)
      throw new Error('authorize allowed the request without naming who (a non-empty string)');
    const status = decision.status ?? 403;
    const message = decision.message ?? `not allowed to ${action}`;
    throw new OpsProblemError(status === 401 ? 'unauthenticated' : 'forbidden', message);
  }

  #problem(error: unknown, instance: string): OpsResponse {
    let p: OpsProblemError;
    if (isOpsProblemError(error)) p = error;
    else if (isInvalidOperationInputError(error))
      p = new OpsProblemError('invalid-input', error.message);
    else if (isInvalidOptionError(error))
      p = new OpsProblemError(
        // A missing, empty or blank reason has its own code (every action needs one).
        error.option === 'body.reason' ? 'reason-required' : 'invalid-request',
        error.message,
      );
    else
      p = new OpsProblemError(
        'internal',
        'the console failed to answer; see the server log',
        error,
      );
    if (p.problem === 'internal') console.error('@unfazed/ops:', error);
    const def = OPS_PROBLEMS[p.problem];
    return json(
      p.status,
      {
        type: `${OPS_PROBLEM_TYPE_BASE}${p.problem}`,
        title: def.title,
        status: p.status,
        detail: p.message,
        code: p.problem,
        instance,
      },
      'application/problem+json; charset=utf-8',
    );
  }

  // ---- read routes

  async #queues(): Promise<OpsResponse> {
    const store = this.#durable.store;
    const now = this.o.clock.now();
    const [counts, gauges, oldest, paused] = await Promise.all([
      this.#durable.counts(),
      this.#durable.gauges(),
      store.oldestDue ? store.oldestDue(Date.now()) : Promise.resolve(undefined),
      store.pausedTypes ? store.pausedTypes() : Promise.resolve([]),
    ]);
    const types = new Set([...Object.keys(counts), ...paused]);
    const queues = [...types].sort().map((type) => {
      const oldestDue = oldest?.[type];
      return {
        type,
        counts: counts[type] ?? emptyCounts(),
        due: gauges.due[type] ?? 0,
        inFlight: gauges.inFlight[type] ?? 0,
        oldestPendingAgeMs: oldestDue === undefined ? null : Math.max(0, Date.now() - oldestDue),
        paused: paused.includes(type),
      };
    });
    return json(200, {
      at: now,
      store: store.kind,
      pauseSupported: store.pauseType !== undefined,
      queues,
    });
  }

  async #search(c: Call): Promise<OpsResponse> {
    const q = validateOptions(searchRule, queryObject(c.query, ['state']), {
      name: 'GET /api/operations',
      path: 'query',
    });
    const query: DeadLetterQuery = {
      ...(q.type !== undefined ? { type: q.type } : {}),
      ...(q.state !== undefined ? { states: q.state } : {}),
      ...(q.errorCode !== undefined ? { errorCode: q.errorCode } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      ...(q.text !== undefined ? { text: q.text, textIn: ['input', 'error'] as const } : {}),
      limit: q.limit ?? 50,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    };
    const page = await this.#durable.deadLetters.list(query);
    const items = page.items
      .filter((r) => this.#visibleMatch(r, q.text))
      .map((r) => this.#summary(r));
    return json(200, page.cursor !== undefined ? { items, cursor: page.cursor } : { items });
  }

  /** A text match that is only inside a redacted value is not shown (it would reveal it). */
  #visibleMatch(r: OperationRecord, text: string | undefined): boolean {
    if (text === undefined || !this.#redactor.active) return true;
    if ((r.lastError?.message ?? '').includes(text)) return true;
    return JSON.stringify(this.#redactor.redactJson(r.input)).includes(text);
  }

  #summary(r: OperationRecord): Record<string, unknown> {
    return {
      id: r.id,
      type: r.type,
      state: viewState(r),
      attempts: r.attempts,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
      ...(r.lastError ? { lastError: this.#failure(r.lastError) } : {}),
      input: this.#redactor.redactJson(r.input),
    };
  }

  #failure(f: NonNullable<OperationRecord['lastError']>): Record<string, unknown> {
    return {
      code: f.code,
      message: f.message,
      ...(f.status !== undefined ? { status: f.status } : {}),
      ...(f.outcome !== undefined ? { outcome: f.outcome } : {}),
      ...(f.response
        ? {
            response: {
              status: f.response.status,
              headers: f.response.headers,
              body: this.#redactor.redactJson(f.response.body),
            },
          }
        : {}),
    };
  }

  async #show(c: Call): Promise<OpsResponse> {
    const id = c.params[0] as string;
    const details = await this.#get(id);
    const r = details.record;
    const paused = (await this.#durable.store.pausedTypes?.())?.includes(r.type) ?? false;
    return json(200, {
      ...this.#summary(r),
      state: r.state,
      viewState: viewState(r) ?? null,
      phase: r.phase,
      deadline: r.deadline,
      dueAt: r.dueAt,
      ...(r.key !== undefined ? { key: r.key } : {}),
      ...(r.leaseUntil !== undefined ? { leaseUntil: r.leaseUntil } : {}),
      ...(r.response
        ? {
            response: {
              status: r.response.status,
              headers: r.response.headers,
              body: this.#redactor.redactJson(r.response.body),
            },
          }
        : {}),
      paused,
      history: details.history.map(historyLine),
      ...(r.saga
        ? {
            saga: {
              step: r.saga.step,
              stuck: r.saga.stuck === true,
              ...(r.saga.wakeAt !== undefined ? { wakeAt: r.saga.wakeAt } : {}),
              steps: r.saga.steps.map((s) => ({
                ...s,
                ...(s.lastError ? { lastError: this.#failure(s.lastError) } : {}),
              })),
              results: Object.fromEntries(
                Object.entries(r.saga.results).map(([k, v]) => [k, this.#redactor.redact(v)]),
              ),
            },
          }
        : {}),
      next: nextStep(r, paused, Date.now()),
    });
  }

  async #get(id: string): Promise<NonNullable<Awaited<ReturnType<Durable['deadLetters']['get']>>>> {
    const details = await this.#durable.deadLetters.get(id);
    if (!details) throw new OpsProblemError('not-found', `no operation ${id}`);
    return details;
  }

  async #job(c: Call): Promise<OpsResponse> {
    const job = this.#jobs.get(c.params[0] as string);
    if (!job)
      throw new OpsProblemError('not-found', `no bulk redrive ${c.params[0]} in this process`);
    return json(200, job.snapshot());
  }

  async #audit(c: Call): Promise<OpsResponse> {
    const q = validateOptions(auditQuery, queryObject(c.query, []), {
      name: 'GET /api/audit',
      path: 'query',
    });
    const page = await this.o.audit.list({
      limit: q.limit ?? 50,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    return json(200, page);
  }

  // ---- actions

  async #record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry> {
    return this.o.audit.append(entry, Date.now());
  }

  async #redrive(c: Call): Promise<OpsResponse> {
    const id = c.params[0] as string;
    const b = validateOptions(redriveBody, c.body, {
      name: `POST /api/operations/${id}/redrive`,
      path: 'body',
    });
    const { record } = await this.#get(id);
    if (record.state !== 'failed' && record.state !== 'dead') {
      throw new OpsProblemError(
        'conflict',
        `operation ${id} is ${record.state}: only a failed or dead one can be redriven`,
      );
    }
    const edited = c.body !== null && typeof c.body === 'object' && 'input' in c.body;
    const ok = await this.#durable.deadLetters.redrive(id, edited ? { input: b.input } : {});
    if (!ok) throw new OpsProblemError('conflict', `operation ${id} is no longer failed or dead`);
    const audit = await this.#record({
      who: c.who,
      action: 'redrive',
      operationId: id,
      count: 1,
      reason: b.reason,
      ...(edited ? { input: this.#redactor.redact(b.input) } : {}),
    });
    return json(200, { id, redriven: true, inputEdited: edited, auditId: audit.id });
  }

  async #discard(c: Call): Promise<OpsResponse> {
    const id = c.params[0] as string;
    const b = validateOptions(reasonBody, c.body, {
      name: `POST /api/operations/${id}/discard`,
      path: 'body',
    });
    const { record } = await this.#get(id);
    if (!(await this.#durable.deadLetters.discard(id))) {
      throw new OpsProblemError(
        'conflict',
        `operation ${id} is ${record.state}: only a failed, dead or compensated one can be discarded`,
      );
    }
    const audit = await this.#record({
      who: c.who,
      action: 'discard',
      operationId: id,
      count: 1,
      reason: b.reason,
    });
    return json(200, { id, discarded: true, auditId: audit.id });
  }

  async #bulk(c: Call): Promise<OpsResponse> {
    const b = validateOptions(bulkBody, c.body, { name: 'POST /api/bulk-redrives', path: 'body' });
    const max = Math.min(b.max ?? this.o.maxBulkItems, this.o.maxBulkItems);
    const filter = b.filter as BulkRedriveFilter;
    const { records, capped } = await collectMatches(this.#durable, filter, max, (r) =>
      this.#visibleMatch(r, filter.text),
    );
    if (b.dryRun) {
      return json(200, {
        dryRun: true,
        count: records.length,
        capped,
        sample: records.slice(0, 10).map((r) => this.#summary(r)),
      });
    }
    const client = this.o.client;
    const target = b.target ?? originOf(client?.describe?.().baseUrl);
    const circuit = client && target !== undefined ? () => client.circuit(target) : undefined;
    const run = new BulkRedriveRun(
      this.#durable,
      this.o.clock,
      circuit,
      records.map((r) => r.id),
      {
        filter,
        rate: b.rate,
        ...(target !== undefined ? { target } : {}),
        createdBy: c.who,
        reason: b.reason,
      },
    );
    this.#remember(run);
    await this.#record({
      who: c.who,
      action: 'bulk-redrive',
      jobId: run.id,
      filter,
      count: records.length,
      reason: b.reason,
    });
    return json(202, run.snapshot());
  }

  /** Keeps the running jobs and the latest 100 finished ones. */
  #remember(run: BulkRedriveRun): void {
    this.#jobs.set(run.id, run);
    const finished = [...this.#jobs.values()].filter((j) => j.finished);
    for (const j of finished.slice(0, Math.max(0, finished.length - 100))) this.#jobs.delete(j.id);
  }

  async #cancel(c: Call): Promise<OpsResponse> {
    const id = c.params[0] as string;
    const b = validateOptions(reasonBody, c.body, {
      name: `POST /api/bulk-redrives/${id}/cancel`,
      path: 'body',
    });
    const job = this.#jobs.get(id);
    if (!job) throw new OpsProblemError('not-found', `no bulk redrive ${id} in this process`);
    if (job.finished)
      throw new OpsProblemError(
        'conflict',
        `bulk redrive ${id} is already ${job.snapshot().state}`,
      );
    job.cancel(c.who, b.reason);
    await job.done;
    const snap: BulkRedriveJob = job.snapshot();
    await this.#record({
      who: c.who,
      action: 'cancel-bulk-redrive',
      jobId: id,
      count: snap.total - snap.redriven - snap.failed.length,
      reason: b.reason,
    });
    return json(200, snap);
  }

  async #pause(c: Call, pause: boolean): Promise<OpsResponse> {
    const type = c.params[0] as string;
    const action = pause ? 'pause' : 'resume';
    const b = validateOptions(reasonBody, c.body, {
      name: `POST /api/types/${type}/${action}`,
      path: 'body',
    });
    const store = this.#durable.store;
    if (!store.pauseType || !store.resumeType || !store.pausedTypes) {
      throw new OpsProblemError('conflict', `the ${store.kind} durable store cannot pause types`);
    }
    const [counts, paused] = await Promise.all([this.#durable.counts(), store.pausedTypes()]);
    if (counts[type] === undefined && !paused.includes(type)) {
      throw new OpsProblemError('not-found', `no operation of type ${type} is known to the store`);
    }
    if (pause) await store.pauseType(type);
    else await store.resumeType(type);
    const c0 = counts[type];
    const audit = await this.#record({
      who: c.who,
      action,
      type,
      count: c0 ? c0.pending + c0.running : 0,
      reason: b.reason,
    });
    return json(200, { type, paused: pause, auditId: audit.id });
  }
}

function emptyCounts(): Record<string, number> {
  return {
    pending: 0,
    running: 0,
    completed: 0,
    failed: 0,
    dead: 0,
    compensating: 0,
    compensated: 0,
  };
}

function viewState(r: OperationRecord): string | undefined {
  if (r.state === 'failed' || r.state === 'dead' || r.state === 'compensated') return r.state;
  if (r.phase === 'compensate' && r.saga?.stuck === true) return 'compensating';
  return undefined;
}

/** Query parameters as an object: numbers where the rule wants numbers, lists split on commas. */
function queryObject(params: URLSearchParams, lists: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    if (lists.includes(key)) {
      out[key] = values.flatMap((v) => v.split(',')).filter((v) => v !== '');
      continue;
    }
    const v = values[values.length - 1] as string;
    if (['limit', 'status'].includes(key)) out[key] = v.trim() === '' ? v : Number(v);
    else if (['since', 'until'].includes(key))
      out[key] = /^\d+$/.test(v) ? Number(v) : Number.isNaN(Date.parse(v)) ? v : Date.parse(v);
    else out[key] = v;
  }
  return out;
}

function historyLine(e: HistoryEntry): Record<string, unknown> {
  return { ...e };
}

/** What happens to the operation next, in words and as a kind the UI can show. */
function nextStep(r: OperationRecord, paused: boolean, now: number): Record<string, unknown> {
  const at = (t: number): string => new Date(t).toISOString();
  switch (r.state) {
    case 'completed':
      return { kind: 'none', description: 'completed: nothing more happens' };
    case 'failed':
    case 'dead':
      return {
        kind: 'operator',
        description: `gave up (${r.state}): it waits for an operator to redrive or discard it`,
      };
    case 'compensated':
      return {
        kind: 'operator',
        description: 'compensated: its completed steps were undone; it can only be discarded',
      };
    case 'running':
      return {
        kind: 'running',
        at: r.leaseUntil,
        description: `a worker holds it until ${at(r.leaseUntil ?? now)}; if that worker dies, another takes it over then`,
      };
    default: {
      const what = r.phase === 'compensate' ? 'compensation attempt' : 'attempt';
      if (paused)
        return {
          kind: 'paused',
          description: `its type is paused: no ${what} until it is resumed`,
        };
      const when = Math.max(r.dueAt, now);
      return {
        kind: r.phase === 'compensate' ? 'compensation' : 'attempt',
        at: r.dueAt,
        description: `next ${what} ${r.dueAt <= now ? 'as soon as a worker is free' : `at ${at(when)}`}; gives up at the deadline ${at(r.deadline)}`,
      };
    }
  }
}

function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
