import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from '@unfazed/client';
import { createDurable, type Durable, type DurableStore } from '@unfazed/client/durable';

/** A downstream answering every request with `status()` (404 by default: a final failure). */
export async function startDownstream(): Promise<{
  url: string;
  status: { value: number };
  close(): Promise<void>;
}> {
  const status = { value: 404 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status.value, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: status.value === 404 ? 'no such card' : 'ok' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    status,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Setup {
  durable: Durable;
  client: Client;
  charge: ReturnType<Durable['operation']>;
}

/** A durable instance with the `charge` type (POST /charge with the input), over `store`. */
export function setup(store: DurableStore, baseUrl: string): Setup {
  const client = createClient({ baseUrl, breaker: false });
  const durable = createDurable({ client, store, backoff: { initialMs: 10, maxMs: 10 } });
  const charge = durable.operation<unknown>('charge', {
    request: (input) => ({ method: 'POST', path: '/charge', json: input }),
    maxAttempts: 1,
    maxInputBytes: 10_000,
  });
  return { durable, client, charge };
}

/** A JSON request to the console. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  type: string; // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test responses are read freely
  json: any;
  text: string;
}> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(method === 'POST' ? { 'x-unfazed-ops': '1' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    json: text ? JSON.parse(text) : undefined,
    text,
  };
}
