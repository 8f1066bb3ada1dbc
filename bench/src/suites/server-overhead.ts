import { join } from 'node:path';
import { Pool } from 'undici';
import { redisIdempotencyStore } from '@unfazed/server';
import { startChild } from '../child.js';
import { closedLoop } from '../load.js';
import {
  redisCommandsPerRequest,
  StoreStalledError,
  type CommandWindow,
} from './redis-commands.js';
import { countingRedis, openRedis } from '../redis-env.js';
import { processCpuMicros } from '../process-cpu.js';
import { repoRoot } from '../repo-root.js';
import {
  above,
  alternate,
  atLeast,
  atMost,
  compare,
  exactly,
  series,
  single,
  type Variant,
} from '../rounds.js';
import type { Measure } from '../results.js';
import { childConditionFlags } from '../packages-form.js';
import { startApp, type Framework } from '../servers/idempotency-apps.js';
import { assertNoErrors, type SuiteEnv, type SuiteOutput } from '../suite.js';

const BODY = JSON.stringify({ amount: 42, currency: 'EUR' });
const FRAMEWORKS: readonly Framework[] = ['fastify', 'express'];
const LABEL: Record<Framework, string> = { fastify: 'Fastify', express: 'Express' };

/** What each peer lacks of our guarantees, read from its source (see bench/README.md). */
const PEER_NOTES = [
  'Peers, same app, same Redis, same load: new key per request (the target: Unfazed must be faster, ratio unfazed/peer > 1 for requests/s) and replay of a completed key (for context; express-idempotency marks no replay on its answer, so only its status is checked). `@node-idempotency/core` 1.0.11 on `@node-idempotency/storage-adapter-redis` 1.0.2 (node-redis 4), glued as its own Fastify (`preHandler` + awaited `onSend`) and Express (middleware + un-awaited `res.send` wrap) plugins do, which are not on the registry here. It locks a concurrent duplicate (`SET NX`, 409) and fingerprints the parsed body (422), but lacks: a lease (the in-flight lock lives the whole TTL, 24 h by default, so a crashed request blocks its key until then), an owner check on the completion write, faithful replay (status and content-type only), method/path in the fingerprint (they are in the key instead), an answer for a Redis blip (node-redis queues commands while offline, so requests wait instead of failing fast) and, on Express, a completion stored before the answer is sent (a duplicate right after the answer gets 409, and a crash then loses the record).',
  '`express-idempotency` 1.0.6 on `express-idempotency-redis-adapter` 1.0.8 (node-redis 4), Express only, mounted as its README shows after `express.json()`, the handler returning on `isHit(req)`. It lacks: an atomic claim (GET, then a plain SET: two concurrent duplicates both run the handler; 409 only once the first SET landed), a 422 (a different body with the same key answers 417), a lease (the in-flight record lives the whole TTL, 1 day by default), key namespacing (the raw header value is the Redis key), replay of any header but content-type, a completion stored before the answer is sent (fire-and-forget after `res.send`), and any Redis-blip handling (errors reach the Express error handler as 500s).',
];

/** The Node idempotency middlewares measured against ours, on the same Redis. */
const PEERS: readonly { app: string; name: string; frameworks: readonly Framework[] }[] = [
  { app: 'node-idempotency', name: '@node-idempotency/core', frameworks: ['fastify', 'express'] },
  { app: 'express-idempotency', name: 'express-idempotency', frameworks: ['express'] },
];

/**
 * Suite 2: Fastify and Express, bare against the Idempotency-Key middleware on the memory store
 * and on Redis — a new key per request, and replays of keys already completed — served from
 * another process and driven by undici; then Redis commands per first request and per replay.
 */
