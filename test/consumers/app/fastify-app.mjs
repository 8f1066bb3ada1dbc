// A Fastify 5 app against real Redis through the packed packages, driven over real sockets or
// with app.inject() (how Fastify users test).
// argv: <mode: socket | inject> <compression: off | before (@fastify/compress registered before
//   the plugin) | after (registered after it) | handler (the handler sends a gzip body itself)>
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { idempotency } from '@unfazed/server/fastify';
import { redisIdempotencyStore } from '@unfazed/server';
import { cleanUp, connectRedis, expectStatus, key, padding, post, prefix, within } from './lib.mjs';

const [mode = 'socket', compressionFlag = 'off'] = process.argv.slice(2);
const { redis, version } = await connectRedis();

const app = Fastify();
const compress = (await import('@fastify/compress')).default;
if (compressionFlag === 'before') await app.register(compress, { threshold: 0 });
await app.register(idempotency, {
  store: redisIdempotencyStore(redis, { prefix }),
  maxBodyBytes: 8192,
});
if (compressionFlag === 'after') await app.register(compress, { threshold: 0 });
let runs = 0;
let open;
let gate = Promise.resolve();
app.post('/charges', async (req, reply) => {
  runs += 1;
  if (req.body?.slow) await gate;
  const body = { run: runs, amount: req.body?.amount, padding };
  if (compressionFlag !== 'handler') return reply.code(201).send(body);
  reply.code(201).type('application/json').header('content-encoding', 'gzip');
  return reply.send(gzipSync(JSON.stringify(body)));
});

let send;
if (mode === 'inject') {
  await app.ready();
  send = async (body, headers) => {
    const res = await app.inject({
      method: 'POST',
      url: '/charges',
      headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip', ...headers },
      payload: JSON.stringify(body),
    });
    const raw = res.rawPayload;
    const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString(
      'utf8',
    );
    return { status: res.statusCode, headers: new Headers(res.headers), text };
  };
} else {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  send = (body, headers) => post(`${address}/charges`, body, headers);
}

try {
  const k = key('fastify');
  // 409 while in flight: the first request waits in its handler until the gate opens.
  gate = new Promise((resolve) => (open = resolve));
  const firstPending = within(5_000, 'first keyed request', () =>
    send({ amount: 42, slow: true }, { 'idempotency-key': k }),
  );
  const since = Date.now();
  while (runs === 0 && Date.now() - since < 5_000) await new Promise((r) => setTimeout(r, 10));
  assert.equal(runs, 1, 'the first keyed request reached its handler');
  const inFlight = await within(5_000, 'request while in flight', () =>
    send({ amount: 42, slow: true }, { 'idempotency-key': k }),
  );
  expectStatus(inFlight, 409, 'same key while the first runs');
  assert.ok(inFlight.headers.get('retry-after'), '409 carries Retry-After');
  open();
  const first = await firstPending;
  expectStatus(first, 201, 'first keyed request');
  if (compressionFlag !== 'off')
    assert.equal(first.headers.get('content-encoding'), 'gzip', 'the first answer is gzip');

  const replay = await within(5_000, 'replay', () =>
    send({ amount: 42, slow: true }, { 'idempotency-key': k }),
  );
  expectStatus(replay, 201, 'replay');
  assert.equal(replay.headers.get('idempotent-replayed'), 'true', 'the retry is a replay');
  assert.equal(replay.text, first.text, 'the replay decodes to the first answer');
  assert.equal(runs, 1, 'the handler ran once');

  const other = await within(5_000, 'other body', () =>
    send({ amount: 43 }, { 'idempotency-key': k }),
  );
  expectStatus(other, 422, 'same key, different body');

  const big = await within(5_000, 'body over maxBodyBytes', () =>
    send({ amount: 1, padding: 'y'.repeat(10_000) }, { 'idempotency-key': key('big') }),
  );
  expectStatus(big, 413, 'keyed body over maxBodyBytes');
  assert.equal(runs, 1, 'the handler still ran once');
  console.log(`ok: fastify ${mode} compression ${compressionFlag} ioredis ${version}`);
} finally {
  await app.close();
  await cleanUp(redis);
}
