import { Pool } from 'undici';
import { createClient } from '@unfazed/client';
import { closedLoop } from '../load.js';
import { alternate, atLeast, compare, series, type Variant } from '../rounds.js';
import type { Measure } from '../results.js';
import { startNoopServer } from '../servers/noop-server.js';
import { assertNoErrors, type SuiteEnv, type SuiteOutput } from '../suite.js';

const BODY = JSON.stringify({ amount: 42, currency: 'EUR' });

/**
 * Suite 1: `client.request` with every policy on (total and attempt timeouts, retry, circuit
 * breaker closed, automatic Idempotency-Key) against a raw undici `Pool.request` carrying the
 * same POST, to one keep-alive no-op server in another process, at each concurrency.
 */
export async function clientOverhead(env: SuiteEnv): Promise<SuiteOutput> {
  const s = env.settings.client;
  const perRound = (s.durationMs + s.warmupMs) * 2 * s.concurrency.length;
  const server = await startNoopServer(perRound * env.settings.rounds + 60_000);
  const measures: Measure[] = [];
  try {
    for (const concurrency of s.concurrency) {
      const pool = new Pool(server.origin, { connections: concurrency });
      const client = createClient({ baseUrl: server.origin, pool: { connections: concurrency } });
      try {
        const raw: Variant = {
          name: 'raw undici Pool.request',
          async run() {
            const r = await closedLoop(
              async () => {
                const res = await pool.request({
                  path: '/charges',
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body: BODY,
                });
                await res.body.text();
                if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
              },
              { concurrency, durationMs: s.durationMs, warmupMs: s.warmupMs },
            );
            assertNoErrors(`raw undici c=${concurrency}`, r);
            return { rps: r.perSecond, p50: r.p50, p99: r.p99, cpu: r.cpuPerOp };
          },
        };
        const unfazed: Variant = {
          name: 'client.request (all policies)',
          async run() {
            const r = await closedLoop(
              async () => {
                const res = await client.request({
                  method: 'POST',
                  path: '/charges',
                  body: BODY,
                  headers: { 'content-type': 'application/json' },
                });
                await res.text();
                if (res.status !== 200) throw new Error(`status ${res.status}`);
              },
              { concurrency, durationMs: s.durationMs, warmupMs: s.warmupMs },
            );
            assertNoErrors(`client.request c=${concurrency}`, r);
            return { rps: r.perSecond, p50: r.p50, p99: r.p99, cpu: r.cpuPerOp };
          },
        };
        env.log(`client: c=${concurrency}, ${env.settings.rounds} rounds`);
        const results = await alternate([raw, unfazed], env.settings.rounds);
        const breaker = client.circuit(server.origin).state;
        if (breaker !== 'closed') throw new Error(`the circuit ended ${breaker}, not closed`);
        const row = (metric: string, unit: string, figure: string, target?: boolean): Measure =>
          compare({
            suite: 'client',
            scenario: `POST, c=${concurrency}`,
            metric,
            unit,
            baseline: { name: raw.name, values: series(results, raw.name, figure) },
            subject: { name: unfazed.name, values: series(results, unfazed.name, figure) },
            ...(target ? { target: atLeast(0.95, 'unfazed/raw') } : {}),
          });
        measures.push(
          row('requests/s', 'req/s', 'rps', concurrency === 64),
          row('p50 latency', 'ms', 'p50'),
          row('p99 latency', 'ms', 'p99'),
          row('CPU per request (calling process)', 'µs', 'cpu'),
        );
      } finally {
        await client.close();
        await pool.close();
      }
    }
  } finally {
    await server.close();
  }
  return {
    measures,
    notes: [
      'Both sides send the same POST with a JSON body over one undici Pool per side with `connections` = concurrency; the client adds what it adds by default (an Idempotency-Key, timeouts, retry, breaker).',
      'The no-op server runs in its own process; the figures are the cost in the calling process.',
      'Latency ratios are unfazed/raw too: above 1 means slower. CPU per request is user + system time of this process over the whole load (warm-up included) per finished request: less sensitive to a busy machine than requests/s.',
    ],
  };
}
