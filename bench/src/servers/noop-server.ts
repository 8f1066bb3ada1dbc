import { startChild, type ChildServer } from '../child.js';

/**
 * The downstream of the client and queue suites, as plain CommonJS for `node -e` so that it
 * runs in its own process (its CPU is not the measured process's): a keep-alive `node:http`
 * server answering `200 {"ok":true}` after reading the body. `/fail-once` answers 503 the first
 * time it sees an `Idempotency-Key` and 200 after, for the retry-lateness runs. It exits when
 * its stdin ends or after `maxMs`.
 */
const source = (maxMs: number): string => `
const http = require('node:http');
const OK = Buffer.from('{"ok":true}');
const BUSY = Buffer.from('busy');
let seen = new Set();
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    if (req.url.startsWith('/fail-once')) {
      const key = String(req.headers['idempotency-key'] || '');
      if (!seen.has(key)) {
        if (seen.size > 1000000) seen = new Set();
        seen.add(key);
        res.writeHead(503, { 'content-type': 'text/plain', 'content-length': BUSY.length });
        res.end(BUSY);
        return;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': OK.length });
    res.end(OK);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write('READY ' + JSON.stringify({ ports: { noop: server.address().port } }) + '\\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), ${maxMs}).unref();
`;

/** Starts the no-op downstream in a child process; it stops by itself after `maxMs`. */
export async function startNoopServer(maxMs: number): Promise<ChildServer & { origin: string }> {
  const child = await startChild(process.execPath, ['-e', source(Math.ceil(maxMs))]);
  return { ...child, close: () => child.close(), origin: `http://127.0.0.1:${child.ports.noop}` };
}
