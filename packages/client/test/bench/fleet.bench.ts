/**
 * A/B of the closed path with the fleet-wide circuit and retry budget off / on (Redis at
 * `REDIS_URL`, default a redis-server this script starts), against a loopback origin: rounds
 * alternate A and B so drift hits both; each round reports latency (mean, p99) and CPU per call
 * (process.cpuUsage). Then the time instance B takes to open after instance A did (two clients,
 * two Redis connections, same process; the two-process figure is printed by
 * test/fleet-circuit.test.ts). Not a test; run it by hand:
 *   npx tsx --conditions=@unfazed/source packages/client/test/bench/fleet.bench.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createClient, sharedCircuit, sharedRetryBudget, type Client } from '@unfazed/client';
import { startRedisServer } from '@unfazed/testing';

const ROUNDS = 10;
const CALLS = 5_000;

async function main(): Promise<void> {
  const owned = process.env['REDIS_URL'] ? undefined : await startRedisServer();
  const url = process.env['REDIS_URL'] ?? (owned?.url as string);
  let failing = false;
  const server = createServer((_req, res) => {
    res.statusCode = failing ? 503 : 200;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const redis = new Redis(url);
  const off = createClient({ baseUrl: origin });
  const on = createClient({
    baseUrl: origin,
    breaker: { shared: sharedCircuit(redis, { prefix: 'bench:' }) },
    retry: { budget: { shared: sharedRetryBudget(redis, { prefix: 'bench:' }) } },
  });

  const round = async (client: Client): Promise<{ mean: number; p99: number; cpu: number }> => {
    const times: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      await (await client.request({ path: '/' })).text();
      times.push(performance.now() - t);
    }
    const used = process.cpuUsage(cpu);
    times.sort((x, y) => x - y);
    return {
      mean: (times.reduce((s, x) => s + x, 0) / CALLS) * 1000,
      p99: (times[Math.floor(CALLS * 0.99)] ?? 0) * 1000,
      cpu: (used.user + used.system) / CALLS,
    };
  };
  await round(off);
  await round(on);
  const rows: Record<'off' | 'on', { mean: number; p99: number; cpu: number }[]> = {
    off: [],
    on: [],
  };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    for (const name of order) rows[name].push(await round(name === 'on' ? on : off));
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const name of ['off', 'on'] as const) {
    const r = rows[name];
    console.log(
      `shared ${name.padEnd(3)}: mean ${median(r.map((x) => x.mean)).toFixed(1)} µs, p99 ${median(r.map((x) => x.p99)).toFixed(1)} µs, CPU ${median(r.map((x) => x.cpu)).toFixed(1)} µs/call (median of ${ROUNDS} rounds of ${CALLS})`,
    );
  }

  // B opens after A: A's circuit opens on 4 failures; B learns it over pub/sub.
  const lags: number[] = [];
  for (let i = 0; i < 20; i++) {
    const make = (r: Redis): Client =>
      createClient({
        baseUrl: origin,
        retry: { maxRetries: 0 },
        breaker: {
          minimumCalls: 4,
          windowMs: 20_000,
          openMs: 5_000,
          shared: sharedCircuit(r, { prefix: `lag${i}:` }),
        },
      });
    const [ra, rb] = [new Redis(url), new Redis(url)];
    const [a, b] = [make(ra), make(rb)];
    await new Promise((r) => setTimeout(r, 100)); // subscribers connected
    let openedA = 0;
    const followed = new Promise<number>((resolve) =>
      b.on('shared-circuit', (e) => e.action === 'opened' && resolve(performance.now())),
    );
    a.on('circuit', (e) => {
      if (e.to === 'open') openedA = performance.now();
    });
    failing = true;
    for (let k = 0; k < 4; k++) await a.request({ path: '/' }).catch(() => undefined);
    lags.push((await followed) - openedA);
    failing = false;
    await Promise.all([a.close(), b.close()]);
    ra.disconnect();
    rb.disconnect();
  }
  lags.sort((x, y) => x - y);
  console.log(
    `B open after A: median ${(lags[10] ?? 0).toFixed(2)} ms, max ${(lags[19] ?? 0).toFixed(2)} ms (20 runs, one process, two Redis connections)`,
  );
  await Promise.all([off.close(), on.close()]);
  redis.disconnect();
  server.close();
  await owned?.close();
}

void main();
