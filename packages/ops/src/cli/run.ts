import { readFile } from 'node:fs/promises';
import {
  USAGE,
  UsageError,
  commandUsage,
  intFlag,
  parseCommandLine,
  positiveFlag,
  statesFlag,
  stringFlag,
  timeFlag,
  type Parsed,
} from './args.js';
import { Api, ApiError, baseUrl, requestHeaders } from './api.js';
import {
  compact,
  cut,
  duration,
  oneLine,
  paint,
  table,
  time,
  wantsColor,
  type Paint,
} from './format.js';

/** The exit codes of `unfazed-ops`. */
export const EXIT = Object.freeze({
  ok: 0,
  usage: 1,
  api: 2,
  notFound: 3,
  refused: 4,
  bulkIncomplete: 5,
});

/** A writable stream as the CLI uses it. */
export interface Out {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** What the CLI runs in: the process, or a test's stand-in. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: Out;
  readonly stderr: Out;
  /** Calls `handler` on Ctrl-C (SIGINT) until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
  /** Reads a file (`-`: stdin). */
  readFile?(path: string): Promise<string>;
}

interface Ctx {
  readonly io: CliIo;
  readonly api: Api;
  readonly json: boolean;
  readonly p: Paint;
  readonly command: string;
  readonly flags: Parsed['flags'];
  readonly args: readonly string[];
}

/* eslint-disable @typescript-eslint/no-explicit-any -- API answers are read as the README documents them */
type Doc = any;

/** Runs `unfazed-ops` with `argv` (without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const jsonWanted = argv.includes('--json');
  let parsed: Parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    return usageFailure(error, io, jsonWanted);
  }
  const { command, flags, args } = parsed;
  if (command === undefined || flags['help'] === true) {
    io.stdout.write(`${command === undefined ? USAGE : commandUsage(command)}\n`);
    return EXIT.ok;
  }
  const json = flags['json'] === true;
  let api: Api;
  try {
    const timeoutMs = intFlag(flags, 'timeout', command, 1) ?? 10_000;
    api = new Api({
      base: baseUrl(stringFlag(flags, 'url'), io.env),
      headers: requestHeaders((flags['header'] as string[] | undefined) ?? [], io.env),
      timeoutMs,
    });
  } catch (error) {
    return usageFailure(error, io, json, command);
  }
  const ctx: Ctx = {
    io,
    api,
    json,
    p: paint(!json && wantsColor(io.stdout, io.env)),
    command,
    flags,
    args,
  };
  try {
    const runCommand = COMMAND_RUNS[command];
    if (!runCommand) throw new UsageError(`unknown command "${command}"`);
    return await runCommand(ctx);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error, io, json, command);
    if (error instanceof ApiError) return apiFailure(error, ctx);
    throw error;
  }
}

function usageFailure(error: unknown, io: CliIo, json: boolean, command?: string): number {
  if (!(error instanceof UsageError)) throw error;
  const usage = commandUsage(error.command ?? command ?? '');
  io.stderr.write(`unfazed-ops: ${error.message}\n\n${usage}\n`);
  if (json)
    io.stdout.write(`${JSON.stringify({ error: { code: 'usage', detail: error.message } })}\n`);
  return EXIT.usage;
}

/** Requests that address one resource: their 404 means "no such thing" (exit 3). */
const ADDRESSING = new Set(['show', 'redrive', 'discard', 'pause', 'resume']);

function apiFailure(error: ApiError, ctx: Ctx): number {
  const { problem, status } = error;
  const code =
    status === 401 || status === 403
      ? EXIT.refused
      : status === 404 && ADDRESSING.has(ctx.command) && ctx.args.length > 0
        ? EXIT.notFound
        : EXIT.api;
  const hint =
    (status === 404 && code === EXIT.api) || problem.code === 'not-json'
      ? ` (is --url the console's base, e.g. http://host:port/ops? it is ${ctx.api.base})`
      : status === 401
        ? ' (pass credentials with --header or UNFAZED_OPS_AUTHORIZATION)'
        : '';
  const head = status === 0 ? problem.code : `${status} ${problem.code}`;
  ctx.io.stderr.write(`unfazed-ops: ${head}: ${problem.detail}${hint}\n`);
  if (ctx.json) ctx.io.stdout.write(`${JSON.stringify({ error: { status, ...problem } })}\n`);
  return code;
}

