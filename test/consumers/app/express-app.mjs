// An Express app wired the way users wire it, against real Redis through the packed packages.
// argv: <express module: express | express4> <order: json-first | middleware-first>
//   <compression: off | before (compression() mounted before idempotency()) | after (mounted
//   after it, on the route) | handler (the handler sends a gzip body itself)>
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { idempotency } from '@unfazed/server/express';
import { redisIdempotencyStore } from '@unfazed/server';
import { cleanUp, connectRedis, expectStatus, key, padding, post, prefix, within } from './lib.mjs';

const [expressModule = 'express', order = 'json-first', compressionFlag = 'off'] =
  process.argv.slice(2);
const express = (await import(expressModule)).default;
const { redis, version } = await connectRedis();

const app = express();
const compression = (await import('compression')).default;
if (compressionFlag === 'before') app.use(compression({ threshold: 0 }));
let runs = 0;
const keysSeen = [];
const handler = (req, res) => {
  runs += 1;
  keysSeen.push(req.idempotencyKey);
  const body = { run: runs, amount: req.body?.amount, padding };
  if (compressionFlag === 'handler') {
    res.status(201).type('application/json').set('content-encoding', 'gzip');
    res.send(gzipSync(JSON.stringify(body)));
  } else res.status(201).json(body);
};
const guard = idempotency({ store: redisIdempotencyStore(redis, { prefix }) });
if (order === 'json-first') {
  app.use(express.json());
  app.post('/charges', guard, handler);
} else {
  const after = compressionFlag === 'after' ? [compression({ threshold: 0 })] : [];
  app.post('/charges', guard, ...after, express.json(), handler);
}

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${server.address().port}/charges`;
try {
  const k = key('express');
  const first = await within(5_000, 'first keyed POST', () =>
    post(url, { amount: 42 }, { 'idempotency-key': k }),
  );
  expectStatus(first, 201, 'first keyed POST');
  if (compressionFlag !== 'off')
    assert.equal(first.headers.get('content-encoding'), 'gzip', 'the first answer is gzip');
  const retry = await within(5_000, 'retry', () =>
    post(url, { amount: 42 }, { 'idempotency-key': k }),
  );
  expectStatus(retry, 201, 'retry');
  assert.equal(retry.headers.get('idempotent-replayed'), 'true', 'the retry is a replay');
  assert.equal(retry.text, first.text, 'the replay decodes to the first answer');
  assert.equal(runs, 1, 'the handler ran once');
  const other = await within(5_000, 'other body', () =>
    post(url, { amount: 43 }, { 'idempotency-key': k }),
  );
  expectStatus(other, 422, 'same key, different body');
  assert.equal(runs, 1, 'the handler still ran once');
  // The compression cells check compression only; the others also check the parsed key.
  if (compressionFlag === 'off')
    assert.equal(keysSeen[0], k.slice(1, -1), 'req.idempotencyKey is the parsed key');
  console.log(`ok: ${expressModule} ${order} compression ${compressionFlag} ioredis ${version}`);
} finally {
  server.close();
  await cleanUp(redis);
}
