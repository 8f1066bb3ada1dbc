/**
 * Throughput of the durable queue through Redis with a local no-op downstream: operations
 * started and completed per second, at concurrency 1 and 32. Not a test; bounded in time.
 *
 *   npx tsx --conditions=@unfazed/source packages/client/test/durable-throughput.bench.ts
 *
 * REDIS_URL (default redis://127.0.0.1:6379), BENCH_SECONDS (default 5) per measurement,
 * BENCH_MODES (default `baseline,queued,local,inline`), BENCH_CONCURRENCY (default `1,32`).
 * Each queue row also prints per operation the Redis round trips (socket writes of the two
 * connections: a pipeline is one), the scripts sent and the commands executed (Lua inner calls
 * included), the last two from `INFO commandstats` deltas (server-wide), and the CPU time per
 * operation of this process (starters, worker and the no-op server) and of Redis (`INFO cpu`).
 * Modes: `queued` = start({ wait: 0 }) persists, a worker on another connection and durable
 * instance (as in another process) finds it by polling every BENCH_POLL ms (default 5) and
 * completes it; `local` = the same with the worker in the starting instance (woken at once);
 * `inline` = start({ wait: 2000 }) persists and completes it in the caller (the 200 path).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import { createDurable, redisDurableStore } from '@unfazed/client/durable';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const modes = (process.env['BENCH_MODES'] ?? 'baseline,queued,local,inline').split(',');
const concurrencies = (process.env['BENCH_CONCURRENCY'] ?? '1,32').split(',').map(Number);

/** Calls per command from INFO commandstats. */
async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    out.set(m[1] as string, Number(m[2]));
  return out;
}

/** CPU time used by the Redis server so far, µs. */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return Math.round((user + sys) * 1e6);
}

/** Commands sent by clients (round trips when not pipelined) and executed in all, since `before`. */
function roundTrips(
  before: Map<string, number>,
  after: Map<string, number>,
): { sent: number; executed: number; detail: string } {
  const sentCommands = new Set(['evalsha', 'eval', 'zcount']);
  let sent = 0;
  let executed = 0;
  const parts: string[] = [];
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d <= 0 || name === 'info') continue;
    executed += d;
    if (sentCommands.has(name)) sent += d;
    parts.push(`${name}=${d}`);
  }
  return { sent, executed, detail: parts.join(' ') };
}

async function main(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const results: string[] = [];
  // Baseline: the same calls without the queue, to read the queue's overhead on a busy machine.
  for (const concurrency of modes.includes('baseline') ? concurrencies : []) {
    const client = createClient({ baseUrl, breaker: false });
    let n = 0;
    const end = Date.now() + seconds * 1000;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) {
          const res = await client.request({ method: 'POST', path: '/noop', json: { n: n++ } });
          await res.text();
        }
      }),
    );
    const elapsed = (Date.now() - t0) / 1000;
    console.log(
      `baseline client.request concurrency ${String(concurrency).padStart(2)}: ${Math.round(n / elapsed)} calls/s`,
    );
    await client.close();
  }
  for (const mode of (['queued', 'local', 'inline'] as const).filter((m) => modes.includes(m))) {
    for (const concurrency of concurrencies) {
      const prefix = `bench:durable:${process.pid}:${mode}:${concurrency}:`;
      const starterRedis = new Redis(url);
      const workerRedis = new Redis(url, { maxRetriesPerRequest: null });
      const client = createClient({ baseUrl, breaker: false });
      const starter = createDurable({ client, store: redisDurableStore(starterRedis, { prefix }) });
      const workerSide =
        mode === 'local'
          ? starter
          : createDurable({ client, store: redisDurableStore(workerRedis, { prefix }) });
      const define = (d: typeof starter) =>
        d.operation<{ n: number }>('noop', {
          request: (input) => ({ method: 'POST', path: '/noop', json: input }),
        });
      const op = define(starter);
      if (workerSide !== starter) define(workerSide);
      const worker =
        mode !== 'inline'
          ? workerSide.startWorker({
              concurrency,
              pollInterval: Number(process.env['BENCH_POLL'] ?? 5),
            })
          : undefined;
      // Round trips as the clients see them: socket writes (a pipeline is one write).
      let writes = 0;
      for (const conn of [starterRedis, workerRedis]) {
        await conn.ping();
        const stream = (conn as unknown as { stream: { write: (...a: unknown[]) => boolean } })
          .stream;
        const write = stream.write.bind(stream);
        stream.write = (...a: unknown[]) => {
          writes++;
          return write(...a);
        };
      }
      const admin = new Redis(url);
      const before = await commandStats(admin);
      const redisCpuBefore = await redisCpu(admin);
      const cpuBefore = process.cpuUsage();
      let completed = 0;
      workerSide.events.on('succeeded', () => completed++);
      let started = 0;
      let inlineCompleted = 0;
      const end = Date.now() + seconds * 1000;
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (Date.now() < end) {
            const outcome = await op.start(
              { n: started++ },
              { wait: mode === 'inline' ? 2_000 : 0 },
            );
            if (outcome.status === 'completed') inlineCompleted++;
            // Queued mode: keep the backlog bounded so that we measure start+complete, not start alone.
            while (
              mode !== 'inline' &&
              started - completed > concurrency * 4 &&
              Date.now() < end + 5_000
            ) {
              await new Promise((r) => setTimeout(r, 1));
            }
          }
        }),
      );
      if (mode !== 'inline') {
        const drainEnd = Date.now() + 10_000;
        while (completed < started && Date.now() < drainEnd)
          await new Promise((r) => setTimeout(r, 5));
      }
      const elapsed = (Date.now() - t0) / 1000;
      const done = mode !== 'inline' ? completed : inlineCompleted;
      const cpu = process.cpuUsage(cpuBefore);
      const redisCpuUs = (await redisCpu(admin)) - redisCpuBefore;
      const trips = roundTrips(before, await commandStats(admin));
      admin.disconnect();
      results.push(
        `${mode.padEnd(6)} concurrency ${String(concurrency).padStart(2)}: ${Math.round(done / elapsed)} ops/s started+completed (${done} in ${elapsed.toFixed(1)} s); per op: ${(writes / done).toFixed(2)} round trips (socket writes), ${(trips.sent / done).toFixed(2)} scripts/commands sent, ${(trips.executed / done).toFixed(1)} executed; CPU µs per op: this process ${Math.round((cpu.user + cpu.system) / done)}, Redis ${Math.round(redisCpuUs / done)}`,
      );
      if (process.env['BENCH_DETAIL']) console.log(`  ${trips.detail}`);
      console.log(results[results.length - 1]);
      await worker?.stop();
      const keys = await starterRedis.keys(`${prefix}*`);
      for (let i = 0; i < keys.length; i += 500) await starterRedis.del(...keys.slice(i, i + 500));
      await client.close();
      starterRedis.disconnect();
      workerRedis.disconnect();
    }
  }
  server.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
