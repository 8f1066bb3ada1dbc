/**
 * A durable worker process for the OpenTelemetry test: its own in-memory SDK; works the queue
 * until STOP_ON (`scheduled`: the first retry is scheduled; `succeeded`), then prints its
 * finished spans as one `SPANS <json>` line and exits. Environment: DOWNSTREAM_URL, REDIS_URL,
 * PREFIX, STOP_ON.
 */
import { Redis } from 'ioredis';
import { createClient } from '@unfazed/client';
import { createDurable, redisDurableStore } from '@unfazed/client/durable';
import { installOtel, spanJson } from './support/otel.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const otel = installOtel({ metrics: false });
const redis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
const client = createClient({ baseUrl: env('DOWNSTREAM_URL'), breaker: false });
const durable = createDurable({
  client,
  store: redisDurableStore(redis, { prefix: env('PREFIX') }),
  backoff: { initialMs: 30, maxMs: 60 },
});
durable.operation<{ order: string }>('charge', {
  request: (input) => ({ method: 'POST', path: '/charges', json: input }),
});
const worker = durable.startWorker({ pollInterval: 20, name: `child-${process.pid}` });
const stopOn = env('STOP_ON') as 'scheduled' | 'succeeded';
let stopping = false;
durable.events.on(stopOn, () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await worker.stop();
    console.log(`SPANS ${JSON.stringify(otel.spans().map(spanJson))}`);
    await otel.uninstall();
    await client.close();
    redis.disconnect();
    process.exit(0);
  })();
});
console.log('worker ready');
