import { Pool } from 'undici';
import { createClient } from '@unfazed/client';
import { closedLoop } from '../load.js';
import { cockatielPeer, opossumPeer, type ClientPeer } from '../client-peers.js';
import { above, alternate, atLeast, atMost, compare, series, type Variant } from '../rounds.js';
import type { Measure, Target } from '../results.js';
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
  const perRound = (s.durationMs + s.warmupMs) * 4 * s.concurrency.length;
  const server = await startNoopServer(perRound * env.settings.rounds + 60_000);
  const measures: Measure[] = [];
  try {
    for (const concurrency of s.concurrency) {
      const pool = new Pool(server.origin, { connections: concurrency });
      const client = createClient({ baseUrl: server.origin, pool: { connections: concurrency } });
      // Each peer has a Pool of its own, as each side of the raw comparison has.
      const peerPools = [0, 1].map(() => new Pool(server.origin, { connections: concurrency }));
      const peers: ClientPeer[] = [
        cockatielPeer(peerPools[0] as Pool),
        opossumPeer(peerPools[1] as Pool),
      ];
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
        const peerVariants = peers.map((peer): Variant => ({
          name: peer.name,
          async run() {
            const r = await closedLoop(
              async () => {
                const status = await peer.call('/charges', BODY);
                if (status !== 200) throw new Error(`status ${status}`);
              },
              { concurrency, durationMs: s.durationMs, warmupMs: s.warmupMs },
            );
            assertNoErrors(`${peer.name} c=${concurrency}`, r);
            return { rps: r.perSecond, p50: r.p50, p99: r.p99, cpu: r.cpuPerOp };
          },
        }));
        env.log(
          `client: c=${concurrency}, ${2 + peers.length} variants × ${env.settings.rounds} rounds`,
        );
        const results = await alternate([raw, unfazed, ...peerVariants], env.settings.rounds);
        const breaker = client.circuit(server.origin).state;
        if (breaker !== 'closed') throw new Error(`the circuit ended ${breaker}, not closed`);
        const row = (
          metric: string,
          unit: string,
          figure: string,
          target?: (v: number) => Target,
          baseline = raw.name,
          scenario = `POST, c=${concurrency}`,
        ): Measure =>
          compare({
            suite: 'client',
            scenario,
            metric,
            unit,
            baseline: { name: baseline, values: series(results, baseline, figure) },
            subject: { name: unfazed.name, values: series(results, unfazed.name, figure) },
            ...(target ? { target } : {}),
          });
        const c64 = concurrency === 64;
        measures.push(
          row('requests/s', 'req/s', 'rps', c64 ? atLeast(0.95, 'unfazed/raw') : undefined),
          row('p50 latency', 'ms', 'p50'),
          row('p99 latency', 'ms', 'p99', c64 ? atMost(1.3, 'unfazed/raw') : undefined),
          row('CPU per request (calling process)', 'µs', 'cpu'),
        );
        for (const peer of peers) {
          const scenario = `POST vs ${peer.name}, c=${concurrency}`;
          measures.push(
            row('requests/s', 'req/s', 'rps', above(1, 'unfazed/peer'), peer.name, scenario),
            row('p99 latency', 'ms', 'p99', undefined, peer.name, scenario),
            row('CPU per request (calling process)', 'µs', 'cpu', undefined, peer.name, scenario),
          );
        }
      } finally {
        await client.close();
        await pool.close();
        for (const peer of peers) await peer.close().catch(() => undefined);
        await Promise.all(peerPools.map((p) => p.close()));
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
      "Peers, what a user builds without us around the same undici `Pool.request` (a Pool of their own each, `connections` = c): undici wrapped by hand in cockatiel 3 (`wrap(timeout 30 s, retry 3× exponential from 500 ms, circuit breaker SamplingBreaker 50 % over 30 s, half-open after 5 s, timeout 10 s)`, as the client's defaults) and opossum 9 around undici (timeout 10 s, 50 % errors over 30 s, reset 5 s; opossum has no retry). Both send the same POST, with a fresh UUID `Idempotency-Key` kept across retries. Unfazed must be faster than both (ratio unfazed/peer > 1 for requests/s). opossum 10 needs Node ≥ 22, so 9.0.0 (Node 20) is used.",
      'Latency ratios are unfazed/raw too: above 1 means slower. CPU per request is user + system time of this process over the whole load (warm-up included) per finished request: less sensitive to a busy machine than requests/s.',
    ],
  };
}
