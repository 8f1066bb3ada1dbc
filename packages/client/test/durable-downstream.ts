import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the test downstream received. */
export interface SeenRequest {
  readonly n: number;
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly key: string | undefined;
  readonly body: string;
}

/** What the scripted handler answers. */
export interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Delay before answering, ms. */
  readonly delay?: number;
}

/** A loopback HTTP downstream for durable tests: scripted answers, recorded requests and effects. */
export interface Downstream {
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Effects applied (2xx answers given), by idempotency key. */
  readonly effects: Map<string, number>;
  /** Highest number of requests in flight at once. */
  readonly maxConcurrent: number;
  close(): Promise<void>;
}

/** Starts a downstream whose `script(request)` decides each answer; 2xx answers count as an effect. */
export async function startDownstream(script: (req: SeenRequest) => Answer): Promise<Downstream> {
  const requests: SeenRequest[] = [];
  const effects = new Map<string, number>();
  let inFlight = 0;
  const timers = new Set<NodeJS.Timeout>();
  let maxConcurrent = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      inFlight++;
      maxConcurrent = Math.max(maxConcurrent, inFlight);
      const raw = req.headers['idempotency-key'];
      const key = typeof raw === 'string' ? raw.replace(/^"|"$/g, '') : undefined;
      const seen: SeenRequest = {
        n: requests.length + 1,
        at: Date.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        key,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      const answer = script(seen);
      const send = (): void => {
        inFlight--;
        if (res.destroyed) return;
        if (answer.status >= 200 && answer.status < 300 && key !== undefined) {
          effects.set(key, (effects.get(key) ?? 0) + 1);
        }
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(JSON.stringify(answer.body ?? { n: seen.n }));
      };
      if (answer.delay) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, answer.delay);
        timers.add(timer);
      } else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    effects,
    get maxConcurrent() {
      return maxConcurrent;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` every 10 ms until it returns true, or throws after `timeout` ms naming `what`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeout = 5_000,
): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A seeded PRNG (mulberry32) in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
