import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { startRedisServer } from '@unfazed/testing';
import type { FeatureRunResult } from '../client-features-child.js';
import { childConditionFlags } from '../packages-form.js';
import { repoRoot } from '../repo-root.js';
import { alternate, atLeast, atMost, compare, series, single, type Variant } from '../rounds.js';
import type { Measure, Target } from '../results.js';
import { startNoopServer } from '../servers/noop-server.js';
import type { SuiteEnv, SuiteOutput } from '../suite.js';

/** The variants, baseline first; `target` marks the features that must cost nothing measurable. */
const VARIANTS = [
  { id: 'off', name: 'features off (no @opentelemetry/api, local breaker and budget)' },
  { id: 'nosdk', name: 'OTel API installed, no SDK registered', target: true },
  { id: 'sdk', name: 'OTel SDK registered (traces + metrics)' },
  { id: 'shared', name: 'shared circuit + shared retry budget (Redis)', target: true },
] as const;

type VariantId = (typeof VARIANTS)[number]['id'];

/** Bound on one child run beyond its load, ms (tsx start-up, imports, a loaded machine). */
const CHILD_SLACK_MS = 60_000;

/** Runs one variant for one round in a fresh `node --import tsx` process and returns its RESULT. */
async function runChild(
  variant: VariantId,
  env: Record<string, string>,
  maxMs: number,
): Promise<FeatureRunResult> {
  const root = repoRoot();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...childConditionFlags(), join(root, 'bench/src/client-features-child.ts')],
    {
      cwd: root,
      env: { ...process.env, ...env, BENCH_VARIANT: variant, BENCH_MAX_MS: String(maxMs) },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-4_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), maxMs + 5_000);
  try {
    const code = await new Promise<number | string>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, signal) => resolve(c ?? signal ?? 'unknown'));
    });
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (code !== 0 || !line) throw new Error(`features child ${variant} exited (${code}): ${err}`);
    return JSON.parse(line.slice(7)) as FeatureRunResult;
  } finally {
    clearTimeout(timer);
    process.removeListener('exit', killOnExit);
    child.stdin.end();
  }
}