function emit(ctx: Ctx, doc: unknown, human: () => string): void {
  ctx.io.stdout.write(ctx.json ? `${JSON.stringify(doc, null, 2)}\n` : human());
}

function reasonOf(ctx: Ctx): string {
  const reason = stringFlag(ctx.flags, 'reason');
  if (reason === undefined || reason.trim() === '')
    throw new UsageError(
      `${ctx.command} needs --reason "…" (every action is written to the audit log with its reason)`,
      ctx.command,
    );
  return reason;
}

const enc = encodeURIComponent;

// ---- commands

const COMMAND_RUNS: Record<string, (ctx: Ctx) => Promise<number>> = {
  queues,
  search,
  show,
  redrive,
  discard,
  pause: (ctx) => pauseOrResume(ctx, 'pause'),
  resume: (ctx) => pauseOrResume(ctx, 'resume'),
  audit,
};

async function queues(ctx: Ctx): Promise<number> {
  const doc: Doc = await ctx.api.get('/queues');
  emit(ctx, doc, () => {
    const { p } = ctx;
    if (doc.queues.length === 0) return `no operations in the ${doc.store} store yet\n`;
    const n = (v: number, paintIt = (s: string) => s): string => (v > 0 ? paintIt(String(v)) : '0');
    return table(
      [
        'TYPE',
        'PENDING',
        'RUNNING',
        'COMPLETED',
        'FAILED',
        'DEAD',
        'COMPENSATING',
        'COMPENSATED',
        'DUE',
        'IN FLIGHT',
        'OLDEST DUE',
        'PAUSED',
      ],
      doc.queues.map((q: Doc) => [
        q.type,
        n(q.counts.pending),
        n(q.counts.running),
        n(q.counts.completed),
        n(q.counts.failed, p.red),
        n(q.counts.dead, p.red),
        n(q.counts.compensating, p.yellow),
        n(q.counts.compensated, p.yellow),
        n(q.due),
        n(q.inFlight),
        q.oldestPendingAgeMs === null ? '-' : duration(q.oldestPendingAgeMs),
        q.paused ? p.yellow('paused') : 'no',
      ]),
      p,
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });
  return EXIT.ok;
}

/** The search filter flags as query parameters (search) or a bulk filter (redrive). */
function filterFlags(ctx: Ctx, states: readonly string[]): Record<string, unknown> {
  const f = ctx.flags;
  const out: Record<string, unknown> = {};
  const type = stringFlag(f, 'type');
  if (type !== undefined) out['type'] = type;
  const s = statesFlag(f, ctx.command, states);
  if (s !== undefined) out['states'] = s;
  const errorCode = stringFlag(f, 'error-code');
  if (errorCode !== undefined) out['errorCode'] = errorCode;
  const status = intFlag(f, 'status', ctx.command, 100, 599);
  if (status !== undefined) out['status'] = status;
  const since = timeFlag(f, 'since', ctx.command);
  if (since !== undefined) out['since'] = since;
  const until = timeFlag(f, 'until', ctx.command);
  if (until !== undefined) out['until'] = until;
  const text = stringFlag(f, 'text');
  if (text !== undefined) out['text'] = text;
  return out;
}

function summaryRows(items: readonly Doc[], p: Paint, wide: number): string[][] {
  return items.map((o) => [
    o.id,
    o.type,
    p.state(o.state ?? '-'),
    String(o.attempts),
    time(o.finishedAt ?? o.updatedAt),
    cut(oneLine(o.lastError ? `${o.lastError.code}: ${o.lastError.message}` : '-'), 48),
    cut(compact(o.input), wide),
  ]);
}

const SUMMARY_HEADERS = ['ID', 'TYPE', 'STATE', 'ATTEMPTS', 'FINISHED', 'LAST ERROR', 'INPUT'];

function inputWidth(ctx: Ctx): number {
  const cols = ctx.io.stdout.isTTY ? (ctx.io.stdout.columns ?? 160) : 160;
  return Math.max(20, Math.min(80, cols - 120));
}

async function search(ctx: Ctx): Promise<number> {
  const { flags } = ctx;
  const all = flags['all'] === true;
  const cursor0 = stringFlag(flags, 'cursor');
  if (all && cursor0 !== undefined)
    throw new UsageError('--all reads every page from the first: leave out --cursor', 'search');
  const filter = filterFlags(ctx, ['failed', 'dead', 'compensated', 'compensating']);
  const limit = intFlag(flags, 'limit', 'search', 1, 1000);
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(filter))
    query.set(k === 'states' ? 'state' : k, Array.isArray(v) ? v.join(',') : String(v));
  query.set('limit', String(limit ?? (all ? 1000 : 50)));
  const items: Doc[] = [];
  let cursor = cursor0;
  let pages = 0;
  do {
    if (cursor !== undefined) query.set('cursor', cursor);
    const page: Doc = await ctx.api.get('/operations', query);
    items.push(...page.items);
    cursor = page.cursor;
    pages++;
  } while (all && cursor !== undefined);
  const doc = all || cursor === undefined ? { items } : { items, cursor };
  emit(ctx, doc, () => {
    const body =
      items.length === 0
        ? 'no operation matches\n'
        : table(SUMMARY_HEADERS, summaryRows(items, ctx.p, inputWidth(ctx)), ctx.p, [3]);
    const foot =
      cursor !== undefined
        ? ctx.p.dim(
            `${items.length} shown; more may match: --cursor ${cursor} (or --all)${items.length === 0 ? ' — a page reads a bounded part of the index, so an empty page can have a next one' : ''}\n`,
          )
        : ctx.p.dim(
            `${items.length} operation${items.length === 1 ? '' : 's'}${all ? ` (${pages} page${pages === 1 ? '' : 's'})` : ''}\n`,
          );
    return body + foot;
  });
  return EXIT.ok;
}

