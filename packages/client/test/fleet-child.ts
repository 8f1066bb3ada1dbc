/**
 * One instance of a fleet, in its own process, for fleet-circuit.test.ts: a client with the
 * shared circuit on the Redis at `REDIS_URL`, calling `ORIGIN`. It reports its circuit and
 * shared-circuit events (with the epoch ms it saw them) and answers `request` / `status`
 * commands over IPC. Any uncaught error is reported, so the test can assert there was none.
 */
import { Redis } from 'ioredis';
import { createClient, sharedCircuit } from '@unfazed/client';

const send = (message: object): void => {
  process.send?.(message);
};
process.on('uncaughtException', (error) => send({ type: 'error', error: String(error) }));
process.on('unhandledRejection', (error) => send({ type: 'error', error: String(error) }));

const origin = process.env['ORIGIN'] as string;
const redis = new Redis(process.env['REDIS_URL'] as string, {
  maxRetriesPerRequest: 1,
  retryStrategy: () => 50,
});
// An outage is expected in one test: its errors are Redis's, never the calls'.
redis.on('error', () => undefined);
const openMs = Number(process.env['OPEN_MS'] ?? 600);
const client = createClient({
  baseUrl: origin,
  timeout: { attempt: 1000, total: 2000 },
  retry: { maxRetries: 0 },
  breaker: {
    failureRatio: 0.5,
    windowMs: 2000,
    minimumCalls: 4,
    openMs,
    openGrowth: 1,
    maxOpenMs: openMs,
    shared: sharedCircuit(redis, { prefix: process.env['PREFIX'] ?? 'fleet-test:' }),
  },
});
client.on('circuit', (e) => send({ type: 'circuit', ...e, at: Date.now() }));
client.on('shared-circuit', (e) => send({ type: 'shared', ...e, at: Date.now() }));

interface Command {
  readonly id: number;
  readonly cmd: 'request' | 'status' | 'close';
  readonly n?: number;
  readonly sequential?: boolean;
}

async function once(): Promise<string> {
  try {
    const res = await client.request({ path: '/work' });
    await res.text();
    return String(res.status);
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

process.on('message', (m: Command) => {
  void (async () => {
    if (m.cmd === 'request') {
      const n = m.n ?? 1;
      const results: string[] = [];
      if (m.sequential) for (let i = 0; i < n; i++) results.push(await once());
      else results.push(...(await Promise.all(Array.from({ length: n }, once))));
      send({ type: 'result', id: m.id, results });
    } else if (m.cmd === 'status') {
      send({ type: 'result', id: m.id, results: [client.circuit(origin).state] });
    } else {
      await client.close();
      redis.disconnect();
      send({ type: 'result', id: m.id, results: [] });
      process.disconnect();
    }
  })();
});
send({ type: 'ready' });