async function commandsProcessed(admin: Redis): Promise<number> {
  const info = await admin.info('stats');
  return Number(/^total_commands_processed:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

/**
 * Suite 7 (issue 16, "a bench row shows the cost of each feature off and on"): the client's
 * `request` against the no-op server with each feature off and on, every variant round in a
 * fresh child process, alternating A, B, C, D per round.
 */
export async function clientFeatures(env: SuiteEnv): Promise<SuiteOutput> {
  const s = env.settings.features;
  const perRun = s.durationMs + s.warmupMs + CHILD_SLACK_MS;
  const server = await startNoopServer(
    perRun * VARIANTS.length * s.concurrency.length * env.settings.rounds + 60_000,
  );
  const redis = await startRedisServer();
  const admin = redis.connect({ maxRetriesPerRequest: 1 });
  const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
  const measures: Measure[] = [];
  const notes: string[] = [];
  try {
    // One child run before the rounds, not measured: the first start-up pays tsx's transform
    // cache and a cold disk cache, which would fall on the first round's baseline only.
    await runChild(
      'off',
      {
        BENCH_ORIGIN: server.origin,
        BENCH_CONCURRENCY: '1',
        BENCH_DURATION_MS: '100',
        BENCH_WARMUP_MS: '100',
      },
      perRun,
    );
    for (const concurrency of s.concurrency) {
      const variants = VARIANTS.map((v): Variant => ({
        name: v.name,
        async run(round) {
          const before = v.id === 'shared' ? await commandsProcessed(admin) : 0;
          const r = await runChild(
            v.id,
            {
              BENCH_ORIGIN: server.origin,
              BENCH_CONCURRENCY: String(concurrency),
              BENCH_DURATION_MS: String(s.durationMs),
              BENCH_WARMUP_MS: String(s.warmupMs),
              BENCH_REDIS_URL: redis.url,
              BENCH_REDIS_PREFIX: `bench:features:c${concurrency}:r${round}:`,
            },
            perRun,
          );
          const figures: Record<string, number> = {
            rps: r.rps,
            p50: r.p50,
            p99: r.p99,
            cpu: r.cpu,
          };
          if (v.id === 'shared') {
            // The INFO that reads the count is one command itself.
            const commands = (await commandsProcessed(admin)) - before - 1;
            figures['redisPer1k'] = (commands * 1000) / r.requests;
          }
          if (r.spansPerRequest !== undefined) figures['spans'] = r.spansPerRequest;
          return figures;
        },
      }));
      env.log(
        `features: c=${concurrency}, ${variants.length} variants × ${env.settings.rounds} rounds, one child process each`,
      );
      const results = await alternate(variants, env.settings.rounds);
      const baseline = VARIANTS[0].name;
      for (const v of VARIANTS.slice(1)) {
        const scenario = `POST, c=${concurrency}, ${v.name} vs off`;
        const row = (
          metric: string,
          unit: string,
          figure: string,
          target?: (r: number) => Target,
        ): Measure =>
          compare({
            suite: 'features',
            scenario,
            metric,
            unit,
            baseline: { name: baseline, values: series(results, baseline, figure) },
            subject: { name: v.name, values: series(results, v.name, figure) },
            ...(target ? { target } : {}),
          });
        const free = 'target' in v && v.target;
        measures.push(
          row('requests/s', 'req/s', 'rps', free ? atLeast(0.97, 'on/off') : undefined),
          row('p50 latency', 'ms', 'p50'),
          row('p99 latency', 'ms', 'p99'),
          row(
            'CPU per request (calling process)',
            'µs',
            'cpu',
            free ? atMost(1.03, 'on/off') : undefined,
          ),
        );
      }
      measures.push(
        single({
          suite: 'features',
          scenario: `POST, c=${concurrency}, ${VARIANTS[2].name}`,
          metric: 'spans exported per request',
          unit: 'spans',
          subject: { name: VARIANTS[2].name, values: series(results, VARIANTS[2].name, 'spans') },
        }),
        single({
          suite: 'features',
          scenario: `POST, c=${concurrency}, ${VARIANTS[3].name}`,
          metric: 'Redis commands per 1 000 requests (whole child run, connection set-up included)',
          unit: 'commands',
          subject: {
            name: VARIANTS[3].name,
            values: series(results, VARIANTS[3].name, 'redisPer1k'),
          },
        }),
      );
    }
  } finally {
    await admin.quit().catch(() => admin.disconnect());
    await redis.close();
    await server.close();
  }
  notes.push(
    `Every variant round runs in a fresh child process (node --import tsx, the Unfazed packages in the same form as this run), rounds alternating ${VARIANTS.map((v) => v.id).join(', ')}: no variant and no concurrency inherits another's JIT or GC state (the client suite's note: V8 pretenuring decided in one phase charges the next). One child run before the rounds is not measured (start-up caches). Each child runs ${s.warmupMs} ms of load not measured, then ${s.durationMs} ms measured; CPU per request is that child's user + system time over the measured load only.`,
    "The request is the client suite's: POST /charges with a JSON body, one undici Pool with `connections` = c, to the no-op server in its own process. The client keeps its defaults (timeouts, retry, a local breaker, the local retry budget, an automatic Idempotency-Key) in every variant.",
    "`off`: `@opentelemetry/api` made unresolvable in the child (a `Module._resolveFilename` hook; the client loads its optional peer with `require`), what a user without OpenTelemetry runs. `nosdk`: the API resolves (1.9.0), nothing registered. `sdk`: BasicTracerProvider with a SimpleSpanProcessor into an InMemorySpanExporter (emptied every 1 000 requests), a MeterProvider whose reader is never collected, an AsyncLocalStorage context manager (the versions of @unfazed/client's devDependencies: sdk-trace-base, sdk-metrics and context-async-hooks 2.12.1): context only, no target. `shared`: as `off`, plus `breaker.shared = sharedCircuit(redis)` and `retry.budget.shared = sharedRetryBudget(redis)`.",
    `The shared variant's Redis is a redis-server ${version} started for this suite (startRedisServer, no persistence). Its command count is total_commands_processed over the child's whole run (connection set-up, the subscriber, the budget's syncs), per 1 000 requests, warm-up included: the closed path itself makes no Redis call.`,
    'Targets (issue 16: "no-op and near-zero cost when no SDK is registered", "added latency on the closed path: none measurable"): on/off ≥ 0.97 for requests/s and ≤ 1.03 for CPU per request, for the no-SDK and shared variants; never asserted.',
  );
  return { measures, notes };
}
