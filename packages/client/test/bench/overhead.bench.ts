/**
 * Overhead of `client.request()` over a bare undici `Pool.request()` on loopback.
 *
 * Not a test: run it by hand (it takes about a minute):
 *   npx tsx --conditions=@unfazed/source packages/client/test/bench/overhead.bench.ts
 * Env: ROUNDS (default 5), DURATION_MS per round (default 3000), CONCURRENCY (default 64).
 *
 * The server runs in a child process (keep-alive, tiny JSON answer, never fails), so it does
 * not share the client's event loop. Rounds alternate raw / client to spread machine noise;
 * the figures are the medians of each side: requests/s, and this process's CPU time per request.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Pool } from 'undici';
import { createClient } from '@unfazed/client';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION_MS = Number(process.env.DURATION_MS ?? 3000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);

const SERVER = `
const http = require('node:http');
const body = JSON.stringify({ ok: true, id: 42 });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

type Send = () => Promise<void>;

interface Round {
  /** Requests per second. */
  readonly rps: number;
  /** CPU time of this process per request, in µs: less sensitive to a busy machine. */
  readonly cpuUs: number;
}

async function run(send: Send): Promise<Round> {
  let done = 0;
  const until = performance.now() + DURATION_MS;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await send();
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return {
    rps: done / ((performance.now() - started) / 1000),
    cpuUs: (used.user + used.system) / done,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const origin = `http://127.0.0.1:${chunk.toString().trim()}`;

  const pool = new Pool(origin, { connections: CONCURRENCY });
  const client = createClient({ baseUrl: origin, pool: { connections: CONCURRENCY } });

  const scenarios: Record<string, { raw: Send; client: Send }> = {
    'GET /item': {
      raw: async () => {
        const res = await pool.request({ path: '/item', method: 'GET' });
        await res.body.json();
      },
      client: async () => {
        const res = await client.request({ path: '/item' });
        await res.json();
      },
    },
    'POST /charges (JSON, auto Idempotency-Key)': {
      raw: async () => {
        const res = await pool.request({
          path: '/charges',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ amount: 42 }),
        });
        await res.body.json();
      },
      client: async () => {
        const res = await client.request({
          method: 'POST',
          path: '/charges',
          json: { amount: 42 },
        });
        await res.json();
      },
    },
  };

  console.log(
    `node ${process.version}, concurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds of ${DURATION_MS} ms each side`,
  );
  for (const [name, sides] of Object.entries(scenarios)) {
    // Warm up both paths (JIT, sockets).
    await run(sides.raw);
    await run(sides.client);
    const raw: Round[] = [];
    const wrapped: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      raw.push(await run(sides.raw));
      wrapped.push(await run(sides.client));
    }
    const r = median(raw.map((x) => x.rps));
    const c = median(wrapped.map((x) => x.rps));
    const rc = median(raw.map((x) => x.cpuUs));
    const cc = median(wrapped.map((x) => x.cpuUs));
    console.log(
      `${name}:\n  requests/s: undici Pool.request ${r.toFixed(0)}, client.request ${c.toFixed(0)}, ratio ${(c / r).toFixed(3)}` +
        `\n  CPU per request: undici ${rc.toFixed(1)} µs, client ${cc.toFixed(1)} µs (+${(cc - rc).toFixed(1)} µs)` +
        `\n  raw rounds (req/s):    ${raw.map((v) => v.rps.toFixed(0)).join(', ')}` +
        `\n  client rounds (req/s): ${wrapped.map((v) => v.rps.toFixed(0)).join(', ')}`,
    );
  }

  await client.close();
  await pool.close();
  child.kill();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
