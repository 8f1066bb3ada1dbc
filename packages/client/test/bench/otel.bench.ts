/**
 * CPU per `client.request()` against a loopback server (in a child process, so its CPU is not
 * counted): VARIANT=base runs the client source at BASE_SRC (a copy of the code before the
 * OpenTelemetry instrumentation), `nosdk` the current client with @opentelemetry/api installed
 * and no SDK registered, `sdk` the current client with a tracer and a meter provider registered
 * (in-memory span exporter, metrics reader never collected). Not a test; run by hand:
 *   npx tsx --conditions=@unfazed/source packages/client/test/bench/otel.bench.ts
 * with no VARIANT it alternates the three over several rounds, one process per run.
 */
import { execFileSync, fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as ClientModule from '@unfazed/client';

const N = Number(process.env['N'] ?? 20_000);
const variant = process.env['VARIANT'];

async function serve(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  server.listen(0, '127.0.0.1', () => {
    process.send?.((server.address() as AddressInfo).port);
  });
}

async function run(which: string, url: string): Promise<void> {
  const mod = (
    which === 'base'
      ? await import(process.env['BASE_SRC'] as string)
      : await import('@unfazed/client')
  ) as typeof ClientModule;
  if (which === 'sdk') {
    const { installOtel } = await import('../support/otel.js');
    installOtel();
  } else if (which === 'nosdk') {
    await import('@opentelemetry/api'); // installed, nothing registered
  }
  const client = mod.createClient({ baseUrl: url });
  for (let i = 0; i < 3_000; i++) await (await client.request({ path: '/x' })).text();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < N; i++) await (await client.request({ path: '/x' })).text();
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  console.log(
    JSON.stringify({ which, cpuUsPerRequest: (used.user + used.system) / N, wallMs: wall }),
  );
  await client.close();
}

async function main(): Promise<void> {
  if (process.env['SERVE']) return serve();
  if (variant !== undefined) return run(variant, process.env['URL'] as string);
  const server = fork(process.argv[1] as string, [], {
    env: { ...process.env, SERVE: '1' },
    execArgv: process.execArgv,
  });
  const port = await new Promise<number>((resolve) =>
    server.once('message', (p) => resolve(p as number)),
  );
  const results: Record<string, number[]> = { base: [], nosdk: [], sdk: [] };
  const rounds = Number(process.env['ROUNDS'] ?? 5);
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 === 0 ? ['base', 'nosdk', 'sdk'] : ['sdk', 'nosdk', 'base']) {
      const out = execFileSync(process.execPath, [...process.execArgv, process.argv[1] as string], {
        env: { ...process.env, VARIANT: which, URL: `http://127.0.0.1:${port}` },
      }).toString();
      const line = JSON.parse(out.trim().split('\n').pop() as string) as {
        cpuUsPerRequest: number;
      };
      results[which]?.push(line.cpuUsPerRequest);
    }
  }
  server.kill();
  const median = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  for (const [which, xs] of Object.entries(results)) {
    console.log(
      `${which.padEnd(6)} median ${median(xs).toFixed(1)} µs CPU/request  rounds ${xs.map((x) => x.toFixed(1)).join(' ')}`,
    );
  }
}

void main();
