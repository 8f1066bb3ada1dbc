// The durable retry queue on the user's own ioredis (5 or 6) through the packed client: an
// operation that cannot finish in the caller is answered `accepted`, a worker finishes it, every
// attempt carries the same Idempotency-Key, and the record is found again by its start key.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createClient } from '@unfazed/client';
import { createDurable, redisDurableStore } from '@unfazed/client/durable';
import { cleanUp, connectRedis, prefix } from './lib.mjs';

const { redis, version } = await connectRedis({ maxRetriesPerRequest: null });

// The downstream fails its first two attempts (503), then answers 201.
const keys = [];
const downstream = createServer((req, res) => {
  keys.push(req.headers['idempotency-key']);
  req.resume();
  req.on('end', () => {
    if (keys.length <= 2) res.writeHead(503, { 'retry-after': '0' }).end();
    else res.writeHead(201, { 'content-type': 'application/json' }).end('{"pass":"BP-1"}');
  });
});
await new Promise((resolve) => downstream.listen(0, '127.0.0.1', resolve));

const client = createClient({
  baseUrl: `http://127.0.0.1:${downstream.address().port}`,
  retry: { maxRetries: 0 },
});
const durable = createDurable({
  client,
  store: redisDurableStore(redis, { prefix: `${prefix}durable:`, partitions: 2 }),
  backoff: { initialMs: 20, maxMs: 50, jitter: 'none' },
});
const sendPass = durable.operation('send-boarding-pass', {
  request: (input) => ({ method: 'POST', path: '/passes', json: input }),
});
let worker;
try {
  const startKey = `consumer-${process.pid}-${Date.now()}`;
  const outcome = await sendPass.start({ booking: 'X1' }, { key: startKey, wait: 0 });
  assert.equal(outcome.status, 'accepted', 'wait: 0 answers accepted');
  worker = durable.startWorker({ concurrency: 2, pollInterval: 20 });
  const since = Date.now();
  let status;
  while (Date.now() - since < 10_000) {
    status = await durable.status(outcome.id);
    if (status?.state === 'completed') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(status?.state, 'completed', `the worker completed it (${JSON.stringify(status)})`);
  assert.equal(keys.length, 3, 'three attempts reached the downstream');
  assert.equal(new Set(keys).size, 1, `one Idempotency-Key on every attempt (${keys.join(', ')})`);
  const found = await sendPass.find(startKey);
  assert.equal(found?.id, outcome.id, 'find(key) gives the operation start created');
  console.log(`ok: durable on ioredis ${version}, ${keys.length} attempts`);
} finally {
  await worker?.stop();
  await client.close?.();
  downstream.close();
  await cleanUp(redis);
}