export async function serverOverhead(env: SuiteEnv): Promise<SuiteOutput> {
  const s = env.settings.server;
  const redis = await openRedis('server');
  const prefix = `${redis.ctx.prefix}idem:`;
  const runId = Date.now().toString(36);
  const measures: Measure[] = [];
  const notes: string[] = [];
  try {
    const root = repoRoot();
    const perRun = s.durationMs + s.warmupMs;
    const child = await startChild(
      process.execPath,
      [
        '--import',
        'tsx',
        ...childConditionFlags(),
        join(root, 'bench/src/servers/idempotency-servers.ts'),
      ],
      {
        cwd: root,
        env: {
          BENCH_REDIS_URL: redis.ctx.url,
          BENCH_REDIS_PREFIX: prefix,
          BENCH_MAX_MS: String(perRun * 24 * env.settings.rounds + 120_000),
        },
      },
    );
    try {
      for (const framework of FRAMEWORKS) {
        const pools = new Map<string, Pool>();
        const poolOf = (app: string): Pool => {
          let pool = pools.get(app);
          if (!pool) {
            const port = child.ports[`${framework}-${app}`];
            if (port === undefined) throw new Error(`the server child has no ${framework}-${app}`);
            pool = new Pool(`http://127.0.0.1:${port}`, { connections: s.concurrency });
            pools.set(app, pool);
          }
          return pool;
        };
        const post = async (app: string, key: string, replay: boolean): Promise<void> => {
          const res = await poolOf(app).request({
            path: '/charges',
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
            body: BODY,
          });
          await res.body.text();
          if (res.statusCode !== 201) throw new Error(`${app}: status ${res.statusCode}`);
          // express-idempotency marks no replay on the answer (only `x-hit` on its request).
          const marks = app !== 'express-idempotency';
          if (replay && marks && res.headers['idempotent-replayed'] !== 'true') {
            throw new Error(`${app}: a repeated key was not answered as a replay`);
          }
        };
        // Every key starts with the suite's prefix: express-idempotency keys Redis with the
        // header's value as sent. Keys name the framework: the floor's keys share one prefix.
        const keyBase = `${prefix}k:${runId}-${framework}`;
        const replayKeys = Array.from({ length: s.replayKeys }, (_, i) => `${keyBase}-r-${i}`);
        const peers = PEERS.filter((p) => p.frameworks.includes(framework));
        for (const app of ['memory-replay', 'redis', ...peers.map((p) => p.app)]) {
          for (const key of replayKeys) await post(app, key, false);
        }
        // Some peers store the answer after sending it: let the last writes land.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const serverCpu = (cpu0: number | undefined, finished: number): { cpu?: number } => {
          const cpu1 = processCpuMicros(child.pid);
          return cpu0 === undefined || cpu1 === undefined ? {} : { cpu: (cpu1 - cpu0) / finished };
        };
        const newKeys = (app: string): Variant => ({
          name: app,
          async run(round) {
            const cpu0 = processCpuMicros(child.pid);
            const r = await closedLoop((n) => post(app, `${keyBase}-${app}-${round}-${n}`, false), {
              concurrency: s.concurrency,
              durationMs: s.durationMs,
              warmupMs: s.warmupMs,
            });
            assertNoErrors(`${framework} ${app}`, r);
            return { rps: r.perSecond, p50: r.p50, p99: r.p99, ...serverCpu(cpu0, r.finished) };
          },
        });
        const replays = (name: string, app: string): Variant => ({
          name,
          async run() {
            const cpu0 = processCpuMicros(child.pid);
            const r = await closedLoop(
              (n) => post(app, replayKeys[n % replayKeys.length] as string, true),
              { concurrency: s.concurrency, durationMs: s.durationMs, warmupMs: s.warmupMs },
            );
            assertNoErrors(`${framework} ${name}`, r);
            return { rps: r.perSecond, p50: r.p50, p99: r.p99, ...serverCpu(cpu0, r.finished) };
          },
        });
        const variants = [
          newKeys('bare'),
          newKeys('memory'),
          newKeys('redis'),
          replays('memory replay', 'memory-replay'),
          replays('redis replay', 'redis'),
          newKeys('floor'),
          ...peers.map((p) => newKeys(p.app)),
          ...peers.map((p) => replays(`${p.app} replay`, p.app)),
        ];
        env.log(
          `server: ${framework}, ${variants.length} variants × ${env.settings.rounds} rounds`,
        );
        try {
          const results = await alternate(variants, env.settings.rounds);
          const subjects: [string, string, string][] = [
            ['memory', 'memory store, new key per request', 'middleware (memory store)'],
            ['redis', 'Redis store, new key per request', 'middleware (Redis store)'],
            ['memory replay', 'memory store, replay of a completed key', 'replay (memory store)'],
            ['redis replay', 'Redis store, replay of a completed key', 'replay (Redis store)'],
          ];
          const withCpu = (results.get('bare') ?? []).every((r) => r['cpu'] !== undefined);
          const figures = [
            ['requests/s', 'req/s', 'rps'],
            ['p99 latency', 'ms', 'p99'],
            ...(withCpu ? [['server CPU per request', 'µs', 'cpu'] as const] : []),
          ] as const;
          const target = (variant: string, baseline: string, figure: string) => {
            if (figure !== 'rps') return {};
            if (baseline === 'bare' && variant === 'memory') {
              return { target: atLeast(framework === 'fastify' ? 0.9 : 0.95, 'middleware/bare') };
            }
            if (baseline === 'floor') return { target: atLeast(0.95, 'middleware/floor') };
            if (baseline.endsWith(' replay')) return {};
            if (baseline !== 'bare') return { target: above(1, 'unfazed/peer') };
            return {};
          };
          const comparisons: [string, string, string, string, string][] = [
            ...subjects.map(
              ([variant, scenario, subjectName]): [string, string, string, string, string] => [
                'bare',
                `bare ${LABEL[framework]}`,
                variant,
                scenario,
                subjectName,
              ],
            ),
            [
              'floor',
              'Redis floor (2 plain SETs)',
              'redis',
              'Redis store vs the Redis floor, new key per request',
              'middleware (Redis store)',
            ],
            ...peers.map((p): [string, string, string, string, string] => [
              p.app,
              p.name,
              'redis',
              `Redis store vs ${p.name}, new key per request`,
              'middleware (Redis store)',
            ]),
            ...peers.map((p): [string, string, string, string, string] => [
              `${p.app} replay`,
              `${p.name} replay`,
              'redis replay',
              `Redis store vs ${p.name}, replay of a completed key`,
              'replay (Redis store)',
            ]),
          ];
          for (const [baseline, baselineName, variant, scenario, subjectName] of comparisons) {
            for (const [metric, unit, figure] of figures) {
              measures.push(
                compare({
                  suite: 'server',
                  scenario: `${LABEL[framework]}, ${scenario}, c=${s.concurrency}`,
                  metric,
                  unit,
                  baseline: { name: baselineName, values: series(results, baseline, figure) },
                  subject: { name: subjectName, values: series(results, variant, figure) },
                  ...target(variant, baseline, figure),
                }),
              );
            }
          }
        } finally {
          await Promise.all([...pools.values()].map((pool) => pool.close()));
        }
      }
    } finally {
      await child.close();
    }

    env.log('server: counting Redis commands');
    const counting = await countingRedis(redis);
    notes.push(counting.note);
    const windows = Math.max(2, env.settings.rounds);
    try {
      for (const framework of FRAMEWORKS) {
        const connection = counting.connect();
        const store = redisIdempotencyStore(connection, {
          prefix: `${counting.prefix}count-${framework}:`,
        });
        const app = await startApp(framework, store);
        const pool = new Pool(`http://127.0.0.1:${app.port}`, { connections: 1 });
        let windowsSeen: { first: CommandWindow[]; replay: CommandWindow[]; retried: number };
        try {
          windowsSeen = await redisCommandsPerRequest({
            admin: counting.admin,
            connection,
            windows,
            requests: s.countRequests,
            send: async (key) => {
              const res = await pool.request({
                path: '/charges',
                method: 'POST',
                headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
                body: BODY,
              });
              await res.body.text();
              if (res.statusCode === 503) {
                throw new StoreStalledError('counting: 503, the store call outlived its timeout');
              }
              if (res.statusCode !== 201) throw new Error(`counting: status ${res.statusCode}`);
              return res.headers['idempotent-replayed'] === 'true';
            },
            keyPrefix: `${runId}-count-${framework}`,
          });
        } finally {
          await pool.close();
          await app.close();
        }
        if (windowsSeen.retried > 0) {
          notes.push(
            `${LABEL[framework]} command count: ${windowsSeen.retried} window(s) measured again after a 503 (a store call outlived storeTimeoutMs on the busy machine).`,
          );
        }
        for (const [kind, list, target] of [
          ['first request (new key)', windowsSeen.first, atMost(2, 'round trips')],
          ['replay (completed key)', windowsSeen.replay, exactly(1, 'round trips')],
        ] as const) {
          measures.push(
            single({
              suite: 'server',
              scenario: `${LABEL[framework]}, Redis store, ${kind}`,
              metric: 'Redis commands sent per request (INFO commandstats EVALSHA+EVAL)',
              unit: 'commands',
              subject: { name: 'middleware (Redis store)', values: list.map((w) => w.topLevel) },
              target,
            }),
            single({
              suite: 'server',
              scenario: `${LABEL[framework]}, Redis store, ${kind}`,
              metric:
                'Redis commands executed per request, Lua inner calls included (INFO commandstats)',
              unit: 'commands',
              subject: { name: 'middleware (Redis store)', values: list.map((w) => w.all) },
            }),
          );
          const last = list[list.length - 1];
          if (last) {
            notes.push(
              `${LABEL[framework]} ${kind}: commandstats per request ${last.breakdown}; the store's own connection sent ${last.clientSent.toFixed(2)} commands per request.`,
            );
          }
          if (list.some((w) => w.noisy)) {
            notes.push(
              `${LABEL[framework]} ${kind}: other clients ran scripts on this Redis during ${list.filter((w) => w.noisy).length} of ${list.length} windows, which can only raise those windows' counts; the figure is the median window.`,
            );
          }
        }
      }
    } finally {
      await counting.close();
    }
  } finally {
    // express-idempotency's keys are the header values as sent, quotes included.
    await redis.deleteKeys(`"${prefix}`).catch(() => undefined);
    await redis.close();
  }
  notes.unshift(
    'Each app runs in one child process (node --import tsx; the Unfazed packages in the same form as this run) and is driven from this process by an undici Pool with `connections` = c; every request is a POST with a JSON body and an `Idempotency-Key` (bare apps ignore it).',
    'New key per request: a first request claims the key, runs the handler and stores the response. Replay: a fixed set of keys completed before the rounds, sent again and again; every answer is checked to carry `Idempotent-Replayed: true`.',
    'Server CPU per request: user + system time of the server process (from /proc, 10 ms ticks) over the whole load of a variant, warm-up included, per finished request; less sensitive to a busy machine than requests/s.',
    'The memory store runs with its default limits (10 000 records): new-key runs fill it after 10 000 requests, so most of a run is spent at its limit, evicting.',
    'The Redis floor: the same route whose handler does the two plain ioredis `SET`s any Redis idempotency layer needs at the least, on the same connection as the Redis store (`SET key in-flight NX PX 60000`, then the handler, then `SET key {status, body} PX <retention>`). It has no fingerprint, no replay, no lease, no owner check on the second write: the middleware on Redis makes the same two round trips, so its target is ≥ 0.95 of the floor.',
    ...PEER_NOTES,
    'Commands are counted on a separate app in this process, sending one request at a time, from INFO commandstats deltas (EVALSHA+EVAL are the round trips of the Lua store; the inner count adds what the scripts call).',
  );
  return { measures, notes, redis: { source: redis.ctx.source, version: redis.version } };
}
