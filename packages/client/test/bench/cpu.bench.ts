/**
 * CPU cost of the client's own work per call, without a network: a stub Dispatcher answers at
 * once. Useful to see what a change to the call path costs, on a machine too busy for
 * requests/s figures. Not a test; run it by hand:
 *   npx tsx --conditions=@unfazed/source packages/client/test/bench/cpu.bench.ts
 */
import type { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { createClient } from '@unfazed/client';

const stub = {
  request: async (options: { signal?: EventEmitter }) => {
    // Do what undici does with the signal, so that its cost is counted.
    const onAbort = (): void => undefined;
    options.signal?.on('abort', onAbort);
    options.signal?.removeListener('abort', onAbort);
    const body = Object.assign(Readable.from([Buffer.from('{"ok":true}')]), {
      dump: async () => undefined,
    });
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body };
  },
} as unknown as Dispatcher;

async function bench(name: string, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20_000; i++) await fn();
  const n = 100_000;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const used = process.cpuUsage(cpu);
  console.log(`${name}: ${((used.user + used.system) / n).toFixed(2)} µs CPU per call`);
}

async function main(): Promise<void> {
  const client = createClient({ baseUrl: 'http://127.0.0.1:1', dispatcher: stub });
  await bench('stub dispatcher alone', () =>
    stub.request({ path: '/x', method: 'GET' } as Dispatcher.RequestOptions),
  );
  await bench('client GET', () => client.request({ path: '/x' }));
  const noBreaker = createClient({
    baseUrl: 'http://127.0.0.1:1',
    dispatcher: stub,
    breaker: false,
  });
  await bench('client GET, breaker: false', () => noBreaker.request({ path: '/x' }));
  await bench('client POST json (auto key)', () =>
    client.request({ method: 'POST', path: '/x', json: { a: 1 } }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