async function show(ctx: Ctx): Promise<number> {
  const id = ctx.args[0] as string;
  const o: Doc = await ctx.api.get(`/operations/${enc(id)}`);
  emit(ctx, o, () => {
    const { p } = ctx;
    const lines: string[] = [];
    const kv = (k: string, v: string): void => void lines.push(`${p.bold(k.padEnd(10))} ${v}`);
    kv('id', o.id);
    kv('type', o.type);
    kv(
      'state',
      `${p.state(o.viewState ?? o.state)}${o.viewState && o.viewState !== o.state ? ` (${o.state})` : ''}, phase ${o.phase}${o.paused ? `, ${p.yellow('type paused')}` : ''}`,
    );
    kv('attempts', String(o.attempts));
    if (o.key !== undefined) kv('key', o.key);
    kv('created', time(o.createdAt));
    kv('updated', time(o.updatedAt));
    if (o.finishedAt !== undefined) kv('finished', time(o.finishedAt));
    kv('deadline', time(o.deadline));
    if (o.lastError) {
      const e = o.lastError;
      kv(
        'last error',
        p.red(
          `${e.code}: ${oneLine(e.message)}${e.outcome !== undefined ? ` (outcome ${e.outcome})` : ''}`,
        ),
      );
    }
    kv('input', compact(o.input));
    kv('next', `${o.next.description}${o.next.at !== undefined ? ` (${time(o.next.at)})` : ''}`);
    lines.push('');
    lines.push(p.bold(`attempts and events (${o.history.length})`));
    lines.push(
      o.history.length === 0
        ? '  none yet'
        : table(
            ['AT', 'KIND', 'STEP', 'ATTEMPT', 'RESULT', 'DURATION', 'NEXT DELAY', 'WORKER'],
            o.history.map((h: Doc) => [
              time(h.at),
              h.kind,
              h.step ?? '-',
              h.attempt !== undefined ? String(h.attempt) : '-',
              cut(
                oneLine(
                  [
                    h.status !== undefined && h.error !== `status ${h.status}`
                      ? String(h.status)
                      : '',
                    h.error ?? '',
                    h.note ?? '',
                  ]
                    .filter((s) => s !== '')
                    .join(' ') || 'ok',
                ),
                60,
              ),
              h.durationMs !== undefined ? duration(h.durationMs) : '-',
              h.delayMs !== undefined
                ? `${duration(h.delayMs)}${h.delayReason ? ` (${h.delayReason})` : ''}`
                : '-',
              h.worker ?? '-',
            ]),
            p,
            [3],
          ).trimEnd(),
    );
    if (o.saga) {
      const s = o.saga;
      lines.push('');
      lines.push(
        p.bold(
          `saga steps (current: ${s.steps[s.step]?.name ?? `#${s.step + 1}`}${s.stuck ? `, ${p.red('compensation stuck')}` : ''})`,
        ),
      );
      lines.push(
        table(
          ['', '#', 'STEP', 'STATE', 'ATTEMPTS', 'COMPENSATIONS', 'OUTCOME', 'LAST ERROR'],
          s.steps.map((st: Doc, i: number) => [
            i === s.step ? '▶' : ' ',
            String(i + 1),
            st.name,
            p.state(st.state),
            String(st.attempts ?? 0),
            st.compensationAttempts !== undefined ? String(st.compensationAttempts) : '-',
            st.outcome ?? '-',
            cut(oneLine(st.lastError ? `${st.lastError.code}: ${st.lastError.message}` : '-'), 50),
          ]),
          p,
          [1, 4, 5],
        ).trimEnd(),
      );
    }
    return `${lines.join('\n')}\n`;
  });
  return EXIT.ok;
}

