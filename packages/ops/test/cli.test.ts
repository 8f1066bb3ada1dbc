import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import { startCliFixture, type CliFixture } from './cli-fixture.js';
import { call } from './support.js';

// The CLI runs as a child process, from its TypeScript sources through tsx (as `pnpm demo`
// runs the demo: no build needed); one test runs the built bin with plain node.
const PKG = join(__dirname, '..');
const MAIN = join(PKG, 'src', 'cli', 'main.ts');
const BIN = join(PKG, 'dist', 'cli', 'main.js');
const TSX = pathToFileURL(createRequire(MAIN).resolve('tsx')).href;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Started {
  readonly child: ChildProcess;
  readonly done: Promise<Run>;
  stderr(): string;
}

let ctx: RedisTestContext;
let f: CliFixture;
const AUTH = { UNFAZED_OPS_AUTHORIZATION: 'Bearer sre' };

function start(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  argv0: readonly string[] = ['--conditions=@unfazed/source', '--import', TSX, MAIN],
): Started {
  const child = spawn(process.execPath, [...argv0, ...args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      UNFAZED_OPS_URL: f.url,
      ...AUTH,
      ...env,
    } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done, stderr: () => stderr };
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs `unfazed-ops args` to its end. */
const cli = (args: readonly string[], env: Record<string, string | undefined> = {}): Promise<Run> =>
  start(args, env).done;

/** Fails with the run's output when it did not exit with `code`. */
function expectExit(run: Run, code: number): Run {
  if (run.code !== code)
    throw new Error(
      `unfazed-ops exited ${run.code}, expected ${code}:\n${run.stdout}\n${run.stderr}`,
    );
  expect(run.stdout + run.stderr).not.toContain('\x1b['); // not a terminal: no colour
  return run;
}

/** The one JSON document on stdout. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- documents are read freely
function doc(run: Run): any {
  return JSON.parse(run.stdout);
}

beforeAll(async () => {
  ctx = await redisTestContext('ops-cli');
  f = await startCliFixture(ctx, `${ctx.prefix}cli:`);
}, 20_000);
afterAll(async () => {
  await f?.close();
  await ctx?.close();
});

describe('unfazed-ops reads', () => {
  it('queues: a table of counts and gauges; --json is the API document', async () => {
    const [t, j] = await Promise.all([cli(['queues']), cli(['queues', '--json'])]);
    const lines = expectExit(t, 0).stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^TYPE\s+PENDING\s+RUNNING\s+COMPLETED\s+FAILED\s+DEAD\s+COMPENSATING\s+COMPENSATED\s+DUE\s+IN FLIGHT\s+OLDEST DUE\s+PAUSED$/,
    );
    expect(lines.find((l) => l.startsWith('book '))).toMatch(
      /^book\s+0\s+0\s+0\s+0\s+0\s+0\s+1\s+0\s+0\s+-\s+no$/,
    );
    // Aligned: every row's columns end where the header's do (numbers aligned right).
    const end = (l: string): number => l.indexOf('COMPENSATED') + 'COMPENSATED'.length;
    expect(
      lines
        .find((l) => l.startsWith('book '))
        ?.slice(end(lines[0] as string) - 1, end(lines[0] as string)),
    ).toBe('1');
    const queues = doc(expectExit(j, 0)).queues;
    expect(queues.find((q: { type: string }) => q.type === 'charge').counts).toMatchObject({
      failed: 3,
      dead: 2,
    });
  });

  it('search: every filter, --limit with --cursor paging, --all, table and --json', async () => {
    const runs = await Promise.all([
      cli(['search']),
      cli(['search', '--json']),
      cli(['search', '--json', '--type', 'book']),
      cli(['search', '--json', '--state', 'dead']),
      cli(['search', '--json', '--state', 'failed,compensated']),
      cli(['search', '--json', '--state', 'failed', '--state', 'dead']),
      cli(['search', '--json', '--error-code', 'attempts-exhausted']),
      cli(['search', '--json', '--status', '404']),
      cli(['search', '--json', '--since', new Date(Date.now() + 60_000).toISOString()]),
      cli(['search', '--json', '--until', '1']),
      cli(['search', '--json', '--text', 'order-1']),
      cli(['search', '--json', '--text', 'downstream answered 503']),
      cli(['search', '--json', '--limit', '2']),
      cli(['search', '--json', '--all', '--limit', '2']),
      cli(['search', '--limit', '2']),
    ]);
    for (const r of runs) expectExit(r, 0);
    const ids = (r: Run): string[] => doc(r).items.map((i: { id: string }) => i.id);
    const [
      table,
      all,
      book,
      dead,
      failedComp,
      failedDead,
      code,
      status,
      since,
      until,
      text,
      errText,
      page,
      every,
      pageTable,
    ] = runs as Run[] & { length: 15 };
    expect(table?.stdout.split('\n')[0]).toMatch(
      /^ID\s+TYPE\s+STATE\s+ATTEMPTS\s+FINISHED\s+LAST ERROR\s+INPUT$/,
    );
    expect(table?.stdout).toMatch(new RegExp(`${f.saga}\\s+book\\s+compensated\\s+1\\s`));
    expect(table?.stdout).toContain('6 operations');
    expect(table?.stdout).not.toContain('4111'); // redacted by the API
    expect(ids(all as Run)).toHaveLength(6);
    expect(ids(book as Run)).toEqual([f.saga]);
    expect(new Set(ids(dead as Run))).toEqual(new Set(f.dead));
    expect(new Set(ids(failedComp as Run))).toEqual(new Set([...f.failed, f.saga]));
    expect(ids(failedDead as Run)).toHaveLength(5);
    expect(new Set(ids(code as Run))).toEqual(new Set(f.dead));
    expect(new Set(ids(status as Run))).toEqual(new Set(f.failed));
    expect(ids(since as Run)).toEqual([]);
    expect(ids(until as Run)).toEqual([]);
    expect(ids(text as Run)).toEqual([f.failed[1]]);
    expect(new Set(ids(errText as Run))).toEqual(new Set(f.dead));
    const first = doc(page as Run);
    expect(first.items).toHaveLength(2);
    expect(typeof first.cursor).toBe('string');
    expect(pageTable?.stdout).toContain(`--cursor ${first.cursor}`);
    const second = doc(
      expectExit(await cli(['search', '--json', '--limit', '2', '--cursor', first.cursor]), 0),
    );
    expect(second.items.map((i: { id: string }) => i.id)).not.toContain(first.items[0].id);
    expect(doc(every as Run).cursor).toBeUndefined();
    expect(new Set(ids(every as Run))).toEqual(new Set(ids(all as Run)));
  });

  it('show: the attempts timeline, the saga steps with the current one, what happens next', async () => {
    const [saga, sagaJson, dead] = await Promise.all([
      cli(['show', f.saga]),
      cli(['show', f.saga, '--json']),
      cli(['show', f.dead[0] as string]),
    ]);
    const out = expectExit(saga, 0).stdout;
    expect(out).toMatch(/^state\s+compensated/m);
    expect(out).toMatch(/^last error\s+status 402: downstream answered 402 \(outcome failed\)$/m);
    expect(out).toMatch(
      /^next\s+compensated: its completed steps were undone; it can only be discarded$/m,
    );
    expect(out).toMatch(/^AT\s+KIND\s+STEP\s+ATTEMPT\s+RESULT\s+DURATION\s+NEXT DELAY\s+WORKER$/m);
    expect(out).toMatch(/attempt\s+charge-card\s+1\s+status 402\s+\d+ ms/);
    expect(out).toMatch(/compensation\s+reserve-seat\s+1/);
    expect(out).toMatch(/^saga steps \(current: reserve-seat\)$/m);
    expect(out).toMatch(/^▶\s+1\s+reserve-seat\s+compensated\s+1\s+1\s+completed\s+-$/m);
    expect(out).toMatch(/^\s+2\s+charge-card\s+failed\s+1\s+-\s+-\s+status 402/m);
    const j = doc(expectExit(sagaJson, 0));
    expect(j).toMatchObject({ id: f.saga, state: 'compensated', next: { kind: 'operator' } });
    expect(j.saga.steps.map((s: { name: string }) => s.name)).toEqual([
      'reserve-seat',
      'charge-card',
    ]);
    const d = expectExit(dead, 0).stdout;
    expect(d).toMatch(/^state\s+dead/m);
    expect(d).toMatch(/attempt\s+-\s+1\s+503 status 503|attempt\s+-\s+1\s+status 503/);
    expect(d).toMatch(/\d+ ms \(backoff\)/);
    expect(d).toMatch(/^input\s+\{"order":"late-0","card":\{"number":"\[redacted\]"\}\}$/m);
    expect(d).toContain('waits for an operator to redrive or discard it');
  });

  it('audit: a table and --json, paged with --limit/--cursor and --all', async () => {
    await cli(['pause', 'charge', '--reason', 'audit test: pause']);
    await cli(['resume', 'charge', '--reason', 'audit test: resume']);
    const [t, j, one] = await Promise.all([
      cli(['audit']),
      cli(['audit', '--json', '--all']),
      cli(['audit', '--json', '--limit', '1']),
    ]);
    expect(expectExit(t, 0).stdout.split('\n')[0]).toMatch(
      /^AT\s+WHO\s+ACTION\s+TARGET\s+COUNT\s+REASON$/,
    );
    expect(t.stdout).toMatch(/sre\s+resume\s+charge\s+\d+\s+audit test: resume/);
    const all = doc(expectExit(j, 0));
    expect(all.cursor).toBeUndefined();
    expect(all.items.map((e: { reason: string }) => e.reason)).toEqual(
      expect.arrayContaining(['audit test: pause', 'audit test: resume']),
    );
    const first = doc(expectExit(one, 0));
    expect(first.items).toHaveLength(1);
    const next = doc(
      expectExit(await cli(['audit', '--json', '--limit', '1', '--cursor', first.cursor]), 0),
    );
    expect(next.items[0].id).not.toBe(first.items[0].id);
  });
});

describe('unfazed-ops actions', () => {
  it('redrive <id>: as is, with --input or --input-file (the API checks it), and 409 as an API error', async () => {
    const [a, b, c] = await f.addFailed(3, 'one');
    const dir = mkdtempSync(join(tmpdir(), 'ops-cli-'));
    try {
      const file = join(dir, 'input.json');
      writeFileSync(file, JSON.stringify({ order: 'one-1-fixed' }));
      const [plain, inline, fromFile] = await Promise.all([
        cli(['redrive', a as string, '--reason', 'downstream fixed']),
        cli([
          'redrive',
          b as string,
          '--reason',
          'typo in the order',
          '--input',
          '{"order":"one-0-fixed"}',
          '--json',
        ]),
        cli(['redrive', c as string, '--reason', 'from a file', '--input-file', file]),
      ]);
      expect(expectExit(plain, 0).stdout).toMatch(
        new RegExp(`^redriven ${a}: pending, due now \\(audit \\S+\\)$`, 'm'),
      );
      expect(doc(expectExit(inline, 0))).toMatchObject({
        id: b,
        redriven: true,
        inputEdited: true,
      });
      expect(expectExit(fromFile, 0).stdout).toContain('with the edited input');
      expect((await f.s.durable.deadLetters.get(c as string))?.record.input).toBe(
        '{"order":"one-1-fixed"}',
      );
      // Pending now: the API refuses a second redrive (409), printed with its detail.
      const again = expectExit(await cli(['redrive', a as string, '--reason', 'again']), 2);
      expect(again.stderr).toMatch(
        /^unfazed-ops: 409 conflict: operation \S+ is pending: only a failed or dead one can be redriven$/m,
      );
      const againJson = expectExit(
        await cli(['redrive', a as string, '--reason', 'again', '--json']),
        2,
      );
      expect(doc(againJson).error).toMatchObject({ status: 409, code: 'conflict' });
      const bad = expectExit(
        await cli(['redrive', f.failed[0] as string, '--reason', 'x', '--input', '{nope']),
        1,
      );
      expect(bad.stderr).toMatch(/--input is not JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('discard, pause, resume: tables and --json; a type or id the store does not know is exit 3', async () => {
    const [x, y] = await f.addFailed(2, 'discard');
    const [d1, d2, p, r] = await Promise.all([
      cli(['discard', x as string, '--reason', 'duplicate order']),
      cli(['discard', y as string, '--reason', 'duplicate order', '--json']),
      cli(['pause', 'book', '--reason', 'card service incident', '--json']),
      cli(['show', 'no-such-id', '--json']),
    ]);
    expect(expectExit(d1, 0).stdout).toMatch(new RegExp(`^discarded ${x} \\(audit \\S+\\)$`, 'm'));
    expect(doc(expectExit(d2, 0))).toMatchObject({ id: y, discarded: true });
    expect(doc(expectExit(p, 0))).toMatchObject({ type: 'book', paused: true });
    expect(doc(expectExit(r, 3)).error).toMatchObject({ status: 404, code: 'not-found' });
    expect(r.stderr).toContain('404 not-found: no operation no-such-id');
    const q = doc(expectExit(await cli(['queues', '--json']), 0));
    expect(q.queues.find((t: { type: string }) => t.type === 'book').paused).toBe(true);
    expect(expectExit(await cli(['queues']), 0).stdout).toMatch(/^book\s.*\spaused$/m);
    const resumed = expectExit(await cli(['resume', 'book', '--reason', 'incident over']), 0);
    expect(resumed.stdout).toMatch(
      /^book: resumed — its pending operations are due again \(audit \S+\)$/m,
    );
    const [gone, unknownType, missing] = await Promise.all([
      cli(['discard', x as string, '--reason', 'again']),
      cli(['pause', 'nothing-like-it', '--reason', 'x']),
      cli(['show', 'no-such-id']),
    ]);
    expectExit(gone, 3);
    expectExit(unknownType, 3);
    expect(unknownType.stderr).toContain('no operation of type nothing-like-it');
    expectExit(missing, 3);
  });

  it('redrive --filter --dry-run: the count and a sample, nothing changed', async () => {
    const ids = await f.addFailed(3, 'dry');
    const [t, j, flags] = await Promise.all([
      cli(['redrive', '--filter', '{"text":"dry-"}', '--reason', 'look first', '--dry-run']),
      cli(['redrive', '--text', 'dry-', '--reason', 'look first', '--dry-run', '--json']),
      cli([
        'redrive',
        '--type',
        'charge',
        '--state',
        'failed',
        '--status',
        '404',
        '--text',
        'dry-1',
        '--reason',
        'x',
        '--dry-run',
        '--json',
      ]),
    ]);
    expect(expectExit(t, 0).stdout).toMatch(
      /^dry run: 3 operations would be redriven; nothing changed$/m,
    );
    expect(t.stdout).toMatch(/^sample \(3\)$/m);
    expect(t.stdout).toContain(ids[0]);
    expect(doc(expectExit(j, 0))).toMatchObject({ dryRun: true, count: 3, capped: false });
    expect(doc(expectExit(flags, 0)).sample.map((s: { id: string }) => s.id)).toEqual([ids[1]]);
    for (const id of ids)
      expect((await f.s.durable.deadLetters.get(id))?.record.state).toBe('failed');
  });

  it('redrive --filter: starts the job, a progress bar on stderr until it is done, exit 0', async () => {
    const ids = await f.addFailed(4, 'bulkok');
    const run = expectExit(
      await cli([
        'redrive',
        '--filter',
        '{"text":"bulkok-"}',
        '--rate',
        '20',
        '--reason',
        'card service back',
      ]),
      0,
    );
    expect(run.stderr).toMatch(/^\[#{30}\] 4\/4 100% · 4 redriven · 0 failed · completed$/m);
    expect(run.stdout).toMatch(/^bulk redrive \S+: completed — 4 of 4 redriven, 0 failed, in \d/m);
    for (const id of ids)
      expect((await f.s.durable.deadLetters.get(id))?.record.state).toBe('pending');
    // --json: the finished job, one document.
    await f.addFailed(2, 'bulkjson');
    const j = doc(
      expectExit(
        await cli(['redrive', '--text', 'bulkjson-', '--rate', '50', '--reason', 'x', '--json']),
        0,
      ),
    );
    expect(j).toMatchObject({
      state: 'completed',
      total: 2,
      redriven: 2,
      failed: [],
      reason: 'x',
      createdBy: 'sre',
    });
  });

  it('redrive --filter: items that failed to redrive are listed, exit 5', async () => {
    const ids = await f.addFailed(3, 'bulkfail');
    // Newest first: the job redrives ids[2], ids[1], then ids[0], which is discarded meanwhile.
    const started = start([
      'redrive',
      '--text',
      'bulkfail-',
      '--rate',
      '2',
      '--reason',
      'retry them',
    ]);
    // Once the job has collected its matches (its first progress line), discard the last one.
    for (let i = 0; i < 200 && !/\/3 /.test(started.stderr()); i++)
      await new Promise((r) => setTimeout(r, 25));
    const discarded = await call(
      f.server.url,
      'POST',
      `/ops/api/operations/${ids[0]}/discard`,
      { reason: 'gone' },
      { authorization: 'Bearer sre' },
    );
    expect(discarded.status).toBe(200);
    const run = expectExit(await started.done, 5);
    expect(run.stdout).toMatch(/completed — 2 of 3 redriven, 1 failed/);
    expect(run.stdout).toMatch(/^failed to redrive$/m);
    expect(run.stdout).toMatch(
      new RegExp(`^${ids[0]}\\s+the operation no longer exists \\(discarded\\)$`, 'm'),
    );
    expect(run.stderr).toMatch(/3\/3 100% · 2 redriven · 1 failed · completed$/m);
  });

  it('Ctrl-C during a bulk redrive cancels the job through the API, with the reason; exit 5', async () => {
    await f.addFailed(5, 'bulkcancel');
    const started = start([
      'redrive',
      '--text',
      'bulkcancel-',
      '--rate',
      '1',
      '--reason',
      'slowly',
      '--json',
    ]);
    for (let i = 0; i < 200 && !/\] [1-3]\/5 /.test(started.stderr()); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(started.stderr()).toMatch(
      /^\[#+-+\] [1-3]\/5 +\d+% · [1-3] redriven · 0 failed · running$/m,
    );
    started.child.kill('SIGINT');
    const run = expectExit(await started.done, 5);
    expect(run.stderr).toMatch(/cancelling bulk redrive \S+…/);
    const job = doc(run);
    expect(job).toMatchObject({
      state: 'cancelled',
      cancelledBy: 'sre',
      cancelReason: 'interrupted (Ctrl-C) in unfazed-ops: slowly',
    });
    expect(job.redriven).toBeLessThan(5);
    const audit = doc(expectExit(await cli(['audit', '--json', '--limit', '5']), 0));
    expect(audit.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'cancel-bulk-redrive',
          jobId: job.id,
          reason: job.cancelReason,
        }),
      ]),
    );
  });
});

describe('unfazed-ops exit codes', () => {
  it('1: usage errors name the flag, with a did-you-mean hint; --json also prints them as JSON', async () => {
    const runs = await Promise.all([
      cli(['search', '--limt', '3']),
      cli(['serch']),
      cli(['redrive', 'x']),
      cli(['search', '--limit', 'many']),
      cli(['search', '--state', 'daed']),
      cli(['queues'], { UNFAZED_OPS_URL: undefined }),
      cli(['queues', '--url', 'ftp://x']),
      cli(['queues', '--header', 'no colon']),
      cli(['show']),
      cli(['discard', 'x', '--reason']),
      cli(['redrive', '--reason', 'x']),
      cli(['redrive', 'x', '--reason', 'y', '--rate', '3']),
      cli([]),
      cli(['search', '--limt', '3', '--json']),
      cli(['queues', '--reason', 'x']),
    ]);
    for (const r of runs) expectExit(r, 1);
    const err = runs.map((r) => r.stderr.split('\n')[0]);
    expect(err).toEqual([
      'unfazed-ops: unknown flag --limt for search; did you mean --limit?',
      'unfazed-ops: unknown command "serch"; did you mean "search"? (commands: queues, search, show, redrive, discard, pause, resume, audit)',
      'unfazed-ops: redrive needs --reason "…" (every action is written to the audit log with its reason)',
      'unfazed-ops: --limit must be an integer from 1 to 1000 (got "many")',
      'unfazed-ops: --state "daed" is not one of failed, dead, compensated, compensating; did you mean "dead"?',
      'unfazed-ops: --url is needed (or set UNFAZED_OPS_URL), e.g. --url http://127.0.0.1:8080/ops',
      'unfazed-ops: --url must be an http(s) URL (got "ftp://x")',
      `unfazed-ops: --header must be 'Name: value' (got "no colon")`,
      'unfazed-ops: show needs <id>',
      'unfazed-ops: --reason needs a value',
      "unfazed-ops: redrive needs an operation id, or --filter (a JSON filter, '{}' for every failed and dead operation) and/or filter flags for a bulk redrive",
      'unfazed-ops: --rate is for a bulk redrive (redrive --filter …), not for one operation (x)',
      'unfazed-ops: a command is needed',
      'unfazed-ops: unknown flag --limt for search; did you mean --limit?',
      'unfazed-ops: unknown flag --reason for queues (it is a flag of redrive, discard, pause, resume)',
    ]);
    expect(runs[0]?.stderr).toContain('Usage: unfazed-ops search');
    expect(doc(runs[13] as Run)).toEqual({
      error: { code: 'usage', detail: 'unknown flag --limt for search; did you mean --limit?' },
    });
    const help = expectExit(await cli(['--help']), 0);
    expect(help.stdout).toContain(
      'Exit codes: 0 ok, 1 usage error, 2 API or HTTP error, 3 not found, 4 refused',
    );
  });

  it('2: an API error prints the problem detail; an unreachable or wrong URL says so', async () => {
    const [bad, unreachable, wrongBase] = await Promise.all([
      cli(['search', '--status', '404', '--text', 'x'.repeat(1001)]),
      cli(['queues', '--url', `http://127.0.0.1:${await closedPort()}/ops`]),
      cli(['queues', '--url', f.server.url]),
    ]);
    expect(expectExit(bad, 2).stderr).toMatch(/^unfazed-ops: 400 invalid-request: .*query\.text/m);
    expect(expectExit(unreachable, 2).stderr).toMatch(
      /^unfazed-ops: unreachable: cannot reach GET http:\/\/127\.0\.0\.1:\d+\/ops\/api\/queues: ECONNREFUSED$/m,
    );
    expect(expectExit(wrongBase, 2).stderr).toMatch(/404 not-found: .*is --url the console's base/);
  });

  it('4: refused (401 without credentials, 403 for a viewer), in table and --json form', async () => {
    const [none, noneJson, viewer, viewerRead, header] = await Promise.all([
      cli(['queues'], { UNFAZED_OPS_AUTHORIZATION: undefined }),
      cli(['queues', '--json'], { UNFAZED_OPS_AUTHORIZATION: undefined }),
      cli(['pause', 'charge', '--reason', 'x'], { UNFAZED_OPS_AUTHORIZATION: 'Bearer viewer' }),
      cli(['queues'], { UNFAZED_OPS_AUTHORIZATION: 'Bearer viewer' }),
      cli(['queues', '--header', 'Authorization: Bearer viewer'], {
        UNFAZED_OPS_AUTHORIZATION: undefined,
      }),
    ]);
    expect(expectExit(none, 4).stderr).toMatch(
      /^unfazed-ops: 401 unauthenticated: send Authorization: Bearer <token> \(pass credentials with --header or UNFAZED_OPS_AUTHORIZATION\)$/m,
    );
    expect(doc(expectExit(noneJson, 4)).error).toMatchObject({
      status: 401,
      code: 'unauthenticated',
    });
    expect(expectExit(viewer, 4).stderr).toMatch(
      /^unfazed-ops: 403 forbidden: viewers may only read$/m,
    );
    expectExit(viewerRead, 0);
    expectExit(header, 0);
  });

  it('the built bin runs with plain node (ESM, shebang) from dist', async () => {
    if (!existsSync(BIN))
      throw new Error(`${BIN} is missing: run pnpm run build first (pnpm test does)`);
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const pkg = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin).toEqual({ 'unfazed-ops': './dist/cli/main.js' });
    const run = await start(['queues', '--json'], {}, [BIN]).done;
    expect(doc(expectExit(run, 0)).queues.length).toBeGreaterThan(0);
  });
});
