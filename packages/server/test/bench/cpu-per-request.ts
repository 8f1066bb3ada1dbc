/**
 * Server CPU µs per request and requests/s of Fastify bare vs with the plugin (memory, Redis),
 * server in a child process, load from this process (keep-alive node:http Agent, new key per request), in
 * alternating rounds; prints medians. `ROUNDS=5 SECONDS=3 MODES=bare,memory,redis npx tsx
 * --conditions=@unfazed/source packages/server/test/bench/cpu-per-request.ts`
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { Agent, request } from 'node:http';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const MODES = (process.env.MODES ?? 'bare,memory,redis').split(',');
const server = join(dirname(process.argv[1] ?? '.'), 'cpu-server.ts');

interface Round {
  rps: number;
  us: number;
}

async function round(mode: string): Promise<Round> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@unfazed/source',
      ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
      server,
    ],
    { env: { ...process.env, MODE: mode }, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const it = lines[Symbol.asyncIterator]();
  const port = Number((await it.next()).value);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  const drive = async (ms: number): Promise<number> => {
    const until = Date.now() + ms;
    let n = 0;
    const worker = async (): Promise<void> => {
      while (Date.now() < until) {
        const status = await call(
          'POST',
          '/charges',
          {
            'content-type': 'application/json',
            'content-length': '13',
            'idempotency-key': `"${randomUUID()}"`,
          },
          '{"amount":42}',
        );
        if (status === 200) n++;
        else throw new Error(`status ${status}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return n;
  };
  await drive(1000); // warm-up
  await call('GET', '/reset', {});
  const started = Date.now();
  const n = await drive(SECONDS * 1000);
  const rps = n / ((Date.now() - started) / 1000);
  agent.destroy();
  child.stdin.end();
  let result: { usPerRequest: number } | undefined;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    const line = String(r.value);
    if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as { usPerRequest: number };
  }
  return { rps, us: result?.usPerRequest ?? NaN };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

async function main(): Promise<void> {
  const all = new Map<string, Round[]>(MODES.map((m) => [m, []]));
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of MODES) {
      const r = await round(mode);
      all.get(mode)?.push(r);
      console.error(
        `round ${i + 1} ${mode}: ${Math.round(r.rps)} req/s, ${r.us.toFixed(1)} µs/req`,
      );
    }
  }
  const bare = all.get('bare') ?? [];
  const bareUs = bare.map((r) => r.us);
  for (const [mode, rs] of all) {
    const ratios = rs.map((r, i) => r.rps / (bare[i]?.rps ?? NaN));
    console.log(
      `${mode.padEnd(7)} ${Math.round(median(rs.map((r) => r.rps)))} req/s, ` +
        `${median(rs.map((r) => r.us)).toFixed(1)} µs/req server CPU ` +
        `(over bare ${median(rs.map((r, i) => r.us - (bareUs[i] ?? NaN))).toFixed(1)}), ratio vs bare ${median(ratios).toFixed(2)} ` +
        `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
    );
  }
}

void main();