async function readInput(ctx: Ctx): Promise<{ input: unknown } | undefined> {
  const inline = stringFlag(ctx.flags, 'input');
  const file = stringFlag(ctx.flags, 'input-file');
  if (inline !== undefined && file !== undefined)
    throw new UsageError('give --input or --input-file, not both', 'redrive');
  if (inline === undefined && file === undefined) return undefined;
  let text: string;
  const from = file !== undefined ? `--input-file ${file}` : '--input';
  if (file !== undefined) {
    try {
      text = await (ctx.io.readFile ?? ((f: string) => readFile(f, 'utf8')))(file);
    } catch (error) {
      throw new UsageError(`${from}: cannot read it (${(error as Error).message})`, 'redrive');
    }
  } else text = inline as string;
  try {
    return { input: JSON.parse(text) as unknown };
  } catch (error) {
    throw new UsageError(`${from} is not JSON: ${(error as Error).message}`, 'redrive');
  }
}

const BULK_ONLY = ['filter', 'type', 'state', 'error-code', 'status', 'since', 'until', 'text'];
const BULK_TUNING = ['rate', 'max', 'target', 'dry-run', 'cancel-reason'];

async function redrive(ctx: Ctx): Promise<number> {
  const id = ctx.args[0];
  const given = (names: readonly string[]): string[] =>
    names.filter((n) => ctx.flags[n] !== undefined).map((n) => `--${n}`);
  if (id !== undefined) {
    const bulkFlags = given([...BULK_ONLY, ...BULK_TUNING]);
    if (bulkFlags.length > 0)
      throw new UsageError(
        `${bulkFlags[0]} is for a bulk redrive (redrive --filter …), not for one operation (${id})`,
        'redrive',
      );
    const reason = reasonOf(ctx);
    const edited = await readInput(ctx);
    const doc: Doc = await ctx.api.post(`/operations/${enc(id)}/redrive`, {
      reason,
      ...(edited ?? {}),
    });
    emit(
      ctx,
      doc,
      () =>
        `redriven ${doc.id}${doc.inputEdited ? ' with the edited input' : ''}: pending, due now (audit ${doc.auditId})\n`,
    );
    return EXIT.ok;
  }
  if (given(BULK_ONLY).length === 0)
    throw new UsageError(
      "redrive needs an operation id, or --filter (a JSON filter, '{}' for every failed and dead operation) and/or filter flags for a bulk redrive",
      'redrive',
    );
  const edit = given(['input', 'input-file']);
  if (edit.length > 0)
    throw new UsageError(`${edit[0]} edits one operation: give its id (redrive <id>)`, 'redrive');
  const reason = reasonOf(ctx);
  let filter: Record<string, unknown> = {};
  const raw = stringFlag(ctx.flags, 'filter');
  if (raw !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new UsageError(
        `--filter must be a JSON object such as '{"type":"charge","states":["dead"]}': ${(error as Error).message}`,
        'redrive',
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new UsageError(`--filter must be a JSON object (got ${raw})`, 'redrive');
    filter = parsed as Record<string, unknown>;
  }
  filter = { ...filter, ...filterFlags(ctx, ['failed', 'dead']) };
  const rate = positiveFlag(ctx.flags, 'rate', 'redrive');
  const max = intFlag(ctx.flags, 'max', 'redrive', 1);
  const target = stringFlag(ctx.flags, 'target');
  const dryRun = ctx.flags['dry-run'] === true;
  const body = {
    filter,
    reason,
    dryRun,
    ...(rate !== undefined ? { rate } : {}),
    ...(max !== undefined ? { max } : {}),
    ...(target !== undefined ? { target } : {}),
  };
  if (dryRun) {
    const doc: Doc = await ctx.api.post('/bulk-redrives', body);
    emit(ctx, doc, () => {
      const head = `dry run: ${doc.count}${doc.capped ? '+ (capped)' : ''} operation${doc.count === 1 ? '' : 's'} would be redriven${rate !== undefined ? ` at ${rate}/s` : ''}; nothing changed\n`;
      if (doc.sample.length === 0) return head;
      return `${head}\n${ctx.p.bold(`sample (${doc.sample.length})`)}\n${table(SUMMARY_HEADERS, summaryRows(doc.sample, ctx.p, inputWidth(ctx)), ctx.p, [3])}`;
    });
    return EXIT.ok;
  }
  let job: Doc = await ctx.api.post('/bulk-redrives', body);
  const bar = progressBar(ctx.io.stderr, ctx.io.env);
  let interrupted = 0;
  let cancelling: Promise<void> | undefined;
  const cancelReason =
    stringFlag(ctx.flags, 'cancel-reason') ?? `interrupted (Ctrl-C) in unfazed-ops: ${reason}`;
  const stop = ctx.io.onInterrupt(() => {
    interrupted++;
    if (interrupted > 1) {
      ctx.io.stderr.write('\nunfazed-ops: interrupted again; leaving without waiting\n');
      process.exit(130);
    }
    ctx.io.stderr.write(`\nunfazed-ops: cancelling bulk redrive ${job.id}…\n`);
    cancelling = ctx.api
      .post(`/bulk-redrives/${enc(job.id)}/cancel`, { reason: cancelReason })
      .then(
        (j) => void (job = j),
        (error: unknown) => {
          // Finished meanwhile (409): the loop reads the final job.
          if (!(error instanceof ApiError && error.status === 409)) throw error;
        },
      );
  });
  try {
    bar.update(job);
    while (!FINISHED.has(job.state)) {
      await new Promise((r) => setTimeout(r, 200));
      if (cancelling) {
        await cancelling;
        cancelling = undefined;
        if (FINISHED.has(job.state)) break;
      }
      job = await ctx.api.get(`/bulk-redrives/${enc(job.id)}`);
      bar.update(job);
    }
    bar.update(job);
    bar.done();
  } finally {
    stop();
  }
  emit(ctx, job, () => {
    const { p } = ctx;
    const lines = [
      `bulk redrive ${job.id}: ${p.state(job.state)} — ${job.redriven} of ${job.total} redriven, ${job.failed.length} failed, in ${duration((job.finishedAt ?? Date.now()) - job.startedAt)}${job.heldMs > 0 ? ` (held ${duration(job.heldMs)} by an open circuit)` : ''}`,
    ];
    if (job.state === 'cancelled')
      lines.push(`cancelled by ${job.cancelledBy}: ${job.cancelReason}`);
    if (job.error) lines.push(p.red(`error: ${job.error}`));
    let out = `${lines.join('\n')}\n`;
    if (job.failed.length > 0)
      out += `\n${p.bold('failed to redrive')}\n${table(
        ['ID', 'ERROR'],
        job.failed.map((f: Doc) => [f.id, oneLine(f.error)]),
        p,
      )}`;
    return out;
  });
  return job.state === 'completed' && job.failed.length === 0 ? EXIT.ok : EXIT.bulkIncomplete;
}

const FINISHED = new Set(['completed', 'cancelled', 'failed']);

/** The bulk redrive's progress on stderr: redrawn in place on a terminal, a line a second otherwise. */
function progressBar(err: Out, env: NodeJS.ProcessEnv): { update(job: Doc): void; done(): void } {
  const tty = err.isTTY === true;
  const p = paint(wantsColor(err, env));
  let last = '';
  let lastAt = 0;
  let pending = '';
  const render = (job: Doc): string => {
    const done = job.redriven + job.failed.length;
    const total = Math.max(job.total, 0);
    const slots = 30;
    const filled = total === 0 ? slots : Math.round((done / total) * slots);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(slots - filled)}]`;
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    const held = job.state === 'held' ? ` — circuit open, held until ${time(job.heldUntil)}` : '';
    return `${bar} ${done}/${total} ${String(pct).padStart(3)}% · ${job.redriven} redriven · ${job.failed.length} failed · ${p.state(job.state)}${held}`;
  };
  return {
    update(job) {
      const line = render(job);
      if (line === last) return;
      last = line;
      if (tty) {
        err.write(`\r\x1b[2K${line}`);
        return;
      }
      const now = Date.now();
      if (now - lastAt >= 1000 || FINISHED.has(job.state)) {
        err.write(`${line}\n`);
        lastAt = now;
        pending = '';
      } else pending = line;
    },
    done() {
      if (tty) err.write('\n');
      else if (pending !== '') err.write(`${pending}\n`);
    },
  };
}

async function discard(ctx: Ctx): Promise<number> {
  const id = ctx.args[0] as string;
  const doc: Doc = await ctx.api.post(`/operations/${enc(id)}/discard`, { reason: reasonOf(ctx) });
  emit(ctx, doc, () => `discarded ${doc.id} (audit ${doc.auditId})\n`);
  return EXIT.ok;
}

async function pauseOrResume(ctx: Ctx, action: 'pause' | 'resume'): Promise<number> {
  const type = ctx.args[0] as string;
  const doc: Doc = await ctx.api.post(`/types/${enc(type)}/${action}`, { reason: reasonOf(ctx) });
  emit(
    ctx,
    doc,
    () =>
      `${doc.type}: ${doc.paused ? 'paused — workers no longer claim its pending operations' : 'resumed — its pending operations are due again'} (audit ${doc.auditId})\n`,
  );
  return EXIT.ok;
}

async function audit(ctx: Ctx): Promise<number> {
  const { flags } = ctx;
  const all = flags['all'] === true;
  const cursor0 = stringFlag(flags, 'cursor');
  if (all && cursor0 !== undefined)
    throw new UsageError('--all reads every page from the first: leave out --cursor', 'audit');
  const limit = intFlag(flags, 'limit', 'audit', 1, 1000);
  const query = new URLSearchParams({ limit: String(limit ?? (all ? 1000 : 50)) });
  const items: Doc[] = [];
  let cursor = cursor0;
  do {
    if (cursor !== undefined) query.set('cursor', cursor);
    const page: Doc = await ctx.api.get('/audit', query);
    items.push(...page.items);
    cursor = page.cursor;
  } while (all && cursor !== undefined);
  const doc = cursor === undefined ? { items } : { items, cursor };
  emit(ctx, doc, () => {
    if (items.length === 0) return 'the audit log is empty\n';
    const what = (e: Doc): string =>
      e.operationId ??
      e.type ??
      (e.jobId !== undefined ? `job ${e.jobId}${e.filter ? ` ${compact(e.filter)}` : ''}` : '-');
    const body = table(
      ['AT', 'WHO', 'ACTION', 'TARGET', 'COUNT', 'REASON'],
      items.map((e) => [
        time(e.at),
        e.who,
        e.action + (e.input !== undefined ? ' (edited input)' : ''),
        cut(oneLine(what(e)), 70),
        String(e.count),
        cut(oneLine(e.reason), 60),
      ]),
      ctx.p,
      [4],
    );
    return body + (cursor !== undefined ? ctx.p.dim(`more: --cursor ${cursor} (or --all)\n`) : '');
  });
  return EXIT.ok;
}
