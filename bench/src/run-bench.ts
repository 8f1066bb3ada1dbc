import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release } from 'node:os';
import { join } from 'node:path';
import { packagesForm } from './packages-form.js';
import { MODES } from './modes.js';
import { renderMarkdown } from './report.js';
import type { BenchMode, BenchResults, SuiteName, SuiteResult } from './results.js';
import type { SuiteEnv, SuiteOutput } from './suite.js';
import { clientFeatures } from './suites/client-features.js';
import { clientOverhead } from './suites/client-overhead.js';
import { memoryFootprint } from './suites/memory.js';
import { opsSearch } from './suites/ops-search.js';
import { queueScale } from './suites/queue-scale.js';
import { queueVsBullmq } from './suites/queue-vs-bullmq.js';
import { sagaVsDbos } from './suites/saga-vs-dbos.js';
import { serverOverhead } from './suites/server-overhead.js';

/** Options of {@link runBench}. */
export interface RunBenchOptions {
  readonly mode: BenchMode;
  /** Suites to run, in this order. */
  readonly suites: readonly SuiteName[];
  /** Folder that receives results.md and results.json. */
  readonly outDir: string;
  /** Progress lines. Default: to stderr. */
  readonly log?: (line: string) => void;
}

const SUITES: Record<SuiteName, { title: string; run: (env: SuiteEnv) => Promise<SuiteOutput> }> = {
  client: { title: '1. Client overhead', run: clientOverhead },
  server: { title: '2. Server middleware overhead', run: serverOverhead },
  queue: { title: '3. Durable queue vs BullMQ', run: queueVsBullmq },
  scale: { title: '4. Durable queue with a backlog scheduled ahead', run: queueScale },
  memory: { title: '5. Memory', run: memoryFootprint },
  saga: { title: '6. Durable sagas vs DBOS Transact', run: sagaVsDbos },
  features: {
    title: '7. Client features off and on (OpenTelemetry, fleet-wide circuit and budget)',
    run: clientFeatures,
  },
  ops: { title: '8. Operations console search', run: opsSearch },
};

/** Runs the suites one after the other, writes results.md and results.json, returns the results. */
export async function runBench(options: RunBenchOptions): Promise<BenchResults> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0] ?? 0;
  const env: SuiteEnv = { mode: options.mode, settings: MODES[options.mode], log };
  const suites: SuiteResult[] = [];
  let redis = { source: 'not used', version: '—' };
  for (const name of options.suites) {
    const suite = SUITES[name];
    log(`== ${suite.title} (${options.mode})`);
    const t0 = performance.now();
    const output = await suite.run(env);
    if (output.redis) redis = output.redis;
    suites.push({
      name,
      title: suite.title,
      durationMs: Math.round(performance.now() - t0),
      measures: output.measures,
      notes: output.notes,
    });
  }
  const results: BenchResults = {
    mode: options.mode,
    startedAt,
    finishedAt: new Date().toISOString(),
    environment: {
      node: process.version,
      platform: `${platform()} ${release()}`,
      packages: packagesForm(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      redis,
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
    },
    suites,
  };
  await mkdir(options.outDir, { recursive: true });
  await writeFile(join(options.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(options.outDir, 'results.md'), renderMarkdown(results));
  return results;
}
