/** Small HTTP helpers for the suite: fetch wrappers and a raw socket for malformed headers. */
import { connect } from 'node:net';

export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): unknown;
}

/** The headers `post` sends: JSON by default, the key as an sf-string, the user as `x-user`. */
export function requestHeaders(options: {
  key?: string | undefined;
  user?: string;
  headers?: Record<string, string>;
}): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...options.headers,
  };
  if (options.key !== undefined) headers['idempotency-key'] = `"${options.key}"`;
  if (options.user !== undefined) headers['x-user'] = options.user;
  return headers;
}

export async function post(
  url: string,
  path: string,
  options: {
    key?: string | undefined;
    body?: string | Buffer;
    user?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers = requestHeaders(options);
  const res = await fetch(url + path, {
    method: 'POST',
    headers,
    body: options.body ?? '{"amount":42}',
  });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    body,
    json: () => JSON.parse(body.toString()),
  };
}

/** Sends raw request bytes and returns the status, headers block and body of the answer. */
export function rawRequest(
  url: string,
  head: string,
  body = '',
): Promise<{ status: number; head: string; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [h = '', ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(h.split(' ')[1]), head: h, body: rest.join('\r\n\r\n') });
    });
    socket.write(
      Buffer.from(
        `${head}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        'latin1',
      ),
    );
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
