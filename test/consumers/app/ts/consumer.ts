// A TypeScript service that uses both sides of Unfazed with the user's own ioredis, checked
// by `tsc --noEmit` under `nodenext` and under `bundler` resolution (strict,
// exactOptionalPropertyTypes). Never run: only type-checked.
import express from 'express';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { createClient } from '@unfazed/client';
import { createDurable, memoryDurableStore, redisDurableStore } from '@unfazed/client/durable';
import { memoryIdempotencyStore, redisIdempotencyStore } from '@unfazed/server';
import { idempotency } from '@unfazed/server/express';
import { createLedger, faultProxy, faultyServer } from '@unfazed/testing';
import { checkpoint } from '@unfazed/testing/checkpoint';

const redis = new Redis({ maxRetriesPerRequest: null });
const redis5 = new Redis5({ maxRetriesPerRequest: null });

// Both stores, one file, no renames; ioredis 6 and 5 clients both accepted.
const durableStore = redisDurableStore(redis);
const durableStore5 = redisDurableStore(redis5, { prefix: 'app:durable:' });
const idempotencyStore = redisIdempotencyStore(redis);
const idempotencyStore5 = redisIdempotencyStore(redis5, { prefix: 'app:idem:' });
const cluster = new Cluster([{ host: '127.0.0.1', port: 7000 }]);
const cluster5 = new Cluster5([{ host: '127.0.0.1', port: 7000 }]);
void [
  durableStore5,
  idempotencyStore5,
  redisDurableStore(cluster),
  redisIdempotencyStore(cluster),
  redisDurableStore(cluster5),
  redisIdempotencyStore(cluster5),
  memoryDurableStore(),
  memoryIdempotencyStore(),
];

const passes = createClient({ baseUrl: 'http://passes.internal' });
const durable = createDurable({ client: passes, store: durableStore });
const sendPass = durable.operation<{ booking: string }>('send-boarding-pass', {
  request: (input) => ({ method: 'POST', path: '/passes', json: input }),
  deadline: 6 * 3_600_000,
});

const app = express();
app.use(express.json());
app.post('/check-in', idempotency({ store: idempotencyStore }), async (req, res) => {
  // The middleware hands the handler the parsed key: no re-parsing of the sf-string header.
  const key: string | undefined = req.idempotencyKey;
  const outcome = await sendPass.start(
    { booking: String(req.body.booking) },
    { ...(key !== undefined ? { key } : {}), wait: 2_000 },
  );
  res.status(outcome.status === 'completed' ? 200 : 202).json({ status: outcome.status });
});

export async function testHelpers(): Promise<void> {
  const server = await faultyServer({});
  const proxy = await faultProxy({ upstream: { host: '127.0.0.1', port: 6379 } });
  const ledger = createLedger();
  void ledger;
  await checkpoint('after-charge');
  await proxy.close();
  await server.close();
}
