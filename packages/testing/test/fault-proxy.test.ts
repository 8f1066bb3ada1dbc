import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  faultProxy,
  faults,
  isUnsupportedFaultError,
  plans,
  type FaultProxy,
} from '@unfazed/testing';
import { abortWhen, observe } from './observe.js';

// An HTTP server that records what it handled, and a TCP server that answers every chunk
// with `size` bytes and then ends (for byte-level checks).
let http: HttpServer;
let httpPort: number;
const handled: string[] = [];
let tcp: Server;
let tcpPort: number;
const tcpSockets = new Set<Socket>();

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      handled.push(`${req.method} ${req.url}`);
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? '20');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('y'.repeat(size));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  httpPort = (http.address() as AddressInfo).port;
  tcp = createServer((socket) => {
    tcpSockets.add(socket);
    socket.on('close', () => tcpSockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (chunk) => socket.end('z'.repeat(Number(chunk.toString()) || 1)));
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as AddressInfo).port;
});
afterAll(async () => {
  http.closeAllConnections();
  for (const s of tcpSockets) s.destroy();
  await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => tcp.close(r))]);
});

let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  handled.length = 0;
});

/** Sends `request` over raw TCP through the proxy; resolves with what came back and how it ended. */
function raw(port: number, request: string, timeoutMs = 2000) {
  return new Promise<{
    data: Buffer;
    chunks: number;
    ended: 'end' | 'error' | 'timeout';
    code?: string;
    ms: number;
  }>((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    const finish = (ended: 'end' | 'error' | 'timeout', code?: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({
        data: Buffer.concat(parts),
        chunks: parts.length,
        ended,
        ms: Date.now() - started,
        ...(code ? { code } : {}),
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (c: Buffer) => parts.push(c));
    socket.on('end', () => finish('end'));
    socket.on('error', (e: NodeJS.ErrnoException) => finish('error', e.code));
    socket.write(request);
  });
}

const startHttp = async (opts: Omit<Parameters<typeof faultProxy>[0], 'upstream'> = {}) =>
  (proxy = await faultProxy({ upstream: `127.0.0.1:${httpPort}`, ...opts }));
const startTcp = async (opts: Omit<Parameters<typeof faultProxy>[0], 'upstream'> = {}) =>
  (proxy = await faultProxy({ upstream: { host: '127.0.0.1', port: tcpPort }, ...opts }));

describe('faultProxy toxics', () => {
  it('forwards HTTP untouched', async () => {
    const p = await startHttp();
    expect(await observe(`${p.url()}/a`)).toMatchObject({ status: 200, body: 'y'.repeat(20) });
    expect(handled).toEqual(['GET /a']);
    expect(p.accepted).toBe(1);
  });

  it('latency (+jitter) delays answers; removing it at runtime restores speed', async () => {
    const p = await startHttp({ seed: 5 });
    const toxic = p.addToxic({ type: 'latency', latency: 600, jitter: 20 });
    expect(toxic).toMatchObject({ name: 'latency_downstream', stream: 'downstream', toxicity: 1 });
    let started = Date.now();
    expect(await observe(`${p.url()}/slow`)).toMatchObject({ status: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(570);
    expect(p.removeToxic('latency_downstream')).toBe(true);
    expect(p.removeToxic('latency_downstream')).toBe(false);
    started = Date.now();
    expect(await observe(`${p.url()}/fast`)).toMatchObject({ status: 200 });
    // Generous: only proves the 600 ms delay is gone.
    expect(Date.now() - started).toBeLessThan(570);
  });

  it('bandwidth limits throughput', async () => {
    const p = await startTcp({ toxics: [{ type: 'bandwidth', rate: 8 }] });
    const result = await raw(p.port, '2048');
    expect(result).toMatchObject({ ended: 'end' });
    expect(result.data.length).toBe(2048);
    expect(result.ms).toBeGreaterThanOrEqual(200); // 2 KB at 8 KB/s = 250 ms
  });

  it('slowClose delays the FIN', async () => {
    const p = await startTcp({ toxics: [{ type: 'slowClose', delay: 200 }] });
    const result = await raw(p.port, '3');
    expect(result).toMatchObject({ ended: 'end', data: Buffer.from('zzz') });
    expect(result.ms).toBeGreaterThanOrEqual(180);
  });

  it('timeout 0 is a black hole: the server handles the request, nothing comes back', async () => {
    const p = await startHttp({ toxics: [{ type: 'timeout', timeout: 0 }] });
    const seen = await abortWhen(`${p.url()}/x`, () => handled.length === 1);
    expect(seen).toMatchObject({ kind: 'error', code: 'AbortError' });
    expect(handled).toEqual(['GET /x']);
  });

  it('timeout > 0 closes the connection after the timeout, dropping the data', async () => {
    const p = await startTcp({ toxics: [{ type: 'timeout', timeout: 100 }] });
    const result = await raw(p.port, '5');
    expect(result).toMatchObject({ ended: 'end', data: Buffer.alloc(0) });
    expect(result.ms).toBeGreaterThanOrEqual(80);
  });

  it('resetPeer resets the connection', async () => {
    const p = await startTcp();
    p.addToxic({ type: 'resetPeer', timeout: 50 });
    const result = await new Promise<string>((resolve) => {
      const socket = connect(p.port, '127.0.0.1');
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      socket.on('close', () => resolve('closed'));
    });
    expect(result).toBe('ECONNRESET');
  });

  it('slicer cuts data into small pieces', async () => {
    const p = await startTcp({
      toxics: [{ type: 'slicer', averageSize: 10, sizeVariation: 3, delay: 15 }],
    });
    const result = await raw(p.port, '100');
    expect(result.data.length).toBe(100);
    // A busy receiver may read slices that arrived together at once; most arrive apart.
    expect(result.chunks).toBeGreaterThanOrEqual(4);
  });

  it('limitData closes the connection after N bytes', async () => {
    const p = await startTcp({ toxics: [{ type: 'limitData', bytes: 10 }] });
    const result = await raw(p.port, '100');
    expect(result.data.length).toBe(10);
    expect(result.ended).not.toBe('timeout');
  });

  it('upstream toxics act on client → server data', async () => {
    const p = await startHttp({ toxics: [{ type: 'timeout', timeout: 0, stream: 'upstream' }] });
    expect(await observe(`${p.url()}/never`, { timeoutMs: 150 })).toMatchObject({ kind: 'error' });
    expect(handled).toEqual([]);
  });

  it('toxicity 0 never applies; toxics apply to already open connections', async () => {
    const p = await startTcp({ toxics: [{ type: 'limitData', bytes: 1, toxicity: 0 }] });
    expect((await raw(p.port, '50')).data.length).toBe(50);
    const socket = connect(p.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    while (p.connections < 1) await new Promise((r) => setTimeout(r, 5));
    p.addToxic({ type: 'resetPeer', timeout: 0 });
    const outcome = await new Promise<string>((resolve) => {
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      socket.on('close', () => resolve('closed'));
    });
    expect(outcome).toBe('ECONNRESET');
  });

  it('cut() drops open connections; new connections still work', async () => {
    const p = await startHttp({ plan: plans.times(1, faults.hang()) });
    const hung = observe(`${p.url()}/a`, { timeoutMs: 2000 });
    while (p.connections < 1) await new Promise((r) => setTimeout(r, 5));
    expect(p.cut()).toBe(1);
    expect(await hung).toMatchObject({ kind: 'error' });
    expect(await observe(`${p.url()}/b`)).toMatchObject({ status: 200 });
  });

  it('disable() refuses connections (ECONNREFUSED) until enable()', async () => {
    const p = await startHttp();
    await p.disable();
    expect(await observe(`${p.url()}/a`)).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
    await p.enable();
    expect(await observe(`${p.url()}/a`)).toMatchObject({ status: 200 });
  });

  it('jitter, slicing and toxicity are seeded: the replay hint names the seed', async () => {
    const p = await startTcp({ seed: 11, plan: plans.rate(0.5, faults.reset(), { seed: 12 }) });
    expect(p.replayHint()).toBe('replay with seeds=11,12 (pass each plan its { seed })');
    await expect(faultProxy({ upstream: `127.0.0.1:${tcpPort}`, seed: -1 })).rejects.toThrow(
      /Invalid option "seed"/,
    );
  });

  it('rejects bad toxics and upstreams, naming the option', async () => {
    const p = await startTcp();
    expect(() => p.addToxic({ type: 'latency', latency: -1 })).toThrow(/Invalid option "latency"/);
    expect(() => p.addToxic({ type: 'nope' } as never)).toThrow(/Invalid option "toxic.type"/);
    expect(() => p.addToxic({ type: 'slicer', averageSize: 2, sizeVariation: 2 })).toThrow(
      /sizeVariation/,
    );
    p.addToxic({ type: 'latency', latency: 1 });
    expect(() => p.addToxic({ type: 'latency', latency: 1 })).toThrow(/toxic.name/);
    await expect(faultProxy({ upstream: 'nowhere' })).rejects.toThrow(/Invalid option "upstream"/);
  });
});

describe('faultProxy plans (one call = one connection), labels vs. what the server saw', () => {
  it('reset (beforeSend): the caller gets a socket error, the server never saw it', async () => {
    const p = await startHttp({ plan: plans.times(1, faults.reset()) });
    const seen = await observe(`${p.url()}/a`);
    expect(seen).toMatchObject({ kind: 'error' });
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain((seen as { code: string }).code);
    expect(handled).toEqual([]);
    expect(await observe(`${p.url()}/a`)).toMatchObject({ status: 200 });
    p.assertAllFaultsFired();
  });

  it('lostResponse (afterSend): the server handled it, the caller gets a reset', async () => {
    const logged: string[] = [];
    const p = await startHttp({
      plan: plans.times(1, faults.lostResponse()),
      onFault: (event) => logged.push(`${event.transport} ${event.fault.kind} ${event.label}`),
    });
    const seen = await observe(`${p.url()}/a`);
    expect(seen).toMatchObject({ kind: 'error' });
    expect(handled).toEqual(['GET /a']);
    expect(p.events.map((e) => [e.attempt, e.label])).toEqual([[1, 'afterSend']]);
    expect(logged).toEqual(['proxy lostResponse afterSend']);
  });

  it('closeMidBody (midBody): status arrives, the body breaks; the server handled it', async () => {
    const p = await startHttp({ plan: plans.times(1, faults.closeMidBody({ afterBytes: 80 })) });
    const seen = await observe(`${p.url()}/a?size=500`);
    expect(seen).toMatchObject({ kind: 'error' });
    expect(handled).toHaveLength(1);
  });

  it('slowBody (midBody) and delay (afterSend) still deliver everything, late', async () => {
    const p = await startHttp({
      plan: plans.sequence([faults.slowBody({ chunkSize: 40, intervalMs: 20 }), faults.delay(120)]),
    });
    let started = Date.now();
    expect(await observe(`${p.url()}/a?size=200`)).toMatchObject({
      status: 200,
      body: 'y'.repeat(200),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
    started = Date.now();
    expect(await observe(`${p.url()}/b`)).toMatchObject({ status: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(handled).toHaveLength(2);
  });

  it('hang and delay (beforeSend): the server never saw a caller that gave up', async () => {
    const p = await startHttp({
      plan: plans.sequence([faults.hang(), faults.delay(300, { label: 'beforeSend' })]),
    });
    expect(await observe(`${p.url()}/a`, { timeoutMs: 100 })).toMatchObject({ kind: 'error' });
    expect(await observe(`${p.url()}/b`, { timeoutMs: 100 })).toMatchObject({ kind: 'error' });
    await new Promise((r) => setTimeout(r, 300));
    expect(handled).toEqual([]);
  });

  it('rejects plans with HTTP status faults', async () => {
    const error = await faultProxy({
      upstream: `127.0.0.1:${httpPort}`,
      plan: plans.times(1, faults.status(503)),
    }).catch((e: unknown) => e);
    expect(isUnsupportedFaultError(error)).toBe(true);
  });
});
