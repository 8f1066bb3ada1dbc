/**
 * A durable worker process (Redis mode): works the check-in and payment sagas of a run until
 * its parent says stop — or until it is killed, which is the point of `--crash`.
 */
import { Redis } from 'ioredis';
import { redisDurableStore } from '@unfazed/client/durable';
import { PREFIXES, WORKER_CONFIG_ENV, type FrozenMessage, type WorkerConfig } from './config.js';
import { redisCreditLedger } from './credit-ledger.js';
import { observe, type DemoEvent } from './events.js';
import { checkInQueue, paymentQueue } from './operations.js';
import { PARTITIONS, queueConnection } from './stores.js';
import { targetNames } from './targets.js';

/** Messages a worker sends its parent. */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'event'; readonly event: DemoEvent }
  | FrozenMessage;

const raw = process.env[WORKER_CONFIG_ENV];
if (raw === undefined || process.send === undefined) {
  console.error(
    `worker.ts is started by main.ts (it needs ${WORKER_CONFIG_ENV} and an IPC channel)`,
  );
  process.exit(2);
}
const config = JSON.parse(raw) as WorkerConfig;
const send = (message: WorkerMessage): void => {
  if (process.connected) process.send?.(message);
};
const redis = queueConnection(config.redisUrl);
// The payment service's credit ledger, which the payment saga's local steps write here too.
const ledgerConnection = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
const report = (event: DemoEvent): void => send({ type: 'event', event });
const checkIn = checkInQueue(
  redisDurableStore(redis, {
    prefix: `${config.redisPrefix}${PREFIXES.checkInQueue}`,
    partitions: PARTITIONS,
  }),
  config.urls,
  config.timing,
);
const payment = paymentQueue(
  redisDurableStore(redis, {
    prefix: `${config.redisPrefix}${PREFIXES.paymentQueue}`,
    partitions: PARTITIONS,
  }),
  config.urls,
  config.timing,
  redisCreditLedger(
    ledgerConnection,
    `${config.redisPrefix}${PREFIXES.credit}`,
    config.initialCredit,
  ),
  (text, tone) => report({ kind: 'credit', text, ...(tone ? { tone } : {}), process: config.name }),
);
const targets = targetNames(config.urls);
observe(checkIn.durable, checkIn.client, config.name, targets, report);
observe(payment.durable, payment.client, config.name, targets, report);

// `--crash`: the queue emits `attempt` after a step's call and before it journals the result.
// Freezing there (the message to the parent is written synchronously first) leaves the saga
// leased by a worker that is about to be killed, with the downstream's work done: the worst
// moment. Its successor sends the step again with the same key.
let armedAt: number | undefined;
for (const durable of [checkIn.durable, payment.durable]) {
  durable.events.on('attempt', (e) => {
    if (armedAt === undefined || e.status === undefined || e.status >= 300) return;
    const step = e.step ?? e.type;
    const pure = step === 'generate-barcode';
    if (pure && Date.now() - armedAt < config.sideEffectsFirstMs) return;
    armedAt = undefined;
    send({ type: 'frozen', id: e.id, saga: e.type, step, status: e.status });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
  });
}

const workers = [
  checkIn.durable.startWorker({ concurrency: 8, pollInterval: 50, name: config.name }),
  payment.durable.startWorker({ concurrency: 8, pollInterval: 50, name: config.name }),
];

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(workers.map((w) => w.stop({ timeout: 2_000 })));
  await Promise.allSettled([checkIn.client.close(), payment.client.close()]);
  await Promise.allSettled([redis.quit(), ledgerConnection.quit()]);
  process.exit(0);
}
process.on('message', (message: { type?: string }) => {
  if (message.type === 'stop') void stop();
  if (message.type === 'arm' && config.freezeAfterFirstSuccess) armedAt = Date.now();
});
// The parent is gone (it crashed or was killed): do not linger.
process.on('disconnect', () => void stop());
redis.ping().then(
  () => send({ type: 'ready' }),
  (error: unknown) => {
    console.error(`worker ${config.name}: cannot reach Redis: ${String(error)}`);
    process.exit(1);
  },
);
